"""Open a designer .blend scene safely and read its marks into a ``SceneInfo``.

Conventions (collections, simple to set in the Blender UI; scenes/README.md explains them):
- ``bpf_placement``: meshes whose upward-facing faces (within 5 degrees of +Z) are placement
  areas; faces at different heights, or disjoint, form separate areas.
- ``bpf_camera_target``: one object (usually an empty) the camera looks at; defaults to the
  centre of the first placement area.
- ``bpf_camera_region``: meshes whose convex hulls the camera must stay inside.
- ``bpf_occluders`` and ``bpf_props``: scenery that hides objects, and other static scenery.
- ``bpf_lights``: lights whose energy and colour the factory may randomise.
- ``bpf_materials``: surfaces whose materials the factory may swap for library materials.
"""
from __future__ import annotations

import os
from pathlib import Path

import bpy
import numpy as np
from shapely.geometry import MultiPolygon, Polygon
from shapely.ops import unary_union

from bproc_factory.assets import PlacementArea, SceneInfo, Survey
from bproc_factory.blender.console import stdout_to
from bproc_factory.errors import SceneError

PLACEMENT_COLLECTION = "bpf_placement"
CAMERA_TARGET_COLLECTION = "bpf_camera_target"
CAMERA_REGION_COLLECTION = "bpf_camera_region"
OCCLUDER_COLLECTION = "bpf_occluders"
PROP_COLLECTION = "bpf_props"
LIGHT_COLLECTION = "bpf_lights"
MATERIAL_COLLECTION = "bpf_materials"
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
                         f"{str(exc).strip()} (a file saved by a newer Blender cannot be read)") from None
    saved = tuple(bpy.data.version)
    if saved[:2] > tuple(bpy.app.version[:2]):
        raise SceneError(f"{path}: saved by Blender {'.'.join(map(str, saved))}, newer than this "
                         f"factory's Blender {bpy.app.version_string}; re-save it with Blender "
                         f"{bpy.app.version[0]}.{bpy.app.version[1]}")


def _members(name: str) -> list[bpy.types.Object]:
    collection = bpy.data.collections.get(name)
    return sorted(collection.all_objects, key=lambda o: o.name) if collection else []


def survey_scene() -> Survey:
    """Read the open scene's marks; collect every problem rather than stopping at the first."""
    errors: list[str] = []
    warnings: list[str] = []
    areas: list[PlacementArea] = []
    if bpy.data.collections.get(PLACEMENT_COLLECTION) is None:
        errors.append(f"no '{PLACEMENT_COLLECTION}' collection marks where objects may be placed")
    for obj in _members(PLACEMENT_COLLECTION):
        if obj.type != "MESH":
            errors.append(f"'{obj.name}' in '{PLACEMENT_COLLECTION}' is a {obj.type.lower()}, not a mesh")
            continue
        found = _upward_areas(obj)
        if not found:
            errors.append(f"'{obj.name}' in '{PLACEMENT_COLLECTION}' has no upward-facing faces")
        areas.extend(found)
    if bpy.data.collections.get(PLACEMENT_COLLECTION) is not None and not _members(PLACEMENT_COLLECTION):
        errors.append(f"collection '{PLACEMENT_COLLECTION}' holds no mesh objects")
    targets = _members(CAMERA_TARGET_COLLECTION)
    if len(targets) > 1:
        errors.append(f"'{CAMERA_TARGET_COLLECTION}' holds {len(targets)} objects "
                      f"({', '.join(o.name for o in targets)}); keep exactly one")
    regions = []
    for obj in _members(CAMERA_REGION_COLLECTION):
        if obj.type != "MESH" or len(obj.data.vertices) < 4:
            errors.append(f"'{obj.name}' in '{CAMERA_REGION_COLLECTION}' must be a mesh enclosing a volume")
            continue
        mw = np.array(obj.matrix_world)
        regions.append(tuple(tuple(float(c) for c in mw[:3, :3] @ np.array(v.co) + mw[:3, 3])
                             for v in obj.data.vertices))
    lights = _members(LIGHT_COLLECTION)
    for obj in lights:
        if obj.type != "LIGHT":
            errors.append(f"'{obj.name}' in '{LIGHT_COLLECTION}' is a {obj.type.lower()}, not a light")
    surfaces = _members(MATERIAL_COLLECTION)
    for obj in surfaces:
        if obj.type != "MESH" or not obj.material_slots:
            errors.append(f"'{obj.name}' in '{MATERIAL_COLLECTION}' needs to be a mesh with a material slot")
    if not targets and areas:
        warnings.append(f"no '{CAMERA_TARGET_COLLECTION}': the camera aims at the centre of '{areas[0].name}'")
    if not regions:
        warnings.append(f"no '{CAMERA_REGION_COLLECTION}': the camera may go wherever the config's pose "
                        "ranges put it, walls included")
    if not any(o.type == "LIGHT" for o in bpy.data.objects):
        warnings.append("the scene has no lights of its own: the config's lights and world light it")
    warnings += _script_warnings()
    if errors:
        return Survey(None, errors, warnings)
    if targets:
        target = tuple(float(v) for v in targets[0].matrix_world.translation)
    else:
        centroid = Polygon(areas[0].polygon_xy).centroid
        target = (float(centroid.x), float(centroid.y), areas[0].z)
    info = SceneInfo(placement_areas=tuple(areas), camera_target=target,  # type: ignore[arg-type]
                     camera_regions=tuple(regions),
                     occluders=tuple(o.name for o in _members(OCCLUDER_COLLECTION)),
                     props=tuple(o.name for o in _members(PROP_COLLECTION)),
                     lights=tuple(o.name for o in lights), surfaces=tuple(o.name for o in surfaces))
    return Survey(info, errors, warnings)


def _script_warnings() -> list[str]:
    """The open file's Python, which never runs here (the factory opens scenes with auto-run off):
    text blocks, and drivers whose expressions need Python (Blender evaluates simple ones itself)."""
    texts = sorted(t.name for t in bpy.data.texts if t.as_string().strip())
    drivers = []
    for collection in (bpy.data.objects, bpy.data.meshes, bpy.data.materials, bpy.data.lights, bpy.data.cameras,
                       bpy.data.worlds, bpy.data.node_groups, bpy.data.shape_keys, bpy.data.scenes):
        for block in collection:
            trees = [block, getattr(block, "node_tree", None)]
            for owner in (t for t in trees if t is not None and getattr(t, "animation_data", None)):
                drivers += [f"{block.name}: {fc.data_path}" for fc in owner.animation_data.drivers
                            if fc.driver.type == "SCRIPTED" and not fc.driver.is_simple_expression]
    out = []
    if texts:
        out.append(f"the file holds Python text blocks ({', '.join(texts)}); they do not run when the factory "
                   "opens it: apply what they do to the scene and save it")
    if drivers:
        shown = ", ".join(drivers[:3]) + (f" and {len(drivers) - 3} more" if len(drivers) > 3 else "")
        out.append(f"{len(drivers)} driver(s) need Python ({shown}); they do not run when the factory opens the "
                   "file: use simple expressions or bake the values")
    return out


def read_scene_info(path: Path) -> SceneInfo:
    """The open scene's marks; a ``SceneError`` naming ``path`` lists every error."""
    survey = survey_scene()
    if survey.errors:
        raise SceneError(f"{path}: " + "; ".join(survey.errors))
    return survey.info


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


def inspect_scene(path: Path) -> Survey:
    """Open ``path`` and survey its marks (for ``check``; rendering uses ``RenderSession``)."""
    with stdout_to(os.devnull):
        open_scene(path)
    return survey_scene()
