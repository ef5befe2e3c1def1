"""``check`` and ``scene check``: validate a config, its assets and scene, and trial-plan a few
scenes, without rendering; survey a scene's marks."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bproc_factory.assets import (
    Asset,
    SceneInfo,
    Survey,
    billboard_elevation_warnings,
    category_ids,
    check_materials,
    is_backplate,
    load_backplate,
    resolve_assets,
)
from bproc_factory.config import LoadedScenario, as_loaded
from bproc_factory.errors import SceneError
from bproc_factory.plan import check_fit, plan_scene
from bproc_factory.sensor import intrinsics


@dataclass(frozen=True)
class CheckReport:
    """What a config check found: the scene and its areas, the categories, and warnings."""

    loaded: LoadedScenario
    scene: Path
    info: SceneInfo
    categories: dict[str, int]
    warnings: list[str] = field(default_factory=list)


def survey_scene(path: Path) -> Survey:
    """A scene's marks and problems: a backplate annotation needs no Blender, a .blend is opened."""
    if not path.is_file():
        raise SceneError(f"{path}: scene file not found")
    if is_backplate(path):
        return Survey(load_backplate(path))
    _check_blend_file(path)
    from bproc_factory.blender import inspect_scene

    return inspect_scene(path)


BLEND_SIGNATURES = (b"BLENDER", b"\x1f\x8b", b"\x28\xb5\x2f\xfd")  # plain, gzip- and zstd-compressed .blend


def survey_lines(info: SceneInfo) -> list[str]:
    """The marks as ``scene check`` prints them, a line each (the add-on's panel shows the same)."""
    lines = [f"placement area: {a.name} ({a.size_xy[0]:.2f} x {a.size_xy[1]:.2f} m at z = {a.z:.3f} m)"
             for a in info.placement_areas]
    lines.append("camera target: (" + ", ".join(f"{v:.3f}" for v in info.camera_target) + ")")
    if info.fixed_camera:
        lines.append(f"camera: fixed by the photo, {info.fixed_camera.width}x{info.fixed_camera.height}, "
                     f"{info.fixed_camera.cam_to_world[2][3]:.2f} m above the ground")
    for label, names in (("camera regions", [f"{len(r)} vertices" for r in info.camera_regions]),
                         ("occluders", info.occluders), ("props", info.props),
                         ("randomisable lights", info.lights), ("swappable surfaces", info.surfaces)):
        lines.append(f"{label}: {', '.join(names) if names else 'none'}")
    return lines


def survey_record(path: Path, survey: Survey | None = None, error: str | None = None) -> dict:
    """``scene check --json``: the survey (or the error that stopped it) as plain JSON data, so tools such
    as the Blender add-on read the same marks and problems as the command line prints."""
    errors = [error] if error is not None else list(survey.errors) if survey is not None else []
    record: dict = {"file": str(path), "ok": survey is not None and not errors, "errors": errors,
                    "warnings": list(survey.warnings) if survey is not None else [], "marks": None}
    info = survey.info if survey is not None else None
    if info is not None:
        record["marks"] = {
            "placement_areas": [{"name": a.name, "z": a.z, "size_xy": list(a.size_xy),
                                 "polygon_xy": [list(p) for p in a.polygon_xy]} for a in info.placement_areas],
            "camera_target": list(info.camera_target),
            "camera_regions": [[list(p) for p in region] for region in info.camera_regions],
            "occluders": list(info.occluders), "props": list(info.props), "lights": list(info.lights),
            "surfaces": list(info.surfaces), "summary": survey_lines(info),
            "fixed_camera": None if info.fixed_camera is None else {
                "width": info.fixed_camera.width, "height": info.fixed_camera.height,
                "K": [list(r) for r in info.fixed_camera.K],
                "cam_to_world": [list(r) for r in info.fixed_camera.cam_to_world]},
        }
    return record


