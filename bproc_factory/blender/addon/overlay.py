"""Viewport overlays of what the last check found: placement polygons, the camera target and the
camera regions' hulls, drawn from the factory's own reading of the scene (``scene check --json``)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import bmesh
import bpy

Point = tuple[float, float, float]
LIFT_M = 0.002  # placement outlines sit this far above their surface, so the surface does not hide them
TARGET_ARM_M = 0.08


@dataclass(frozen=True)
class Label:
    """A name written in the viewport beside a mark; ``kind`` picks its colour."""

    text: str
    point: Point
    kind: str


@dataclass(frozen=True)
class Overlay:
    """Line segments (pairs of consecutive points) per kind of mark, in world metres, and the names
    written beside them (each placement area's at its centre, the camera target's at the target)."""

    placement: list[Point]
    target: list[Point]
    regions: list[Point]
    labels: list[Label]


def _loop(points: list[Point]) -> list[Point]:
    return [p for a, b in zip(points, points[1:] + points[:1]) for p in (a, b)]


def _hull_edges(points: list[Point]) -> list[Point]:
    """The edges of the convex hull of ``points`` (the factory keeps the camera inside the hull)."""
    bm = bmesh.new()
    try:
        hull = bmesh.ops.convex_hull(bm, input=[bm.verts.new(p) for p in points])
        bmesh.ops.delete(bm, geom=hull["geom_interior"] + hull["geom_unused"], context="VERTS")
        bmesh.ops.dissolve_limit(bm, angle_limit=math.radians(1.0), verts=bm.verts[:], edges=bm.edges[:])
        return [tuple(v.co) for e in bm.edges for v in e.verts]  # coplanar triangles merged: a box has 12
    finally:
        bm.free()


def overlay_lines(marks: dict | None) -> Overlay:
    """The segments to draw for a check's ``marks`` (empty without marks)."""
    if not marks:
        return Overlay([], [], [], [])
    placement = [p for area in marks["placement_areas"]
                 for p in _loop([(x, y, area["z"] + LIFT_M) for x, y in area["polygon_xy"]])]
    x, y, z = marks["camera_target"]
    a = TARGET_ARM_M
    target = [(x - a, y, z), (x + a, y, z), (x, y - a, z), (x, y + a, z), (x, y, z - a), (x, y, z + a)]
    regions = [p for region in marks["camera_regions"] for p in _hull_edges([tuple(v) for v in region])]
    labels = [Label(area["name"], (sum(x for x, _ in area["polygon_xy"]) / len(area["polygon_xy"]),
                                   sum(y for _, y in area["polygon_xy"]) / len(area["polygon_xy"]),
                                   area["z"] + LIFT_M), "placement") for area in marks["placement_areas"]]
    labels.append(Label("camera target", (x, y, z + a), "target"))
    return Overlay(placement, target, regions, labels)


COLOURS = {"placement": (0.2, 0.9, 0.3, 1.0), "target": (1.0, 0.55, 0.1, 1.0), "regions": (0.3, 0.6, 1.0, 0.7)}


def _shown(state) -> Overlay | None:
    if state.status is None or not bpy.context.window_manager.bpf_show_overlays:
        return None
    return overlay_lines(state.status.marks)


def draw(state) -> None:
    """Draw handler (3D): the last check's lines, when overlays are on."""
    import gpu
    from gpu_extras.batch import batch_for_shader

    lines = _shown(state)
    if lines is None:
        return
    shader = gpu.shader.from_builtin("POLYLINE_UNIFORM_COLOR")
    gpu.state.blend_set("ALPHA")
    shader.uniform_float("viewportSize", gpu.state.viewport_get()[2:])
    shader.uniform_float("lineWidth", 2.0)
    for kind, colour in COLOURS.items():
        coords = getattr(lines, kind)
        if coords:
            shader.uniform_float("color", colour)
            batch_for_shader(shader, "LINES", {"pos": coords}).draw(shader)
    gpu.state.blend_set("NONE")


def draw_labels(state) -> None:
    """Draw handler (pixels): the placement areas' names and the camera target's, beside their marks."""
    import blf
    from bpy_extras.view3d_utils import location_3d_to_region_2d

    lines = _shown(state)
    if lines is None:
        return
    scale = bpy.context.preferences.view.ui_scale
    blf.size(0, 12 * scale)
    for label in lines.labels:
        at = location_3d_to_region_2d(bpy.context.region, bpy.context.region_data, label.point)
        if at is not None:  # None: behind the view
            blf.color(0, *COLOURS[label.kind])
            blf.position(0, at.x + 6 * scale, at.y + 6 * scale, 0)
            blf.draw(0, label.text)
