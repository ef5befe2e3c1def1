"""Scenario + (run seed, image indices) -> ScenePlan: every sampled value, as plain data (pure).

A scene (objects, lights, world) is shared by ``views_per_scene`` consecutive images; scene ``s``
draws only from seeds keyed by ``("scene", s, ...)`` and image ``i`` only from ``("image", i, ...)``,
so any subset of a scene's views plans identically, on any worker, in any order.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import trimesh

from bproc_factory import camera as cam
from bproc_factory.assets import Asset, load_asset
from bproc_factory.colour import kelvin_to_rgb
from bproc_factory.config.distributions import sample, sample_int
from bproc_factory.config.loader import ConfigError, LoadedScenario
from bproc_factory.placement import Footprint, PlacementError, place
from bproc_factory.scene_info import PlacementArea, SceneInfo
from bproc_factory.seeding import rng_for, seed_int


@dataclass(frozen=True)
class ObjectPlan:
    instance_id: int
    asset: Asset = field(repr=False)
    category: str
    obj_to_world: np.ndarray = field(repr=False)  # 4x4: mesh-file coordinates -> world metres
    sampled: dict[str, Any]


@dataclass(frozen=True)
class LightPlan:
    type: str
    energy_w: float
    color_rgb: tuple[float, float, float]
    light_to_world: np.ndarray = field(repr=False)  # 4x4, Blender convention (emits along -Z)
    sampled: dict[str, Any]


@dataclass(frozen=True)
class ViewPlan:
    image_index: int
    view_index: int
    image_seed: int
    K: np.ndarray = field(repr=False)
    width: int
    height: int
    cam_to_world: np.ndarray = field(repr=False)  # 4x4 OpenCV convention
    sampled: dict[str, Any]


@dataclass(frozen=True)
class ScenePlan:
    scene_index: int
    scene_seed: int
    cycles_seed: int
    objects: tuple[ObjectPlan, ...]
    lights: tuple[LightPlan, ...]
    world: dict[str, Any]
    views: tuple[ViewPlan, ...]


def scene_of(image_index: int, views_per_scene: int) -> int:
    return image_index // views_per_scene


def group_by_scene(indices: list[int], views_per_scene: int) -> dict[int, list[int]]:
    """Image indices grouped by their scene, both in ascending order."""
    groups: dict[int, list[int]] = {}
    for i in sorted(indices):
        groups.setdefault(scene_of(i, views_per_scene), []).append(i)
    return groups


def resolve_assets(loaded: LoadedScenario) -> list[list[Asset]]:
    """The assets of each object group, loaded and checked; errors name the config key."""
    groups = []
    for g, group in enumerate(loaded.scenario.objects):
        assets = []
        for a, rel in enumerate(group.assets):
            try:
                assets.append(load_asset(loaded.resolve(rel)))
            except ConfigError as exc:
                raise ConfigError(f"{loaded.path}: objects[{g}].assets[{a}]: {exc}") from None
        groups.append(assets)
    return groups


def category_ids(loaded: LoadedScenario, assets: list[list[Asset]]) -> dict[str, int]:
    """Stable category ids: the config's ``categories`` map, else 1..K in sorted name order."""
    used = sorted({a.category for group in assets for a in group})
    explicit = loaded.scenario.categories
    if explicit is None:
        return {name: i + 1 for i, name in enumerate(used)}
    missing = [c for c in used if c not in explicit]
    if missing:
        raise ConfigError(f"{loaded.path}: categories: no id for {', '.join(missing)} "
                          f"(used by the assets)")
    return dict(sorted(explicit.items(), key=lambda kv: kv[1]))


def check_fit(loaded: LoadedScenario, assets: list[list[Asset]], info: SceneInfo) -> None:
    """Refuse configs whose largest counts and scales cannot fit their placement areas even at each
    asset's smallest footprint: each named area against the groups bound to it, and all areas
    against all groups. (Passing does not promise a fit; placement reports the rest.)"""
    areas = {a.name: _polygon_area(a.polygon_xy) for a in info.placement_areas}
    per_area: dict[str, float] = {}
    total = 0.0
    for g, group in enumerate(loaded.scenario.objects):
        smallest = min(_min_footprint_area(a, group.pose) for a in assets[g])
        need = group.count.support()[1] * smallest * group.scale.support()[1] ** 2
        total += need
        if group.placement_area is not None:
            name = _area_for(loaded, info, g, group.placement_area).name
            per_area[name] = per_area.get(name, 0.0) + need
    checks = [(f"placement area '{n}'", per_area[n], areas[n]) for n in per_area]
    checks.append(("the placement areas" if len(areas) > 1 else
                   f"placement area '{next(iter(areas))}'", total, sum(areas.values())))
    for where, needed, available in checks:
        if needed > available:
            raise ConfigError(
                f"{loaded.path}: objects: at their largest counts and scales the objects need about "
                f"{needed:.3f} m² of floor, but {where} offer {available:.3f} m²; "
                f"lower the counts or scales")


