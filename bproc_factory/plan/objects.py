"""Objects of a scene (pure, seeded): counts, assets, sizes, orientations, materials and
non-overlapping positions; occluders in front of targets; piles settled by physics."""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from bproc_factory.assets import (
    Asset,
    PlacementArea,
    SceneInfo,
    group_materials,
    resolve_material,
    sample_finish,
    sample_material,
)
from bproc_factory.config import LoadedScenario, rng_for, sample, sample_int
from bproc_factory.plan.fit import area_named
from bproc_factory.plan.physics import Body, random_rotation, settle
from bproc_factory.plan.placement import (
    Footprint,
    PlacementError,
    place,
    place_in_front,
    stable_rotations,
    stable_rotations_of,
)
from bproc_factory.plan.records import ObjectPlan, ViewPlan
from bproc_factory.sensor import rot_z


def _pick_area(loaded: LoadedScenario, info: SceneInfo, group: int, name: str | None,
               rng: np.random.Generator) -> PlacementArea:
    """The named area; unnamed: the only area, or one drawn at random when there are several."""
    if name is not None:
        return area_named(loaded, info, group, name)
    if len(info.placement_areas) == 1:
        return info.placement_areas[0]
    return info.placement_areas[int(rng.integers(len(info.placement_areas)))]


def plan_objects(loaded: LoadedScenario, assets: list[list[Asset]], info: SceneInfo,
                 scene_seed: int, scene: int, attempt: int = 0,
                 first_view: ViewPlan | None = None) -> tuple[ObjectPlan, ...]:
    """Sample counts, assets, sizes, orientations, materials and non-overlapping positions for one
    scene. Occluder groups (``occlusion.occluder_groups``) come last, each instance placed between
    the camera of ``first_view`` and a target instance that view sees. Attempt ``a > 0`` draws a
    fresh layout."""
    sc = loaded.scenario
    tag = (attempt,) if attempt else ()
    rng = rng_for(scene_seed, "objects", *tag)
    placed: dict[str, list] = {a.name: [] for a in info.placement_areas}
    objects: list[ObjectPlan] = []
    occluders = sc.occlusion.occluder_groups if sc.occlusion else []
    targets = set(sc.occlusion_target_groups())
    footprints: list[tuple[int, Any, np.ndarray]] = []  # target instances: (id, footprint, centre)
    drops = [g for g, group in enumerate(sc.objects) if group.pose == "drop" and g not in occluders]
    order = [g for g in range(len(sc.objects)) if g not in occluders and g not in drops] + list(occluders) + drops
    pending: dict[str, list[tuple[int, Body, np.ndarray]]] = {}  # per area: (index, body, shape) to settle
    drop_level = {a.name: a.z + 0.01 for a in info.placement_areas}
    for g in order:
        group = sc.objects[g]
        specs = group_materials(loaded, g)
        for k in range(sample_int(group.count, rng)):
            asset = assets[g][int(rng.integers(len(assets[g])))]
            area = _pick_area(loaded, info, g, group.placement_area, rng)
            scale = sample(group.scale, rng)
            yaw = sample(group.yaw_deg, rng)
            shape = np.eye(3) * scale
            size = None
            if group.size_m is not None:
                size = [sample(d, rng) for d in group.size_m]
                extent = np.ptp(asset.hull_canonical, axis=0)
                shape = np.diag(np.asarray(size) / np.maximum(extent, 1e-9))
            rest, stable_index = np.eye(3), None
            if group.pose == "drop":
                rest = random_rotation(rng)
            elif group.pose == "stable":
                rotations, probs = stable_rotations(asset) if size is None else \
                    stable_rotations_of(asset.hull_canonical @ shape.T)
                stable_index = int(rng.choice(len(probs), p=probs))
                rest = rotations[stable_index]
            linear = rot_z(yaw) @ rest @ shape
            footprint = Footprint(asset.hull_canonical @ linear.T)
            target_id, xy = None, None
            if group.pose == "drop":  # anywhere over the area; physics sorts out the overlaps
                xy = place(footprint, area, [], 0.0, rng, sc.placement.max_tries)
            elif g in occluders and first_view is not None:  # in front of a target in view, in random order
                eye_xy = first_view.cam_to_world[:2, 3]
                for t in rng.permutation(len(footprints)):
                    if not _in_view(first_view, footprints[t][2]):
                        continue
                    xy = place_in_front(footprint, area, placed[area.name], footprints[t][1], eye_xy,
                                        sc.placement.min_gap_m, rng, max(1, sc.placement.max_tries // 10))
                    if xy is not None:
                        target_id = footprints[t][0]
                        break
            if xy is None and group.pose != "drop":
                xy = place(footprint, area, placed[area.name], sc.placement.min_gap_m, rng,
                           sc.placement.max_tries)
            if xy is None:
                w, h = area.size_xy
                raise PlacementError(
                    f"scene {scene}: could not place object {k + 1} of objects[{g}] ('{asset.name}') "
                    f"on placement area '{area.name}' ({w:.2f} x {h:.2f} m) after "
                    f"{sc.placement.max_tries} tries with {len(placed[area.name])} objects already "
                    f"there; lower objects[{g}].count or scale, or placement.min_gap_m")
            if g in targets and group.pose != "drop":
                footprints.append((len(objects) + 1, placed[area.name][-1],
                                   np.array([xy[0], xy[1], area.z + np.ptp(footprint.hull_points[:, 2]) / 2])))
            position = [xy[0], xy[1], area.z - footprint.z_min]
            if group.pose == "drop":  # stacked in the air, clear of each other, to fall
                position[2] = drop_level[area.name] - footprint.z_min
                drop_level[area.name] += float(np.ptp(footprint.hull_points[:, 2])) + 0.01
                pending.setdefault(area.name, []).append(
                    (len(objects), Body(asset.hull_canonical @ shape.T, rot_z(yaw) @ rest, np.asarray(position)),
                     shape))
            world_from_canonical = np.eye(4)
            world_from_canonical[:3, :3] = linear
            world_from_canonical[:3, 3] = position
            sampled = {"group": g, "asset": asset.name, "placement_area": area.name,
                       "scale": scale, "yaw_deg": yaw, "stable_pose": stable_index, "position_m": position}
            if size is not None:
                sampled["size_m"] = size
            if target_id is not None:
                sampled["occludes"] = target_id
            material = finish = None
            choices = specs or ([resolve_material(asset.spec.material, asset.folder)] if asset.spec.material else [])
            if choices:  # the group's materials, else the asset's own library material
                spec = choices[int(rng.integers(len(choices)))]
                material = sample_material(spec, scene_seed, "objects", *tag, len(objects) + 1, "material")
                sampled["material"] = material
            elif asset.spec.finish is not None:
                finish = sample_finish(asset.spec.finish, scene_seed, "objects", *tag, len(objects) + 1, "finish")
                sampled["finish"] = finish
            objects.append(ObjectPlan(
                instance_id=len(objects) + 1, asset=asset,
                obj_to_world=world_from_canonical @ asset.canonical_from_file, sampled=sampled,
                category=group.category or asset.category, label=group.label, material=material, finish=finish))
    for area in info.placement_areas:
        if area.name in pending:
            _settle_area(objects, pending[area.name], area)
    return tuple(objects)


def _settle_area(objects: list[ObjectPlan], dropped: list[tuple[int, Body, np.ndarray]],
                 area: PlacementArea) -> None:
    """Replace the dropped objects' poses by where physics lets them come to rest."""
    indices = {k for k, _, _ in dropped}
    obstacles = [o.hull_world for k, o in enumerate(objects)
                 if k not in indices and o.sampled["placement_area"] == area.name]
    result = settle([body for _, body, _ in dropped], obstacles, area)
    for (k, _, shape), (rotation, translation) in zip(dropped, result.poses):
        o = objects[k]
        world_from_canonical = np.eye(4)
        world_from_canonical[:3, :3] = rotation @ shape
        world_from_canonical[:3, 3] = translation
        sampled = {**o.sampled, "drop_position_m": o.sampled["position_m"],
                   "position_m": [float(v) for v in translation],
                   "settle": {"seconds": result.seconds, "at_rest": result.at_rest,
                              "max_penetration_m": result.max_penetration_m}}
        objects[k] = dataclasses.replace(o, obj_to_world=world_from_canonical @ o.asset.canonical_from_file,
                                         sampled=sampled)


def _in_view(view: ViewPlan, point: np.ndarray) -> bool:
    """Whether ``point`` (world) projects inside the view's image, in front of the camera."""
    world_to_cam = np.linalg.inv(view.cam_to_world)
    p = world_to_cam[:3, :3] @ point + world_to_cam[:3, 3]
    if p[2] <= 0:
        return False
    u, v = view.K[0, 0] * p[0] / p[2] + view.K[0, 2], view.K[1, 1] * p[1] / p[2] + view.K[1, 2]
    return 0 <= u < view.width and 0 <= v < view.height
