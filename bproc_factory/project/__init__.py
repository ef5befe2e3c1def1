"""Starting a project: a folder with a working scenario, the demo scene and assets, and presets; the
Blender add-on for the project's designers."""
from bproc_factory.facade import facade

__all__, __getattr__, __dir__ = facade(__name__, {
    "addon": ["AddonZip", "build_addon"],
    "starter": ["StarterProject", "init_project"],
})
