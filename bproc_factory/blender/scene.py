"""Open a designer .blend scene safely and read its marks into a ``SceneInfo``.

Conventions (collections, simple to set in the Blender UI):
- ``bpf_placement``: meshes whose upward-facing faces (within 5 degrees of +Z) are placement
  areas; faces at different heights, or disjoint, form separate areas.
- ``bpf_camera_target``: an object (usually an empty) the camera looks at; defaults to the
  centre of the first placement area.
"""
from __future__ import annotations

import os
from pathlib import Path

import bpy
import numpy as np
from shapely.geometry import MultiPolygon, Polygon
from shapely.ops import unary_union

from bproc_factory.blender.console import stdout_to
from bproc_factory.errors import SceneError
from bproc_factory.scene_info import PlacementArea, SceneInfo

PLACEMENT_COLLECTION = "bpf_placement"
CAMERA_TARGET_COLLECTION = "bpf_camera_target"
_UP_COS = float(np.cos(np.radians(5.0)))
_LEVEL_TOLERANCE_M = 0.002


def open_scene(path: Path) -> None:
    """Open ``path`` as the current file with Python auto-run disabled."""
    if not path.is_file():
        raise SceneError(f"{path}: scene file not found")
    bpy.context.preferences.filepaths.use_scripts_auto_execute = False
    try:
        bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False, use_scripts=False)
    except RuntimeError as exc:
        raise SceneError(f"{path}: Blender {bpy.app.version_string} cannot open it: "
                         f"{str(exc).strip()}") from None
    saved = tuple(bpy.data.version)
    if saved[:2] > tuple(bpy.app.version[:2]):
        raise SceneError(f"{path}: saved by Blender {'.'.join(map(str, saved))}, newer than this "
                         f"factory's Blender {bpy.app.version_string}; re-save it with Blender "
                         f"{bpy.app.version[0]}.{bpy.app.version[1]}")


def read_scene_info(path: Path) -> SceneInfo:
    """Placement areas and camera target of the open scene; errors name ``path`` and the object."""
    areas: list[PlacementArea] = []
    collection = bpy.data.collections.get(PLACEMENT_COLLECTION)
    if collection is None:
        raise SceneError(f"{path}: no '{PLACEMENT_COLLECTION}' collection marks where objects may "
                         "be placed")
    for obj in sorted(collection.all_objects, key=lambda o: o.name):
        if obj.type != "MESH":
            continue
        found = _upward_areas(obj)
        if not found:
            raise SceneError(f"{path}: object '{obj.name}' in '{PLACEMENT_COLLECTION}' has no "
                             "upward-facing faces")
        areas.extend(found)
    if not areas:
        raise SceneError(f"{path}: collection '{PLACEMENT_COLLECTION}' holds no mesh objects")
    target_collection = bpy.data.collections.get(CAMERA_TARGET_COLLECTION)
    targets = list(target_collection.all_objects) if target_collection else []
    if len(targets) > 1:
        raise SceneError(f"{path}: '{CAMERA_TARGET_COLLECTION}' holds {len(targets)} objects; "
                         "keep exactly one")
    if targets:
        target = tuple(float(v) for v in targets[0].matrix_world.translation)
    else:
        centroid = Polygon(areas[0].polygon_xy).centroid
        target = (float(centroid.x), float(centroid.y), areas[0].z)
    return SceneInfo(placement_areas=tuple(areas), camera_target=target)  # type: ignore[arg-type]


def _upward_areas(obj: bpy.types.Object) -> list[PlacementArea]:
    """The object's upward-facing faces in world space, merged per height level."""
    mw = np.array(obj.matrix_world)
    verts = np.array([mw[:3, :3] @ np.array(v.co) + mw[:3, 3] for v in obj.data.vertices])
    normal_mat = np.linalg.inv(mw[:3, :3]).T
    levels: dict[float, list[Polygon]] = {}
    for poly in obj.data.polygons:
        n = normal_mat @ np.array(poly.normal)
        n /= np.linalg.norm(n)
        if n[2] < _UP_COS:
            continue
        pts = verts[list(poly.vertices)]
        z = float(pts[:, 2].mean())
        key = next((k for k in levels if abs(k - z) <= _LEVEL_TOLERANCE_M), z)
        levels.setdefault(key, []).append(Polygon(pts[:, :2]))
    areas = []
    for z, polys in sorted(levels.items()):
        merged = unary_union(polys)
        parts = list(merged.geoms) if isinstance(merged, MultiPolygon) else [merged]
        for part in sorted(parts, key=lambda p: (p.bounds[0], p.bounds[1])):
            name = obj.name if len(levels) == 1 and len(parts) == 1 else f"{obj.name}.{len(areas) + 1}"
            coords = tuple((float(x), float(y)) for x, y in part.exterior.coords[:-1])
            areas.append(PlacementArea(name=name, polygon_xy=coords, z=z))
    return areas


def make_environment_background() -> None:
    """Give every object already in the scene instance id 0 (background)."""
    for obj in bpy.data.objects:
        obj.pass_index = 0


def inspect_scene(path: Path) -> SceneInfo:
    """Open ``path`` and return its marks (for ``check``; rendering uses ``RenderSession``)."""
    with stdout_to(os.devnull):
        open_scene(path)
    return read_scene_info(path)