def _min_footprint_area(asset: Asset, pose: str) -> float:
    """The smallest floor area the asset can cover at scale 1 in the given pose mode (m²)."""
    rotations = _stable_rotations(asset)[0] if pose == "stable" else [np.eye(3)]
    return min(Footprint(asset.hull_canonical @ r.T).polygon().area for r in rotations)


def _polygon_area(poly: tuple[tuple[float, float], ...]) -> float:
    x, y = np.asarray(poly).T
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)


def _area_for(loaded: LoadedScenario, info: SceneInfo, g: int, name: str | None,
              rng: np.random.Generator | None = None) -> PlacementArea:
    """The named area, the only area, or (unnamed, several areas) one drawn from ``rng``."""
    if name is not None:
        area = info.area(name)
        if area is None:
            known = ", ".join(a.name for a in info.placement_areas)
            raise ConfigError(f"{loaded.path}: objects[{g}].placement_area: no placement area "
                              f"'{name}' in the scene (found: {known})")
        return area
    if len(info.placement_areas) == 1 or rng is None:
        return info.placement_areas[0]
    return info.placement_areas[int(rng.integers(len(info.placement_areas)))]


@functools.lru_cache(maxsize=256)
def _stable_rotations(asset: Asset) -> tuple[np.ndarray, np.ndarray]:
    """Resting orientations of the asset's hull (3x3 each) and their probabilities."""
    hull = trimesh.Trimesh(asset.hull_canonical).convex_hull
    transforms, probs = trimesh.poses.compute_stable_poses(hull)
    return np.asarray([t[:3, :3] for t in transforms]), np.asarray(probs) / np.sum(probs)


def _rot_z(deg: float) -> np.ndarray:
    r = np.radians(deg)
    return np.array([[np.cos(r), -np.sin(r), 0.0], [np.sin(r), np.cos(r), 0.0], [0.0, 0.0, 1.0]])


def plan_objects(loaded: LoadedScenario, assets: list[list[Asset]], info: SceneInfo,
                 run_seed: int, scene: int) -> tuple[ObjectPlan, ...]:
    """Sample counts, assets, scales, orientations and non-overlapping positions for one scene."""
    sc = loaded.scenario
    rng = rng_for(run_seed, "scene", scene, "objects")
    placed: dict[str, list] = {a.name: [] for a in info.placement_areas}
    objects: list[ObjectPlan] = []
    for g, group in enumerate(sc.objects):
        for k in range(sample_int(group.count, rng)):
            asset = assets[g][int(rng.integers(len(assets[g])))]
            area = _area_for(loaded, info, g, group.placement_area, rng)
            scale = sample(group.scale, rng)
            yaw = sample(group.yaw_deg, rng)
            rest, stable_index = np.eye(3), None
            if group.pose == "stable":
                rotations, probs = _stable_rotations(asset)
                stable_index = int(rng.choice(len(probs), p=probs))
                rest = rotations[stable_index]
            linear = _rot_z(yaw) @ rest * scale
            footprint = Footprint(asset.hull_canonical @ linear.T)
            xy = place(footprint, area, placed[area.name], sc.placement.min_gap_m, rng,
                       sc.placement.max_tries)
            if xy is None:
                w, h = area.size_xy
                raise PlacementError(
                    f"scene {scene}: could not place object {k + 1} of objects[{g}] ('{asset.name}') "
                    f"on placement area '{area.name}' ({w:.2f} x {h:.2f} m) after "
                    f"{sc.placement.max_tries} tries with {len(placed[area.name])} objects already "
                    f"there; lower objects[{g}].count or scale, or placement.min_gap_m")
            world_from_canonical = np.eye(4)
            world_from_canonical[:3, :3] = linear
            world_from_canonical[:3, 3] = [xy[0], xy[1], area.z - footprint.z_min]
            objects.append(ObjectPlan(
                instance_id=len(objects) + 1, asset=asset, category=asset.category,
                obj_to_world=world_from_canonical @ asset.canonical_from_file,
                sampled={"group": g, "asset": asset.name, "placement_area": area.name,
                         "scale": scale, "yaw_deg": yaw, "pose": group.pose,
                         "stable_pose": stable_index, "position_m": [xy[0], xy[1],
                                                                      float(area.z - footprint.z_min)]}))
    return tuple(objects)


