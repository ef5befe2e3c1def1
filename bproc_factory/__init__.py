"""bproc_factory: a synthetic-data factory for computer vision on Blender and BlenderProc."""

__version__ = "0.1.0"
