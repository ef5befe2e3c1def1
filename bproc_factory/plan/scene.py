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

import numpy as np

from bproc_factory.assets import Asset, SceneInfo
from bproc_factory.config import LoadedScenario, seed_int
from bproc_factory.plan.lights import plan_lights, plan_scene_lights
from bproc_factory.plan.objects import plan_objects
from bproc_factory.plan.records import ScenePlan, ViewPlan
from bproc_factory.plan.views import plan_view
from bproc_factory.plan.world import plan_surfaces, plan_world


def scene_of(image_index: int, views_per_scene: int) -> int:
    return image_index // views_per_scene


def group_by_scene(indices: list[int], views_per_scene: int) -> dict[int, list[int]]:
    """Image indices grouped by their scene, both in ascending order."""
    groups: dict[int, list[int]] = {}
    for i in sorted(indices):
        groups.setdefault(scene_of(i, views_per_scene), []).append(i)
    return groups


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
                     cycles_seed=_cycles_seed(scene_seed, loaded.scenario.render.noise_pattern),
                     objects=plan_objects(loaded, assets, info, scene_seed, scene, attempt, first),
                     lights=plan_lights(loaded, info, scene_seed, _pose_angles(first, info)),
                     world=plan_world(loaded, info, scene_seed),
                     views=tuple(plan_view(loaded, info, run_seed, i) for i in sorted(image_indices)),
                     surfaces=plan_surfaces(loaded, info, scene_seed),
                     scene_lights=plan_scene_lights(loaded, info, scene_seed), attempt=attempt)


def _cycles_seed(scene_seed: int, noise_pattern: int) -> int:
    """Cycles' seed: pattern 0 is the scene's own (as before the key existed), others independent of it."""
    return seed_int(scene_seed, "cycles") if noise_pattern == 0 else seed_int(scene_seed, "cycles", noise_pattern)


def _pose_angles(view: ViewPlan, info: SceneInfo) -> dict[str, float]:
    """Elevation and azimuth of a view's camera as seen from the camera target."""
    d = view.cam_to_world[:3, 3] - np.asarray(info.camera_target)
    return {"elevation_deg": float(np.degrees(np.arcsin(d[2] / np.linalg.norm(d)))),
            "azimuth_deg": float(np.degrees(np.arctan2(d[1], d[0])))}