def plan_lights(loaded: LoadedScenario, info: SceneInfo, run_seed: int, scene: int) -> tuple[LightPlan, ...]:
    """Sample each light group's count, energy, colour temperature and position around the target."""
    rng = rng_for(run_seed, "scene", scene, "lights")
    target = np.asarray(info.camera_target)
    lights = []
    for group in loaded.scenario.lights:
        for _ in range(sample_int(group.count, rng)):
            s = {"type": group.type, "energy_w": sample(group.energy_w, rng),
                 "temperature_k": sample(group.temperature_k, rng),
                 "distance_m": sample(group.distance_m, rng),
                 "elevation_deg": sample(group.elevation_deg, rng),
                 "azimuth_deg": sample(group.azimuth_deg, rng)}
            if group.type == "sun":
                s["sun_angle_deg"] = sample(group.sun_angle_deg, rng)
            else:
                s["size_m"] = sample(group.size_m, rng)
            if group.type == "spot":
                s["spot_angle_deg"] = sample(group.spot_angle_deg, rng)
            eye = target + cam.spherical_offset(s["distance_m"], s["elevation_deg"], s["azimuth_deg"])
            lights.append(LightPlan(type=group.type, energy_w=s["energy_w"],
                                    color_rgb=kelvin_to_rgb(s["temperature_k"]),
                                    light_to_world=cam.opencv_to_blender(cam.look_at(eye, target)),
                                    sampled=s))
    return tuple(lights)


def plan_world(loaded: LoadedScenario, run_seed: int, scene: int) -> dict[str, Any]:
    world = loaded.scenario.world
    rng = rng_for(run_seed, "scene", scene, "world")
    out: dict[str, Any] = {}
    if world.color is not None:
        out["color"] = list(world.color)
    if world.strength is not None:
        out["strength"] = sample(world.strength, rng)
    return out


def plan_view(loaded: LoadedScenario, info: SceneInfo, run_seed: int, image_index: int) -> ViewPlan:
    """Sample one camera pose around the (jittered) camera target, looking at it."""
    c = loaded.scenario.camera
    rng = rng_for(run_seed, "image", image_index, "camera")
    s = {"distance_m": sample(c.distance_m, rng), "elevation_deg": sample(c.elevation_deg, rng),
         "azimuth_deg": sample(c.azimuth_deg, rng), "roll_deg": sample(c.roll_deg, rng),
         "target_offset_m": [sample(d, rng) for d in c.target_offset_m]}
    target = np.asarray(info.camera_target) + np.asarray(s["target_offset_m"])
    eye = target + cam.spherical_offset(s["distance_m"], s["elevation_deg"], s["azimuth_deg"])
    w, h = c.resolution
    return ViewPlan(image_index=image_index,
                    view_index=image_index % loaded.scenario.views_per_scene,
                    image_seed=seed_int(run_seed, "image", image_index),
                    K=cam.intrinsics(c), width=w, height=h,
                    cam_to_world=cam.look_at(eye, target, s["roll_deg"]), sampled=s)


def plan_scene(loaded: LoadedScenario, assets: list[list[Asset]], info: SceneInfo, run_seed: int,
               scene: int, image_indices: list[int]) -> ScenePlan:
    """The full plan of one scene, for the requested subset of its views."""
    v = loaded.scenario.views_per_scene
    wrong = [i for i in image_indices if scene_of(i, v) != scene]
    if wrong:
        raise ValueError(f"images {wrong} do not belong to scene {scene}")
    return ScenePlan(scene_index=scene, scene_seed=seed_int(run_seed, "scene", scene),
                     cycles_seed=seed_int(run_seed, "scene", scene, "cycles"),
                     objects=plan_objects(loaded, assets, info, run_seed, scene),
                     lights=plan_lights(loaded, info, run_seed, scene),
                     world=plan_world(loaded, run_seed, scene),
                     views=tuple(plan_view(loaded, info, run_seed, i) for i in sorted(image_indices)))

