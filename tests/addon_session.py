"""A designer's session with the add-on, run by tests/test_addon.py in a child process with the bpy wheel.

Usage: python addon_session.py ZIP EXECUTABLE FOLDER [--preview]. It installs ZIP through Blender's own
add-on install operator (into BLENDER_USER_SCRIPTS, set by the test), enables it, builds a small scene,
runs the operators and writes what it saw to FOLDER/session.json, with the scenes it saved in FOLDER.
"""
import json
import os
import sys
import traceback

import bpy

zip_path, executable, folder = sys.argv[1:4]
seen: dict = {}


def select(*objects: bpy.types.Object) -> None:
    bpy.ops.object.select_all(action="DESELECT")
    for obj in objects:
        obj.select_set(True)
    bpy.context.view_layer.objects.active = objects[0]


def run(op, *args, **kwargs) -> str:
    """An operator's result, or its error report (Blender raises the report as RuntimeError)."""
    try:
        return sorted(op(*args, **kwargs))[0]
    except RuntimeError as exc:
        return f"error: {str(exc).strip()}"


def snapshot() -> dict:
    """What marking may change: every object's collections, display type, render visibility and keys."""
    return {o.name: {"collections": sorted(c.name for c in o.users_collection), "display": o.display_type,
                     "hide_render": o.hide_render, "keys": sorted(o.keys())} for o in bpy.data.objects} | {
        "collections": sorted(c.name for c in bpy.data.collections)}


def add(kind: str, name: str, **kwargs) -> bpy.types.Object:
    adders = {"plane": bpy.ops.mesh.primitive_plane_add, "cube": bpy.ops.mesh.primitive_cube_add,
              "light": bpy.ops.object.light_add, "empty": bpy.ops.object.empty_add}
    adders[kind](**kwargs)
    obj = bpy.context.active_object
    obj.name = name
    return obj


