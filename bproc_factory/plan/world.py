"""The world of a scene (pure, seeded): its light colour and strength, and the library
materials swapped onto the scene's surfaces."""
from __future__ import annotations

from typing import Any

from bproc_factory.assets import SceneInfo, resolve_materials, sample_material
from bproc_factory.config import LoadedScenario, draw, rng_for


def plan_world(loaded: LoadedScenario, info: SceneInfo, scene_seed: int) -> dict[str, Any]:
    """The world colour and sampled strength: the config's, else (backplates) the photo's match."""
    world = loaded.scenario.world
    out: dict[str, Any] = dict(info.backplate["world"]) if info.backplate else {}
    if world.color is not None:
        out["color"] = list(world.color)
    if world.strength is not None:
        out["strength"] = draw(world.strength, scene_seed, "world", "strength")
    return out


def plan_surfaces(loaded: LoadedScenario, info: SceneInfo, scene_seed: int) -> dict[str, dict[str, Any]]:
    """For each swappable surface: whether it gets a library material this scene, which, and its
    drawn parameters."""
    cfg = loaded.scenario.surfaces
    if cfg is None:
        return {}
    specs = resolve_materials(cfg.materials, loaded.base_dir, f"{loaded.path}: surfaces.materials")  # even unused
    out = {}
    for surface in info.surfaces:
        rng = rng_for(scene_seed, "surfaces", surface)
        if rng.random() < cfg.probability:
            spec = specs[int(rng.integers(len(specs)))]
            out[surface] = sample_material(spec, scene_seed, "surfaces", surface, "params")
    return out
