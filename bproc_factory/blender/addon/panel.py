"""The Factory tab of the 3D viewport's sidebar, the add-on preferences and the preview settings."""
from __future__ import annotations

import textwrap

import bpy

from . import marks
from .operators import STATE


class BPF_AddonPreferences(bpy.types.AddonPreferences):
    """Where the ``bproc-factory`` command is, and whether marking checks the scene again."""

    bl_idname = __package__
    executable: bpy.props.StringProperty(
        name="bproc-factory", subtype="FILE_PATH",
        description="Path of the bproc-factory command (empty: the one on PATH), e.g. .venv/bin/bproc-factory")
    check_after_marking: bpy.props.BoolProperty(
        name="Check after marking", default=True,
        description="Run the scene check again after each mark or unmark from the panel")

    def draw(self, context: bpy.types.Context) -> None:
        self.layout.prop(self, "executable")
        self.layout.prop(self, "check_after_marking")


class BPF_PreviewSettings(bpy.types.PropertyGroup):
    """Preview settings, saved with the scene."""

    config: bpy.props.StringProperty(
        name="Config", subtype="FILE_PATH",
        description="Scenario YAML to preview with (empty: built-in, the demo assets on this scene's placement "
                    "areas)")
    count: bpy.props.IntProperty(name="Images", default=4, min=1, max=24)
    width: bpy.props.IntProperty(name="Width", default=320, min=16, max=1920, description="Image width, pixels")
    samples: bpy.props.IntProperty(name="Samples", default=8, min=1, max=1024)
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0)


def _wrapped(layout: bpy.types.UILayout, text: str, icon: str, width: int) -> None:
    for k, line in enumerate(textwrap.wrap(text, max(24, width)) or [""]):
        layout.label(text=line, icon=icon if k == 0 else "BLANK1")


class BPF_PT_factory(bpy.types.Panel):
    """Mark, check and preview the scene for bproc_factory."""

    bl_label = "bproc_factory"
    bl_idname = "BPF_PT_factory"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Factory"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        scale = context.preferences.view.ui_scale
        chars = int((context.region.width - 60 * scale) / (7 * scale)) if context.region else 40  # beside an icon

        box = layout.box()
        box.label(text="Mark selection", icon="RESTRICT_SELECT_OFF")
        grid = box.grid_flow(columns=2, even_columns=True, align=True)
        for role in marks.ROLES:  # the label counts the objects holding the mark now
            held = len(c.all_objects) if (c := bpy.data.collections.get(role.collection)) else 0
            grid.operator("bpf.mark", text=f"{role.label} ({held})" if held else role.label).role = role.key
        box.operator("bpf.unmark", text="Unmark", icon="X").role = "ALL"
        if context.active_object is not None:
            held = ", ".join(r.label.lower() for r in marks.roles_of(context.active_object)) or "not marked"
            _wrapped(box, f"{context.active_object.name}: {held}", "OBJECT_DATA", chars)

        box = layout.box()
        row = box.row()
        row.operator("bpf.check", icon="CHECKMARK")
        row.prop(context.window_manager, "bpf_show_overlays", text="Overlays", toggle=True)
        status = STATE.status
        if status is None:
            box.label(text="Not checked yet")
        else:
            if STATE.stale:
                box.label(text="Changed since the last check", icon="TIME")
            head = "OK" if status.ok else f"{len(status.errors)} error(s)"
            box.label(text=f"{head}, {len(status.warnings)} warning(s)", icon="CHECKMARK" if status.ok else "ERROR")
            for problem in status.errors:
                _wrapped(box, problem, "CANCEL", chars)
            for problem in status.warnings:
                _wrapped(box, problem, "INFO", chars)
            for line in status.marks["summary"] if status.marks else []:  # as scene check prints them
                _wrapped(box, line, "DOT", chars)

        box = layout.box()
        settings = context.scene.bpf_preview
        box.prop(settings, "config")
        row = box.row(align=True)
        row.prop(settings, "count")
        row.prop(settings, "width")
        row = box.row(align=True)
        row.prop(settings, "samples")
        row.prop(settings, "seed")
        box.operator("bpf.preview", icon="RENDER_STILL")
        if STATE.preview:
            box.label(text=f"Last preview: image '{STATE.preview}'", icon="IMAGE_DATA")


CLASSES = (BPF_AddonPreferences, BPF_PreviewSettings, BPF_PT_factory)
