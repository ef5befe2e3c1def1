"""Lights of a scene (pure, seeded): each light group's count, energy, colour and pose, a
backplate's sun, and the scene's own lights' energy and colour."""
from __future__ import annotations

from typing import Any

import numpy as np

from bproc_factory.assets import SceneInfo
from bproc_factory.config import LoadedScenario, draw, rng_for, sample_int
from bproc_factory.plan.colour import kelvin_to_rgb
from bproc_factory.plan.records import LightPlan
from bproc_factory.plan.world import plan_sky
from bproc_factory.sensor import look_at, opencv_to_blender, spherical_offset


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
            eye = target + spherical_offset(s["distance_m"], s["elevation_deg"], s["azimuth_deg"])
            lights.append(LightPlan(type=group.type, energy_w=s["energy_w"],
                                    color_rgb=kelvin_to_rgb(s["temperature_k"]),
                                    light_to_world=opencv_to_blender(look_at(eye, target)),
                                    sampled=s))
    if loaded.scenario.world.sky is not None:  # the sky's sun, as a lamp: crisp shadows
        sky = plan_sky(loaded, scene_seed)
        eye = target + spherical_offset(10.0, sky["sun_elevation_deg"], sky["sun_azimuth_deg"])
        temperature = sun_temperature_k(sky["sun_elevation_deg"])
        s = {"type": "sun", "energy_w": sky["sun_strength"], "temperature_k": temperature,
             "elevation_deg": sky["sun_elevation_deg"], "azimuth_deg": sky["sun_azimuth_deg"],
             "sun_angle_deg": sky["sun_angle_deg"], "from": "sky"}
        lights.append(LightPlan(type="sun", energy_w=sky["sun_strength"], color_rgb=kelvin_to_rgb(temperature),
                                light_to_world=opencv_to_blender(look_at(eye, target)), sampled=s))
    sun = info.backplate.get("sun") if info.backplate else None
    if sun:  # the photo's sun, as annotated
        eye = target + spherical_offset(10.0, sun["elevation_deg"], sun["azimuth_deg"])
        s = {"type": "sun", "energy_w": sun["strength"], "elevation_deg": sun["elevation_deg"],
             "azimuth_deg": sun["azimuth_deg"], "sun_angle_deg": 0.5, "from": "backplate"}
        lights.append(LightPlan(type="sun", energy_w=sun["strength"], color_rgb=(1.0, 1.0, 1.0),
                                light_to_world=opencv_to_blender(look_at(eye, target)), sampled=s))
    return tuple(lights)


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


def sun_temperature_k(elevation_deg: float) -> float:
    """Colour temperature of direct sunlight by the sun's height: about 2000 K at the horizon (long
    path through air), 5800 K overhead; a smooth approximation of measured daylight."""
    return float(2000.0 + 3800.0 * np.sqrt(np.sin(np.radians(np.clip(elevation_deg, 0.0, 90.0)))))