def _check_blend_file(path: Path) -> None:
    """Refuse, before Blender is loaded, a scene that is neither named nor made like a .blend file."""
    if path.suffix.lower() != ".blend":
        raise SceneError(f"{path}: a scene is a .blend file or a backplate annotation .yaml")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head.startswith(BLEND_SIGNATURES):
        raise SceneError(f"{path}: not a .blend file (it does not start with Blender's file signature)")


def scene_info(path: Path) -> SceneInfo:
    """The scene's marks; raises ``SceneError`` naming the file when it has errors."""
    survey = survey_scene(path)
    if survey.errors:
        raise SceneError(f"{path}: " + "; ".join(survey.errors))
    return survey.info


def check_config(config: Path | LoadedScenario, overrides: tuple[str, ...] = (), scenes: int = 3) -> CheckReport:
    """Load and validate the config, resolve its assets and scene, check that the objects fit and
    plan ``scenes`` scenes as a trial; every problem raises a ``FactoryError``."""
    loaded = as_loaded(config, overrides)
    assets = resolve_assets(loaded)
    categories = category_ids(loaded, assets)
    scene = loaded.resolve(loaded.scenario.scene)
    check_materials(loaded)
    info = scene_info(scene)
    check_fit(loaded, assets, info)
    v = loaded.scenario.views_per_scene
    for s in range(scenes):
        plan_scene(loaded, assets, info, 0, s, list(range(s * v, s * v + v)))
    warnings = billboard_elevation_warnings(loaded, assets) + unused_key_warnings(loaded, info)
    if not is_backplate(scene):  # a backplate's photo fixes the camera
        warnings += camera_warnings(loaded, assets)
    return CheckReport(loaded, scene, info, categories, warnings)


def unused_key_warnings(loaded: LoadedScenario, info: SceneInfo) -> list[str]:
    """Warnings for scene-variation keys the scene gives nothing to act on."""
    unused = [(loaded.scenario.surfaces, "surfaces", "bpf_materials", info.surfaces),
              (loaded.scenario.scene_lights, "scene_lights", "bpf_lights", info.lights)]
    return [f"{loaded.path}: {key}: the scene has no objects in {collection}, so it changes nothing"
            for cfg, key, collection, marked in unused if cfg is not None and not marked]


WIDE_FOV_DEG = 120.0  # a pinhole wider than this stretches the edges of the image beyond use
SMALL_OBJECT_PX = 16.0  # an object smaller than this across is hard for any detector


def camera_warnings(loaded: LoadedScenario, assets: list[list[Asset]]) -> list[str]:
    """Warnings for a camera that sees an extreme field of view, or from whose farthest distance an
    object group's smallest instances would stand under SMALL_OBJECT_PX pixels in the image."""
    cam = loaded.scenario.camera_or_default
    K = intrinsics(cam)
    w = cam.resolution[0]
    fov = math.degrees(2 * math.atan2(w / 2, K[0, 0]))
    out = []
    if fov > WIDE_FOV_DEG and not (cam.distortion and cam.distortion.model == "fisheye"):
        out.append(f"camera: a {fov:.0f} deg horizontal field of view ({w} px at fx {K[0, 0]:.0f}); check the "
                   "focal length and sensor_width_mm")
    far = cam.distance_m.support()[1]
    for g, (group, found) in enumerate(zip(loaded.scenario.objects, assets)):
        if group.size_m is not None or not found:
            continue
        smallest = min(float(np.ptp(a.hull_canonical, axis=0).max()) for a in found) * group.scale.support()[0]
        px = K[0, 0] * smallest / far
        if px < SMALL_OBJECT_PX:
            out.append(f"objects[{g}]: its smallest instances stand about {px:.0f} px across at the camera's "
                       f"farthest distance ({far:g} m, fx {K[0, 0]:.0f}); under {SMALL_OBJECT_PX:.0f} px few "
                       "detectors find them")
    return out
