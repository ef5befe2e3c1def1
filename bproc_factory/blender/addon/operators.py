"""The add-on's operators: mark and unmark the selection, check the scene, preview it.

Check and preview run the command as a background process: from the UI a modal operator polls it on
a timer (status bar progress, Esc cancels, the UI stays live); from a script or background Blender
``execute`` waits for it, running the same job code.
"""
from __future__ import annotations

from dataclasses import dataclass

import bpy

from . import marks, runner


@dataclass
class State:
    """What the panel and the overlays show: the last check, whether the scene changed since, and the
    last preview image's name."""

    status: runner.Status | None = None
    stale: bool = False
    preview: str = ""


STATE = State()
ROLE_ITEMS = [(r.key, r.label, r.description) for r in marks.ROLES]


def preferences(context: bpy.types.Context) -> bpy.types.AddonPreferences:
    return context.preferences.addons[__package__].preferences


def redraw(context: bpy.types.Context) -> None:
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":  # the overlays
                area.tag_redraw()


class _Marks(bpy.types.Operator):
    """Shared by mark and unmark: act on the selection, then flag the last check as out of date and,
    from the UI, check again when the preferences ask for it."""

    bl_options = {"REGISTER", "UNDO"}

    def apply(self, context: bpy.types.Context) -> int:
        raise NotImplementedError

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            changed = self.apply(context)
        except marks.MarkError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        STATE.stale = True  # shown only beside a check
        self.report({"INFO"}, self.summary(changed))
        return {"FINISHED"}

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        result = self.execute(context)
        if result == {"FINISHED"} and preferences(context).check_after_marking:
            bpy.ops.bpf.check("INVOKE_DEFAULT")
        return result

    def summary(self, changed: int) -> str:
        raise NotImplementedError


class BPF_OT_mark(_Marks):
    """Mark the selected objects for the factory (links them into the conventional bpf_* collection)"""

    bl_idname = "bpf.mark"
    bl_label = "Mark Selection"
    role: bpy.props.EnumProperty(name="Mark", items=ROLE_ITEMS)

    def apply(self, context: bpy.types.Context) -> int:
        return marks.mark(list(context.selected_objects), self.role, context.scene)

    def summary(self, changed: int) -> str:
        role = marks.BY_KEY[self.role]
        return f"{changed} object(s) marked as {role.label.lower()} (collection {role.collection})"


class BPF_OT_unmark(_Marks):
    """Take the selected objects out of the factory's bpf_* collections, restoring what marking changed"""

    bl_idname = "bpf.unmark"
    bl_label = "Unmark Selection"
    role: bpy.props.EnumProperty(name="Mark", items=[("ALL", "All marks", "every bpf_* collection"),
                                                     *ROLE_ITEMS])

    def apply(self, context: bpy.types.Context) -> int:
        if not context.selected_objects:
            raise marks.MarkError("select the objects to unmark first")
        return marks.unmark(list(context.selected_objects), None if self.role == "ALL" else self.role,
                            context.scene)

    def summary(self, changed: int) -> str:
        return f"{changed} mark(s) removed"


class _RunsFactory(bpy.types.Operator):
    """Runs one ``bproc-factory`` job: modal with a timer from the UI, waiting in ``execute``."""

    _job: runner.Job | None = None
    _timer = None

    def start(self, context: bpy.types.Context, executable: str) -> runner.Job:
        raise NotImplementedError

    def finish(self, context: bpy.types.Context, job: runner.Job) -> set[str]:
        raise NotImplementedError

    def _start(self, context: bpy.types.Context) -> runner.Job | None:
        try:
            return self.start(context, runner.find_executable(preferences(context).executable))
        except (runner.RunnerError, RuntimeError) as exc:
            self.report({"ERROR"}, str(exc).strip())
            return None

    def execute(self, context: bpy.types.Context) -> set[str]:
        job = self._start(context)
        if job is None:
            return {"CANCELLED"}
        job.wait()
        return self.finish(context, job)

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if context.window is None or bpy.app.background:  # no event loop to drive a modal operator
            return self.execute(context)
        self._job = self._start(context)
        if self._job is None:
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.25, window=context.window)
        wm.modal_handler_add(self)
        context.workspace.status_text_set(runner.progress(self._job))
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if event.type == "ESC":
            self._job.cancel()
            self._end(context)
            self.report({"WARNING"}, f"bproc_factory {self._job.title} cancelled")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if not self._job.done():
            context.workspace.status_text_set(runner.progress(self._job))
            return {"PASS_THROUGH"}
        self._end(context)
        return self.finish(context, self._job)

    def _end(self, context: bpy.types.Context) -> None:
        context.window_manager.event_timer_remove(self._timer)
        context.workspace.status_text_set(None)


class BPF_OT_check(_RunsFactory):
    """Check the scene with the factory's own rules (bproc-factory scene check) and show what it found"""

    bl_idname = "bpf.check"
    bl_label = "Check Scene"

    def start(self, context: bpy.types.Context, executable: str) -> runner.Job:
        return runner.start_check(executable)

    def finish(self, context: bpy.types.Context, job: runner.Job) -> set[str]:
        STATE.status, STATE.stale = runner.finish_check(job), False
        redraw(context)
        status = STATE.status
        if status.errors:
            self.report({"ERROR"}, f"{len(status.errors)} error(s): " + "; ".join(status.errors))
        else:
            warned = f", {len(status.warnings)} warning(s)" if status.warnings else ""
            self.report({"INFO"}, f"scene check: OK{warned}")
        return {"FINISHED"}


class BPF_OT_preview(_RunsFactory):
    """Render a few small images of this scene through the factory and open them in an Image Editor"""

    bl_idname = "bpf.preview"
    bl_label = "Preview"

    def start(self, context: bpy.types.Context, executable: str) -> runner.Job:
        s = context.scene.bpf_preview
        request = runner.PreviewRequest(s.config, s.count, s.width, s.samples, s.seed)
        return runner.start_preview(executable, request)

    def finish(self, context: bpy.types.Context, job: runner.Job) -> set[str]:
        try:
            image = runner.finish_preview(job)
        except runner.RunnerError as exc:
            self.report({"ERROR"}, f"preview: {exc}")
            return {"CANCELLED"}
        STATE.preview = image.name
        shown = show_image(context, image)
        where = "" if shown else f" (open an Image Editor and pick the image '{image.name}')"
        self.report({"INFO"}, f"preview: {image.size[0]}x{image.size[1]} in {job.seconds:.0f} s{where}")
        return {"FINISHED"}


def show_image(context: bpy.types.Context, image: bpy.types.Image) -> bool:
    """Show ``image`` in an open Image Editor, or in a new window made from the current area; False
    when there is no UI to show it in (background Blender)."""
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "IMAGE_EDITOR":
                area.spaces.active.image = image
                area.tag_redraw()
                return True
    if bpy.app.background or context.window is None or context.area is None:
        return False
    before = set(context.window_manager.windows)
    with context.temp_override(window=context.window, area=context.area):
        bpy.ops.screen.area_dupli("INVOKE_DEFAULT")
    new = [w for w in context.window_manager.windows if w not in before]
    if not new:
        return False
    area = new[0].screen.areas[0]
    area.type = "IMAGE_EDITOR"
    area.spaces.active.image = image
    return True


CLASSES = (BPF_OT_mark, BPF_OT_unmark, BPF_OT_check, BPF_OT_preview)
