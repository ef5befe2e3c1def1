"""Views of a scene (pure, seeded): the camera's pose, distortion, depth of field and motion,
the sensor's parameters and the lens obstructions of each image."""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial import Delaunay

from bproc_factory.assets import SceneInfo
from bproc_factory.config import ConfigError, LoadedScenario, MotionBlur, draw, rng_for, seed_int
from bproc_factory.plan.records import ViewPlan
from bproc_factory.sensor import DistortionError, intrinsics, look_at, sample_lens, sample_sensor, spherical_offset


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
        K, (w, h) = intrinsics(c), c.resolution
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
                    sensor=sample_sensor(sc.sensor, sc.render.exposure_ev, seed, sc.view_transform, sc.render.look),
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
        eye = target + spherical_offset(s["distance_m"], s["elevation_deg"], s["azimuth_deg"])
        if not regions or any(r.find_simplex(eye) >= 0 for r in regions):
            if regions:
                s["pose_tries"] = attempt + 1
            return look_at(eye, target, s["roll_deg"]), s
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
