"""The world of a scene (pure, seeded): its light colour and strength, and the library
materials swapped onto the scene's surfaces."""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from bproc_factory.assets import SceneInfo, sample_material, surface_materials
from bproc_factory.config import LoadedScenario, draw, rng_for


def plan_world(loaded: LoadedScenario, info: SceneInfo, scene_seed: int) -> dict[str, Any]:
    """The world light: the config's colour and strength, sky or HDRI (each value drawn per scene),
    else (backplates) the photo's match."""
    world = loaded.scenario.world
    out: dict[str, Any] = dict(info.backplate["world"]) if info.backplate else {}
    if world.color is not None:
        out["color"] = list(world.color)
    if world.strength is not None:
        out["strength"] = draw(world.strength, scene_seed, "world", "strength")
    if world.sky is not None:
        out["sky"] = plan_sky(loaded, scene_seed)
    if world.hdri is not None:
        hdri = world.hdri
        path = loaded.resolve(hdri.file)
        out["hdri"] = {"file": path.name, "sha256": file_sha256(path), "path": str(path),  # meta drops the path
                       "strength": draw(hdri.strength, scene_seed, "world", "hdri", "strength"),
                       "rotation_deg": draw(hdri.rotation_deg, scene_seed, "world", "hdri", "rotation") % 360.0}
    return out


def plan_sky(loaded: LoadedScenario, scene_seed: int) -> dict[str, Any]:
    """The scene's sky values (the world and its sun lamp both read them; each from its own stream)."""
    sky = loaded.scenario.world.sky
    return {key: draw(getattr(sky, key), scene_seed, "world", "sky", key)
            for key in ("sun_elevation_deg", "sun_azimuth_deg", "air", "dust", "ozone", "strength", "sun_strength",
                        "sun_angle_deg")}


def plan_surfaces(loaded: LoadedScenario, info: SceneInfo, scene_seed: int) -> dict[str, dict[str, Any]]:
    """For each swappable surface: whether it gets a library material this scene, which, and its
    drawn parameters."""
    cfg = loaded.scenario.surfaces
    if cfg is None:
        return {}
    specs = surface_materials(loaded)  # resolved even on a scene without surfaces: a bad name is refused
    out = {}
    for surface in info.surfaces:
        rng = rng_for(scene_seed, "surfaces", surface)
        if rng.random() < cfg.probability:
            spec = specs[int(rng.integers(len(specs)))]
            out[surface] = sample_material(spec, scene_seed, "surfaces", surface, "params")
    return out


@functools.lru_cache(maxsize=32)
def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read once per process: which HDRI lit a scene, wherever it was stored."""
    return hashlib.sha256(path.read_bytes()).hexdigest()