def marking_session() -> None:
    furniture = bpy.data.collections.new("furniture")
    bpy.context.scene.collection.children.link(furniture)
    table = add("plane", "table", size=1.0, location=(0.2, 0.0, 0.75))
    for c in table.users_collection:
        c.objects.unlink(table)
    furniture.objects.link(table)
    aim = add("empty", "aim", location=(0.2, 0.1, 0.8))
    room = add("cube", "room", size=3.0, location=(0.0, 0.0, 1.5))
    wall = add("cube", "wall", size=0.2, location=(1.0, 0.0, 0.5))
    vase = add("cube", "vase", size=0.1, location=(-1.0, 0.0, 0.05))
    lamp = add("light", "lamp", type="AREA", location=(0.0, 0.0, 2.5))
    floor = add("plane", "floor", size=3.0)
    floor.data.materials.append(bpy.data.materials.new("floor_paint"))
    seen["before"] = snapshot()

    marks = {"placement": [table], "camera_target": [aim], "camera_region": [room], "occluders": [wall],
             "props": [vase], "lights": [lamp], "materials": [floor]}
    seen["mark"] = {}
    for role, objects in marks.items():
        select(*objects)
        seen["mark"][role] = run(bpy.ops.bpf.mark, role=role)
    before_refusals = snapshot()
    select(lamp)
    seen["refused_light_as_placement"] = run(bpy.ops.bpf.mark, role="placement")
    select(vase)
    seen["refused_surface_without_material"] = run(bpy.ops.bpf.mark, role="materials")
    select(aim, vase)
    seen["refused_two_targets"] = run(bpy.ops.bpf.mark, role="camera_target")
    seen["refusals_changed_nothing"] = snapshot() == before_refusals
    seen["region_display"] = [room.display_type, room.hide_render]

    import bproc_factory_addon
    state = bproc_factory_addon.operators.STATE
    seen["module_file"] = bproc_factory_addon.__file__
    seen["check"] = run(bpy.ops.bpf.check)
    seen["status"] = {"ok": state.status.ok, "errors": state.status.errors, "warnings": state.status.warnings,
                      "marks": state.status.marks}
    checked = state.status
    seen["invoked_check"] = run(bpy.ops.bpf.check, "INVOKE_DEFAULT")  # background Blender has no event loop:
    seen["invoked_check_same"] = state.status is not checked and state.status.marks == checked.marks  # runs now
    lines = bproc_factory_addon.overlay.overlay_lines(state.status.marks)
    seen["overlay"] = {"placement": lines.placement, "target": lines.target, "regions": lines.regions,
                       "labels": [[label.text, label.point, label.kind] for label in lines.labels]}
    seen["stale_after_check"] = state.stale
    vase.location.x += 0.1  # a prop: the marks stay as checked
    bpy.context.view_layer.update()
    seen["stale_after_moving"] = state.stale
    bpy.ops.wm.save_as_mainfile(filepath=os.path.join(folder, "marked.blend"))

    select(aim)  # a new camera target replaces the old one
    target2 = add("empty", "aim2", location=(0.0, 0.0, 1.0))
    select(target2)
    seen["replace_target"] = run(bpy.ops.bpf.mark, role="camera_target")
    seen["targets_after_replace"] = sorted(o.name for o in bpy.data.collections["bpf_camera_target"].objects)
    select(target2)
    run(bpy.ops.bpf.unmark, role="ALL")
    bpy.data.objects.remove(target2)
    select(aim)
    run(bpy.ops.bpf.mark, role="camera_target")

    select(table, aim, room, wall, vase, lamp, floor)
    seen["unmark"] = run(bpy.ops.bpf.unmark, role="ALL")
    seen["after_unmark"] = snapshot()
    bpy.ops.wm.save_as_mainfile(filepath=os.path.join(folder, "unmarked.blend"))

    # a broken scene, marked by hand (the operators refuse these): two targets, a mesh among the lights
    bpy.ops.wm.read_homefile(use_empty=True)  # a new file; the preferences (and the add-on) stay
    cols = {n: bpy.data.collections.new(n) for n in ("bpf_placement", "bpf_camera_target", "bpf_lights")}
    for c in cols.values():
        bpy.context.scene.collection.children.link(c)
    cols["bpf_placement"].objects.link(add("plane", "top", size=1.0))
    for k in range(2):
        cols["bpf_camera_target"].objects.link(add("empty", f"t{k}"))
    cols["bpf_lights"].objects.link(add("cube", "box", size=0.2))
    bpy.ops.wm.save_as_mainfile(filepath=os.path.join(folder, "broken.blend"))
    seen["broken_check"] = run(bpy.ops.bpf.check)
    seen["broken_status"] = {"ok": state.status.ok, "errors": state.status.errors, "file": state.status.file}

    bpy.context.preferences.addons["bproc_factory_addon"].preferences.executable = os.path.join(folder, "nope")
    seen["missing_executable"] = run(bpy.ops.bpf.check)


def preview_session() -> None:
    import bproc_factory_addon
    add("plane", "floor", size=4.0)
    top = add("cube", "pedestal", size=1.0, location=(0.0, 0.0, 0.1))
    top.scale = (0.4, 0.4, 0.2)
    add("light", "sun", type="SUN")
    select(top)
    run(bpy.ops.bpf.mark, role="placement")
    settings = bpy.context.scene.bpf_preview
    settings.config = os.path.join(folder, "missing.yaml")
    seen["bad_config"] = run(bpy.ops.bpf.preview)
    settings.config, settings.count, settings.width, settings.samples = "", 1, 64, 2
    seen["preview"] = run(bpy.ops.bpf.preview)
    image = bpy.data.images.get(bproc_factory_addon.runner.PREVIEW_IMAGE)
    seen["image"] = None if image is None else {
        "size": list(image.size), "packed": image.packed_file is not None,
        "max": max(image.pixels[:]), "state": bproc_factory_addon.operators.STATE.preview}


try:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    seen["install"] = run(bpy.ops.preferences.addon_install, filepath=zip_path)
    seen["enable"] = run(bpy.ops.preferences.addon_enable, module="bproc_factory_addon")
    bpy.context.preferences.addons["bproc_factory_addon"].preferences.executable = executable
    preview_session() if "--preview" in sys.argv else marking_session()
except Exception:
    seen["crash"] = traceback.format_exc()
with open(os.path.join(folder, "session.json"), "w") as fh:
    json.dump(seen, fh, indent=1)
sys.stdout.flush()
os._exit(0)  # the bpy wheel can crash in its static destructors after Python shuts down
