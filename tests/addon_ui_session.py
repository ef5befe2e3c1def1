"""The add-on in Blender's real UI: run by tests/test_addon.py where a ``blender`` (4.2 or later) and
``xvfb-run`` are installed, as ``xvfb-run blender --factory-startup --enable-event-simulate --python THIS``.

With BPF_ZIP, BPF_EXE and BPF_OUT in the environment it installs the zip, marks a scene from the panel's
operators (each mark starts a modal check), previews it (a modal operator polling the command on a
timer), checks that the sheet opens in an Image Editor, cancels a second preview with Esc, and writes
FOLDER/ui.json. The UI keeps running throughout: a timer drives the steps.
"""
import json
import os
import tempfile
import time
import traceback

import bpy

ZIP, EXE, OUT = os.environ["BPF_ZIP"], os.environ["BPF_EXE"], os.environ["BPF_OUT"]
seen: dict = {"blender": bpy.app.version_string}

bpy.ops.preferences.addon_install(filepath=ZIP)
bpy.ops.preferences.addon_enable(module="bproc_factory_addon")
import bproc_factory_addon  # noqa: E402

STATE = bproc_factory_addon.operators.STATE
bpy.context.preferences.addons["bproc_factory_addon"].preferences.executable = EXE
window = bpy.context.window_manager.windows[0]
area = next(a for a in window.screen.areas if a.type == "VIEW_3D")
region = next(r for r in area.regions if r.type == "WINDOW")


def add(op, name: str, **kwargs) -> bpy.types.Object:
    op(**kwargs)
    bpy.context.active_object.name = name
    return bpy.context.active_object


prop = bpy.data.objects["Cube"]
prop.scale, prop.location = (0.2, 0.2, 0.2), (1.2, 0.0, 0.2)
table = add(bpy.ops.mesh.primitive_plane_add, "table", size=1.5, location=(0, 0, -0.2))
aim = add(bpy.ops.object.empty_add, "aim", location=(0, 0, -0.1))
room = add(bpy.ops.mesh.primitive_cube_add, "room", size=4, location=(0, 0, 1.2))


def select(obj: bpy.types.Object) -> None:
    bpy.ops.object.select_all(action="DESELECT")
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj


def in_viewport(op, *args, **kwargs) -> list[str]:
    with bpy.context.temp_override(window=window, area=area, region=region):
        return sorted(op(*args, **kwargs))


def press_esc() -> None:
    window.event_simulate(type="ESC", value="PRESS")
    window.event_simulate(type="ESC", value="RELEASE")


def steps():
    press_esc()  # the splash screen
    yield 0.5
    seen["marks"] = {}
    for obj, role in ((table, "placement"), (aim, "camera_target"), (room, "camera_region"), (prop, "props")):
        before = STATE.status
        select(obj)
        seen["marks"][role] = in_viewport(bpy.ops.bpf.mark, "INVOKE_DEFAULT", role=role)
        while STATE.status is before:  # the check each mark starts runs modal, the UI meanwhile live
            yield 0.2
    seen["status"] = {"ok": STATE.status.ok, "errors": STATE.status.errors, "warnings": STATE.status.warnings,
                      "props": STATE.status.marks["props"]}
    settings = bpy.context.scene.bpf_preview
    settings.count, settings.width, settings.samples = 2, 200, 4
    seen["preview_invoke"] = in_viewport(bpy.ops.bpf.preview, "INVOKE_DEFAULT")
    started = time.monotonic()
    while not STATE.preview and time.monotonic() - started < 300:
        yield 0.5
    seen["preview_seconds"] = round(time.monotonic() - started, 1)
    yield 1.0
    seen["image_editors"] = [[a.spaces.active.image.name, list(a.spaces.active.image.size)]
                             for w in bpy.context.window_manager.windows for a in w.screen.areas
                             if a.type == "IMAGE_EDITOR" and a.spaces.active.image]
    seen["windows"] = len(bpy.context.window_manager.windows)
    seen["second_preview"] = in_viewport(bpy.ops.bpf.preview, "INVOKE_DEFAULT")
    yield 2.0
    press_esc()
    yield 2.0
    seen["job_folders_after_esc"] = [d for d in os.listdir(tempfile.gettempdir())
                                     if d.startswith("bproc_factory_addon_")]


step = steps()


def tick():
    try:
        return next(step)
    except StopIteration:
        pass
    except Exception:
        seen["crash"] = traceback.format_exc()
    with open(os.path.join(OUT, "ui.json"), "w") as fh:
        json.dump(seen, fh, indent=1)
    bpy.ops.wm.quit_blender()
    return None


bpy.app.timers.register(tick, first_interval=2.0)
