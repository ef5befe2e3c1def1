"""bproc_factory's Blender add-on: mark a scene for the factory, check it and preview it, in Blender.

It needs only Blender's own Python and never imports the factory: what needs the factory runs the
``bproc-factory`` command as a background process. Built as a zip by ``bproc-factory addon``;
scenes/README.md documents it.
"""
bl_info = {
    "name": "bproc_factory",
    "author": "bproc_factory contributors",
    "version": (0, 1, 0),
    "blender": (4, 2, 0),
    "location": "3D Viewport > Sidebar > Factory",
    "description": "Mark scenes for the bproc_factory synthetic-data factory, check them and preview renders",
    "category": "3D View",
}

import bpy  # noqa: E402  (bl_info first: Blender reads it without importing)

from . import operators, overlay, panel, runner  # noqa: E402

_handles: list = []


@bpy.app.handlers.persistent
def _scene_changed(scene: bpy.types.Scene, depsgraph: bpy.types.Depsgraph) -> None:
    """Flag the last check as out of date when an object moves or a mesh is edited."""
    if operators.STATE.status is not None and any(u.is_updated_transform or u.is_updated_geometry
                                                  for u in depsgraph.updates):
        operators.STATE.stale = True


@bpy.app.handlers.persistent
def _file_loaded(*_args) -> None:
    """A newly opened file has not been checked."""
    operators.STATE.status, operators.STATE.stale, operators.STATE.preview = None, False, ""


def register() -> None:
    for cls in (*panel.CLASSES, *operators.CLASSES):
        bpy.utils.register_class(cls)
    bpy.types.Scene.bpf_preview = bpy.props.PointerProperty(type=panel.BPF_PreviewSettings)
    bpy.types.WindowManager.bpf_show_overlays = bpy.props.BoolProperty(
        name="Overlays", default=True, description="Show the last check's placement areas, camera target and "
                                                   "camera regions in the viewport")
    _handles.append(bpy.types.SpaceView3D.draw_handler_add(overlay.draw, (operators.STATE,), "WINDOW",
                                                            "POST_VIEW"))
    _handles.append(bpy.types.SpaceView3D.draw_handler_add(overlay.draw_labels, (operators.STATE,), "WINDOW",
                                                            "POST_PIXEL"))
    bpy.app.handlers.depsgraph_update_post.append(_scene_changed)
    bpy.app.handlers.load_post.append(_file_loaded)


def unregister() -> None:
    runner.cancel_all()
    bpy.app.handlers.load_post.remove(_file_loaded)
    bpy.app.handlers.depsgraph_update_post.remove(_scene_changed)
    while _handles:
        bpy.types.SpaceView3D.draw_handler_remove(_handles.pop(), "WINDOW")
    del bpy.types.WindowManager.bpf_show_overlays
    del bpy.types.Scene.bpf_preview
    for cls in reversed((*panel.CLASSES, *operators.CLASSES)):
        bpy.utils.unregister_class(cls)
