"""The bpy boundary: the only subpackage that imports ``bpy`` or ``blenderproc``. It mirrors a scene
plan in Blender (one module per kind of plan object: camera, lights, objects, world) and renders
its passes."""
from bproc_factory.facade import facade

__all__, __getattr__, __dir__ = facade(__name__, {
    "scene": ["inspect_scene"],
    "session": ["LabelMaps", "RenderSession", "versions"],
})
