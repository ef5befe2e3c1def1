"""Planning (pure): placement without overlap, determinism per image, fit checks, categories."""
import shutil

import numpy as np
import pytest
from conftest import tiny_config, write_config
from shapely.geometry import MultiPoint, Polygon

from bproc_factory.assets.asset import resolve_assets
from bproc_factory.assets.categories import category_ids
from bproc_factory.assets.environment import PlacementArea, SceneInfo
from bproc_factory.config import seed_int
from bproc_factory.config.loader import ConfigError, load_scenario
from bproc_factory.plan.fit import check_fit
from bproc_factory.plan.placement import PlacementError
from bproc_factory.plan.scene import group_by_scene, plan_scene

TABLE = SceneInfo(placement_areas=(PlacementArea("top", ((-0.6, -0.4), (0.6, -0.4), (0.6, 0.4), (-0.6, 0.4)),
                                                 0.75),), camera_target=(0.0, 0.0, 0.75))


def loaded_with(tmp_path, **changes):
    loaded = load_scenario(write_config(tmp_path, tiny_config(**changes)))
    return loaded, resolve_assets(loaded)


def world_hull(obj) -> np.ndarray:
    hull = obj.asset.hull_canonical
    file_pts = (hull - obj.asset.canonical_from_file[:3, 3]) @ np.linalg.inv(obj.asset.canonical_from_file[:3, :3]).T
    return file_pts @ obj.obj_to_world[:3, :3].T + obj.obj_to_world[:3, 3]


def test_objects_rest_on_the_area_inside_it_and_apart(tmp_path):
    loaded, assets = loaded_with(tmp_path, objects=[
        {"assets": tiny_config()["objects"][0]["assets"], "count": 8},
        {"assets": tiny_config()["objects"][1]["assets"], "count": 3, "pose": "stable"}])
    area = Polygon(TABLE.placement_areas[0].polygon_xy)
    for scene in range(10):
        plan = plan_scene(loaded, assets, TABLE, run_seed=3, scene=scene, image_indices=[2 * scene])
        footprints = []
        for obj in plan.objects:
            pts = world_hull(obj)
            assert np.isclose(pts[:, 2].min(), 0.75, atol=1e-9), "object floats or sinks"
            footprint = MultiPoint(pts[:, :2]).convex_hull
            assert area.contains(footprint)
            footprints.append(footprint)
        for i, a in enumerate(footprints):
            for b in footprints[i + 1:]:
                assert a.distance(b) >= loaded.scenario.placement.min_gap_m - 1e-9


def test_a_subset_of_views_plans_exactly_like_the_whole_scene(tmp_path):
    loaded, assets = loaded_with(tmp_path)
    whole = plan_scene(loaded, assets, TABLE, 7, 1, [2, 3])
    alone = plan_scene(loaded, assets, TABLE, 7, 1, [3])
    assert [o.sampled for o in whole.objects] == [o.sampled for o in alone.objects]
    assert whole.objects and len(alone.objects) == len(whole.objects)
    for a, b in zip(whole.objects, alone.objects, strict=True):
        np.testing.assert_array_equal(a.obj_to_world, b.obj_to_world)
    assert [lt.sampled for lt in whole.lights] == [lt.sampled for lt in alone.lights]
    assert np.array_equal(whole.views[1].cam_to_world, alone.views[0].cam_to_world)
    assert whole.cycles_seed == alone.cycles_seed


def test_another_noise_pattern_changes_only_cycles_seed_and_pattern_0_keeps_the_scene_seeds(tmp_path):
    plans = {}
    for pattern in (0, 1, 2):
        (tmp_path / str(pattern)).mkdir()
        render = {**tiny_config()["render"], "noise_pattern": pattern}
        plans[pattern] = plan_scene(*loaded_with(tmp_path / str(pattern), render=render), TABLE, 7, 1, [2, 3])
    assert plans[0].cycles_seed == seed_int(plans[0].scene_seed, "cycles")
    assert len({p.cycles_seed for p in plans.values()}) == 3
    for other in (plans[1], plans[2]):
        assert [o.sampled for o in other.objects] == [o.sampled for o in plans[0].objects]
        assert [lt.sampled for lt in other.lights] == [lt.sampled for lt in plans[0].lights]
        for a, b in zip(other.views, plans[0].views, strict=True):
            np.testing.assert_array_equal(a.cam_to_world, b.cam_to_world)


