"""Scenario + (run seed, image indices) -> ScenePlan: every sampled value, as plain data (pure).

A scene (objects, lights, world) is shared by ``views_per_scene`` consecutive images. Scene ``s``
has the seed ``scene_seed = seed_int(run_seed, "scene", s)`` and image ``i`` the seed
``image_seed = seed_int(run_seed, "image", i)``. Camera, lens, sensor, light and world values each
draw from their own stream of those (``rng_for(image_seed, "camera", "elevation")``...), so a
change to one setting leaves the others' values as they were; the object layout draws in sequence
from ``rng_for(scene_seed, "objects")`` (counts, assets and poses depend on one another). Both
seeds are recorded, and any subset of a scene's views plans identically, on any worker, in any order.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial import Delaunay

from bproc_factory.sensor import camera as cam
from bproc_factory.assets.asset import Asset
from bproc_factory.plan.colour import kelvin_to_rgb
from bproc_factory.config.distributions import sample, sample_int
from bproc_factory.config.camera import MotionBlur
from bproc_factory.config.loader import ConfigError, LoadedScenario
from bproc_factory.sensor.distortion import Canvas, DistortionError, cached_canvas
from bproc_factory.plan.fit import area_named
from bproc_factory.assets.materials import MaterialSpec, resolve_materials, sample_material
from bproc_factory.plan.placement import (Footprint, PlacementError, place, place_in_front, stable_rotations,
                                     stable_rotations_of)
from bproc_factory.plan.physics import Body, random_rotation, settle
from bproc_factory.assets.environment import PlacementArea, SceneInfo
from bproc_factory.config.seeding import draw, rng_for, seed_int
from bproc_factory.sensor.sample import sample_lens, sample_sensor


@dataclass(frozen=True)
class ObjectPlan:
    instance_id: int
    asset: Asset = field(repr=False)
    obj_to_world: np.ndarray = field(repr=False)  # 4x4: mesh-file coordinates -> world metres
    sampled: dict[str, Any]
    category: str = ""
    label: str = "category"  # category | background | ignore (the group's `label`)
    material: dict[str, Any] | None = None  # a drawn library material replacing the asset's own

    @property
    def hull_world(self) -> np.ndarray:
        """The convex-hull points of the placed object, world metres (N x 3)."""
        world_from_canonical = self.obj_to_world @ np.linalg.inv(self.asset.canonical_from_file)
        return self.asset.hull_canonical @ world_from_canonical[:3, :3].T + world_from_canonical[:3, 3]


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
    distortion: dict[str, Any] | None = None  # {"model", "coeffs"} in OpenCV order
    dof: dict[str, float] | None = None  # {"f_stop", "focus_distance_m"}
    motion: dict[str, Any] | None = None  # shutter and velocities, see plan_motion
    sensor: dict[str, Any] = field(default_factory=dict)  # sensor.sample.sample_sensor
    lens: dict[str, Any] = field(default_factory=dict)  # sensor.sample.sample_lens

    def canvas(self) -> Canvas:
        """The pinhole image Blender renders for this view (larger than the output under distortion)."""
        if self.distortion is None:
            return Canvas(K=self.K, width=self.width, height=self.height)
        return cached_canvas(tuple(map(tuple, self.K.tolist())), self.width, self.height,
                             tuple(self.distortion["coeffs"]), self.distortion["model"])


@dataclass(frozen=True)
class ScenePlan:
    scene_index: int
    scene_seed: int
    cycles_seed: int
    objects: tuple[ObjectPlan, ...]
    lights: tuple[LightPlan, ...]
    world: dict[str, Any]
    views: tuple[ViewPlan, ...]
    surfaces: dict[str, dict[str, Any]] = field(default_factory=dict)  # object -> drawn material
    scene_lights: dict[str, dict[str, Any]] = field(default_factory=dict)  # light -> energy scale, colour
    attempt: int = 0  # which draw of the object layout (occlusion targets re-draw it)


def scene_of(image_index: int, views_per_scene: int) -> int:
    return image_index // views_per_scene


def group_by_scene(indices: list[int], views_per_scene: int) -> dict[int, list[int]]:
    """Image indices grouped by their scene, both in ascending order."""
    groups: dict[int, list[int]] = {}
    for i in sorted(indices):
        groups.setdefault(scene_of(i, views_per_scene), []).append(i)
    return groups


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
        specs = _group_materials(loaded, g)
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
            linear = cam.rot_z(yaw) @ rest @ shape
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
                    (len(objects), Body(asset.hull_canonical @ shape.T, cam.rot_z(yaw) @ rest, np.asarray(position)),
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
            material = None
            if specs:
                spec = specs[int(rng.integers(len(specs)))]
                material = sample_material(spec, scene_seed, "objects", *tag, len(objects) + 1, "material")
                sampled["material"] = material
            objects.append(ObjectPlan(
                instance_id=len(objects) + 1, asset=asset,
                obj_to_world=world_from_canonical @ asset.canonical_from_file, sampled=sampled,
                category=group.category or asset.category, label=group.label, material=material))
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


def _group_materials(loaded: LoadedScenario, g: int) -> list[MaterialSpec]:
    return resolve_materials(loaded.scenario.objects[g].materials or [], loaded.base_dir,
                             f"{loaded.path}: objects[{g}].materials")


def plan_lights(loaded: LoadedScenario, info: SceneInfo, scene_seed: int,
                first_view: dict[str, Any]) -> tuple[LightPlan, ...]:
    """Sample each light group's count, energy, colour temperature and position around the target;
    each value of each light from its own stream. Glare lights mirror ``first_view``'s camera
    (its sampled elevation and azimuth) about the target."""
    target = np.asarray(info.camera_target)
    lights = []
    for g, group in enumerate(loaded.scenario.lights):
        for k in range(sample_int(group.count, rng_for(scene_seed, "lights", g, "count"))):
            key = ("lights", g, k)
            s = {"type": group.type, "energy_w": draw(group.energy_w, scene_seed, *key, "energy"),
                 "temperature_k": draw(group.temperature_k, scene_seed, *key, "temperature"),
                 "distance_m": draw(group.distance_m, scene_seed, *key, "distance")}
            if group.aim == "glare":
                jitter = draw(group.glare_jitter_deg, scene_seed, *key, "glare_jitter")
                angle = float(rng_for(scene_seed, *key, "glare_direction").uniform(0, 2 * np.pi))
                s["elevation_deg"] = float(np.clip(first_view["elevation_deg"] + jitter * np.sin(angle), -90, 90))
                s["azimuth_deg"] = first_view["azimuth_deg"] + 180.0 + jitter * np.cos(angle)
                s["aim"] = "glare"
            else:
                s["elevation_deg"] = draw(group.elevation_deg, scene_seed, *key, "elevation")
                s["azimuth_deg"] = draw(group.azimuth_deg, scene_seed, *key, "azimuth")
            if group.type == "sun":
                s["sun_angle_deg"] = draw(group.sun_angle_deg, scene_seed, *key, "sun_angle")
            else:
                s["size_m"] = draw(group.size_m, scene_seed, *key, "size")
            if group.type == "spot":
                s["spot_angle_deg"] = draw(group.spot_angle_deg, scene_seed, *key, "spot_angle")
            eye = target + cam.spherical_offset(s["distance_m"], s["elevation_deg"], s["azimuth_deg"])
            lights.append(LightPlan(type=group.type, energy_w=s["energy_w"],
                                    color_rgb=kelvin_to_rgb(s["temperature_k"]),
                                    light_to_world=cam.opencv_to_blender(cam.look_at(eye, target)),
                                    sampled=s))
    sun = info.backplate.get("sun") if info.backplate else None
    if sun:  # the photo's sun, as annotated
        eye = target + cam.spherical_offset(10.0, sun["elevation_deg"], sun["azimuth_deg"])
        s = {"type": "sun", "energy_w": sun["strength"], "elevation_deg": sun["elevation_deg"],
             "azimuth_deg": sun["azimuth_deg"], "sun_angle_deg": 0.5, "from": "backplate"}
        lights.append(LightPlan(type="sun", energy_w=sun["strength"], color_rgb=(1.0, 1.0, 1.0),
                                light_to_world=cam.opencv_to_blender(cam.look_at(eye, target)), sampled=s))
    return tuple(lights)


def plan_world(loaded: LoadedScenario, info: SceneInfo, scene_seed: int) -> dict[str, Any]:
    """The world colour and sampled strength: the config's, else (backplates) the photo's match."""
    world = loaded.scenario.world
    out: dict[str, Any] = dict(info.backplate["world"]) if info.backplate else {}
    if world.color is not None:
        out["color"] = list(world.color)
    if world.strength is not None:
        out["strength"] = draw(world.strength, scene_seed, "world", "strength")
    return out


def plan_view(loaded: LoadedScenario, info: SceneInfo, run_seed: int, image_index: int) -> ViewPlan:
    """Sample one view: camera pose around the (jittered) target, inside the scene's camera region
    if it has one (or the scene's fixed camera), and the camera's distortion, depth of field and
    motion, the sensor's parameters and the lens obstructions of this image. Each value draws
    from its own stream of the image seed, so changing one setting (a sweep) leaves the others."""
    sc = loaded.scenario
    c = sc.camera_or_default
    seed = seed_int(run_seed, "image", image_index)
    if info.fixed_camera is not None:
        if c.distortion is not None:
            raise ConfigError(f"{loaded.path}: camera.distortion: a photo backplate is rendered with the "
                              "photo's own (undistorted) camera; remove the distortion")
        fixed = info.fixed_camera
        K, (w, h) = np.asarray(fixed.K), (fixed.width, fixed.height)
        pose, s = np.asarray(fixed.cam_to_world), {"fixed_camera": True}
    else:
        K, (w, h) = cam.intrinsics(c), c.resolution
        pose, s = _sample_pose(loaded, info, seed, image_index)
    distortion = None
    if c.distortion is not None:
        distortion = {"model": c.distortion.model,
                      "coeffs": [draw(d, seed, "distortion", k) for k, d in enumerate(c.distortion.coeffs)]}
        s["distortion"] = distortion
    dof = None
    if c.dof is not None:
        look_at = s.get("distance_m", float(np.linalg.norm(pose[:3, 3] - np.asarray(info.camera_target))))
        focus = look_at if c.dof.focus == "target" else draw(c.dof.focus.distance_m, seed, "dof", "focus")
        dof = {"f_stop": draw(c.dof.f_stop, seed, "dof", "f_stop"), "focus_distance_m": focus}
        s["dof"] = dof
    motion = plan_motion(c.motion_blur, seed) if c.motion_blur else None
    if motion:
        s["motion"] = motion
    view = ViewPlan(image_index=image_index, view_index=image_index % sc.views_per_scene,
                    image_seed=seed, K=K, width=w, height=h, cam_to_world=pose, sampled=s,
                    distortion=distortion, dof=dof, motion=motion,
                    sensor=sample_sensor(sc.sensor, sc.render.exposure_ev, seed),
                    lens=sample_lens(sc.lens, w, h, seed))
    try:
        view.canvas()  # a lens that cannot be rendered is a config error, found while planning
    except DistortionError as exc:
        raise ConfigError(f"{loaded.path}: camera.distortion: image {image_index}: {exc}") from None
    return view


def _sample_pose(loaded: LoadedScenario, info: SceneInfo, seed: int,
                 image_index: int) -> tuple[np.ndarray, dict[str, Any]]:
    """A look-at pose from the config's ranges; with camera regions, redrawn (each try from its own
    streams) until the camera stands inside one of them."""
    c = loaded.scenario.camera_or_default
    regions = [Delaunay(np.asarray(r)) for r in info.camera_regions]
    for attempt in range(c.pose_tries if regions else 1):
        tag = () if attempt == 0 else (attempt,)
        s: dict[str, Any] = {
            "distance_m": draw(c.distance_m, seed, "camera", "distance", *tag),
            "elevation_deg": draw(c.elevation_deg, seed, "camera", "elevation", *tag),
            "azimuth_deg": draw(c.azimuth_deg, seed, "camera", "azimuth", *tag),
            "roll_deg": draw(c.roll_deg, seed, "camera", "roll", *tag),
            "target_offset_m": [draw(d, seed, "camera", "target", k, *tag) for k, d in enumerate(c.target_offset_m)]}
        target = np.asarray(info.camera_target) + np.asarray(s["target_offset_m"])
        eye = target + cam.spherical_offset(s["distance_m"], s["elevation_deg"], s["azimuth_deg"])
        if not regions or any(r.find_simplex(eye) >= 0 for r in regions):
            if regions:
                s["pose_tries"] = attempt + 1
            return cam.look_at(eye, target, s["roll_deg"]), s
    raise ConfigError(f"{loaded.path}: camera: image {image_index}: no pose inside the scene's camera region "
                      f"after {c.pose_tries} tries; widen camera.distance_m, elevation_deg or azimuth_deg "
                      "to reach the region, or the region itself")


def _unit_vector(rng: np.random.Generator) -> list[float]:
    v = rng.normal(size=3)
    return (v / np.linalg.norm(v)).tolist()


def plan_motion(blur: MotionBlur, seed: int) -> dict[str, Any]:
    """Shutter time and the camera's and objects' velocities during it (world frame)."""
    speed = draw(blur.camera_speed_mps, seed, "motion", "camera_speed")
    return {"shutter_s": draw(blur.shutter_s, seed, "motion", "shutter"),
            "camera_velocity_mps": (np.asarray(_unit_vector(rng_for(seed, "motion", "direction"))) * speed).tolist(),
            "camera_rotation_axis": _unit_vector(rng_for(seed, "motion", "axis")),
            "camera_rotation_dps": draw(blur.camera_rotation_dps, seed, "motion", "rotation"),
            "object_velocity_mps": [draw(d, seed, "motion", "objects", k)
                                    for k, d in enumerate(blur.object_velocity_mps)]}


def plan_surfaces(loaded: LoadedScenario, info: SceneInfo, scene_seed: int) -> dict[str, dict[str, Any]]:
    """For each swappable surface: whether it gets a library material this scene, which, and its
    drawn parameters."""
    cfg = loaded.scenario.surfaces
    if cfg is None or not info.surfaces:
        return {}
    specs = resolve_materials(cfg.materials, loaded.base_dir, f"{loaded.path}: surfaces.materials")
    out = {}
    for surface in info.surfaces:
        rng = rng_for(scene_seed, "surfaces", surface)
        if rng.random() < cfg.probability:
            spec = specs[int(rng.integers(len(specs)))]
            out[surface] = sample_material(spec, scene_seed, "surfaces", surface, "params")
    return out


def plan_scene_lights(loaded: LoadedScenario, info: SceneInfo, scene_seed: int) -> dict[str, dict[str, Any]]:
    """Energy scale and (optionally) colour temperature for each of the scene's own lights."""
    cfg = loaded.scenario.scene_lights
    if cfg is None:
        return {}
    out = {}
    for name in info.lights:
        values: dict[str, Any] = {"energy_scale": draw(cfg.energy_scale, scene_seed, "scene_lights", name, "energy")}
        if cfg.temperature_k is not None:
            values["temperature_k"] = draw(cfg.temperature_k, scene_seed, "scene_lights", name, "temperature")
            values["color_rgb"] = list(kelvin_to_rgb(values["temperature_k"]))
        out[name] = values
    return out


def plan_scene(loaded: LoadedScenario, assets: list[list[Asset]], info: SceneInfo, run_seed: int,
               scene: int, image_indices: list[int], attempt: int = 0) -> ScenePlan:
    """The full plan of one scene, for the requested subset of its views; ``attempt`` re-draws the
    object layout only (camera, lights and world stay)."""
    v = loaded.scenario.views_per_scene
    wrong = [i for i in image_indices if scene_of(i, v) != scene]
    if wrong:
        raise ValueError(f"images {wrong} do not belong to scene {scene}")
    scene_seed = seed_int(run_seed, "scene", scene)
    first = plan_view(loaded, info, run_seed, scene * v)  # glare lights and occluders aim for it
    return ScenePlan(scene_index=scene, scene_seed=scene_seed,
                     cycles_seed=seed_int(scene_seed, "cycles"),
                     objects=plan_objects(loaded, assets, info, scene_seed, scene, attempt, first),
                     lights=plan_lights(loaded, info, scene_seed, _pose_angles(first, info)),
                     world=plan_world(loaded, info, scene_seed),
                     views=tuple(plan_view(loaded, info, run_seed, i) for i in sorted(image_indices)),
                     surfaces=plan_surfaces(loaded, info, scene_seed),
                     scene_lights=plan_scene_lights(loaded, info, scene_seed), attempt=attempt)


def _pose_angles(view: ViewPlan, info: SceneInfo) -> dict[str, float]:
    """Elevation and azimuth of a view's camera as seen from the camera target."""
    d = view.cam_to_world[:3, 3] - np.asarray(info.camera_target)
    return {"elevation_deg": float(np.degrees(np.arcsin(d[2] / np.linalg.norm(d)))),
            "azimuth_deg": float(np.degrees(np.arctan2(d[1], d[0])))}