def test_duplicate_asset_names_in_one_config_are_refused(tmp_path):
    twin = tmp_path / "twin"
    shutil.copytree(tiny_config()["objects"][0]["assets"][0], twin)
    objects = tiny_config()["objects"]
    objects[0]["assets"].append(str(twin))
    with pytest.raises(ConfigError, match="asset name 'soda_can' is also used by"):
        loaded_with(tmp_path, objects=objects)


def test_different_seeds_or_scenes_give_different_plans(tmp_path):
    loaded, assets = loaded_with(tmp_path)
    a = plan_scene(loaded, assets, TABLE, 7, 0, [0])
    assert a.objects[0].sampled != plan_scene(loaded, assets, TABLE, 8, 0, [0]).objects[0].sampled
    assert a.objects[0].sampled != plan_scene(loaded, assets, TABLE, 7, 1, [2]).objects[0].sampled


def test_views_must_belong_to_the_scene(tmp_path):
    loaded, assets = loaded_with(tmp_path)
    with pytest.raises(ValueError, match="do not belong to scene 0"):
        plan_scene(loaded, assets, TABLE, 7, 0, [2])


def test_group_by_scene_splits_indices_by_views_per_scene():
    assert group_by_scene([5, 0, 1, 3], 2) == {0: [0, 1], 1: [3], 2: [5]}


def test_too_many_objects_for_the_area_fail_the_fit_check(tmp_path):
    loaded, assets = loaded_with(tmp_path, objects=[{"assets": tiny_config()["objects"][1]["assets"],
                                                     "count": 80}])
    with pytest.raises(ConfigError, match="need about 1.064 m² of floor, but placement area 'top' offers 0.960 m²"):
        check_fit(loaded, assets, TABLE)


def test_crowding_that_passes_the_fit_check_fails_placement_with_a_clear_message(tmp_path):
    loaded, assets = loaded_with(tmp_path, objects=[{"assets": tiny_config()["objects"][1]["assets"],
                                                     "count": 30}])
    check_fit(loaded, assets, TABLE)
    with pytest.raises(PlacementError, match=r"scene 0: could not place object \d+ of objects\[0\] "
                                             r"\('cereal_box'\) on placement area 'top'"):
        plan_scene(loaded, assets, TABLE, 1, 0, [0])


def test_unknown_placement_area_is_a_config_error(tmp_path):
    objects = tiny_config()["objects"]
    objects[0]["placement_area"] = "shelf"
    loaded, assets = loaded_with(tmp_path, objects=objects)
    with pytest.raises(ConfigError, match="objects\\[0\\].placement_area: no placement area 'shelf'"):
        plan_scene(loaded, assets, TABLE, 1, 0, [0])


def test_category_ids_are_sorted_names_from_one_or_the_configured_map(tmp_path):
    loaded, assets = loaded_with(tmp_path)
    assert category_ids(loaded, assets) == {"bottle": 1, "box": 2, "can": 3}
    loaded, assets = loaded_with(tmp_path, categories={"can": 10, "box": 20, "bottle": 30})
    assert category_ids(loaded, assets) == {"can": 10, "box": 20, "bottle": 30}
    loaded, assets = loaded_with(tmp_path, categories={"can": 10})
    with pytest.raises(ConfigError, match="categories: no id for bottle, box"):
        category_ids(loaded, assets)


def test_category_id_zero_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="categories.can: must be > 0"):
        loaded_with(tmp_path, categories={"can": 0, "box": 1, "bottle": 2})
