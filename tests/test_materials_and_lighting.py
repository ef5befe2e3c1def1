"""The material library and lighting presets (pure): valid, reproducible from the seed, and
where they should be."""
import hashlib
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, tiny_config, write_config

from bproc_factory.assets.asset import resolve_assets
from bproc_factory.assets.environment import PlacementArea, SceneInfo
from bproc_factory.assets.materials import LIBRARY, load_material, resolve_material, sample_material
from bproc_factory.config.loader import ConfigError, load_scenario
from bproc_factory.plan.scene import plan_scene

TABLE = SceneInfo(placement_areas=(PlacementArea("top", ((-0.6, -0.4), (0.6, -0.4), (0.6, 0.4), (-0.6, 0.4)),
                                                 0.75),), camera_target=(0.0, 0.0, 0.75),
                  surfaces=("floor", "wall"), lights=("lamp",))


def test_the_library_has_the_promised_materials_and_each_is_valid():
    names = {p.stem for p in LIBRARY.glob("*.yaml")}
    assert {"painted_metal", "brushed_steel", "wood", "cardboard", "plastic", "fabric", "concrete", "rubber"} <= names
    for name in names:
        assert load_material(LIBRARY / f"{name}.yaml").name == name


def test_material_draws_are_reproducible_and_within_their_ranges():
    spec = resolve_material("wood", REPO)
    a, b = sample_material(spec, 3, "x"), sample_material(spec, 3, "x")
    assert a == b and a != sample_material(spec, 4, "x")
    assert 0.3 <= a["roughness"] <= 0.6 and a["metallic"] == 0.0 and a["pattern"] == "wood"
    assert all(0 <= c <= 1 for c in a["color"] + a["color2"])


def test_unknown_material_names_the_config_key(tmp_path):
    loaded = load_scenario(write_config(tmp_path, tiny_config(surfaces={"materials": ["wood", "unobtainium"]})))
    with pytest.raises(ConfigError, match=r"surfaces.materials\[1\]: material 'unobtainium' not found"):
        plan_scene(loaded, resolve_assets(loaded), TABLE, 0, 0, [0])


def test_surfaces_and_scene_lights_are_drawn_per_scene_from_the_seed(tmp_path):
    loaded = load_scenario(write_config(tmp_path, tiny_config(
        surfaces={"materials": ["wood", "concrete"]}, scene_lights={"energy_scale": {"uniform": [0.5, 2]},
                                                                     "temperature_k": 3000})))
    assets = resolve_assets(loaded)
    a = plan_scene(loaded, assets, TABLE, 1, 0, [0])
    assert a.surfaces == plan_scene(loaded, assets, TABLE, 1, 0, [1]).surfaces  # views share the scene
    assert set(a.surfaces) == {"floor", "wall"} and a.scene_lights["lamp"]["energy_scale"] >= 0.5
    assert a.surfaces != plan_scene(loaded, assets, TABLE, 1, 1, [2]).surfaces


@pytest.mark.parametrize("preset", sorted(p.name for p in (REPO / "configs" / "lighting").glob("*.yaml")))
def test_each_lighting_preset_loads_and_comes_before_the_scenarios_lights(tmp_path, preset):
    config = tiny_config(lighting=str(REPO / "configs" / "lighting" / preset))
    loaded = load_scenario(write_config(tmp_path, config))
    own = tiny_config()["lights"]
    first = plan_scene(loaded, resolve_assets(loaded), TABLE, 9, 0, [0])
    assert loaded.scenario.lights[-1].type == own[-1]["type"]
    assert len(first.lights) > len(own), "the preset adds lights (its own, or a sky's sun)"
    again = plan_scene(loaded, resolve_assets(loaded), TABLE, 9, 0, [0])
    assert [lt.sampled for lt in first.lights] == [lt.sampled for lt in again.lights]  # from the seed
    assert first.world == again.world
    other = plan_scene(loaded, resolve_assets(loaded), TABLE, 10, 0, [0])
    assert [lt.sampled for lt in first.lights] != [lt.sampled for lt in other.lights]


def test_glare_lights_sit_where_the_surface_mirrors_the_camera(tmp_path):
    loaded = load_scenario(write_config(tmp_path, tiny_config(
        views_per_scene=1, lights=[{"type": "area", "aim": "glare", "glare_jitter_deg": 0.0}])))
    plan = plan_scene(loaded, resolve_assets(loaded), TABLE, 4, 0, [0])
    camera = plan.views[0].cam_to_world[:3, 3] - np.array(TABLE.camera_target)
    light = plan.lights[0].light_to_world[:3, 3] - np.array(TABLE.camera_target)
    mirrored = np.array([-camera[0], -camera[1], camera[2]])
    assert np.allclose(light / np.linalg.norm(light), mirrored / np.linalg.norm(mirrored), atol=1e-6)


def test_camera_poses_stay_inside_the_camera_region(tmp_path):
    region = tuple((x, y, z) for x in (-1.0, 1.0) for y in (-2.0, -0.5) for z in (1.0, 2.0))
    info = SceneInfo(placement_areas=TABLE.placement_areas, camera_target=TABLE.camera_target,
                     camera_regions=(region,))
    loaded = load_scenario(write_config(tmp_path, tiny_config(camera={
        **tiny_config()["camera"], "azimuth_deg": {"uniform": [0, 360]}, "distance_m": {"uniform": [0.5, 2.0]}})))
    for scene in range(10):
        eye = plan_scene(loaded, resolve_assets(loaded), info, 0, scene, [2 * scene]).views[0].cam_to_world[:3, 3]
        assert -1 <= eye[0] <= 1 and -2 <= eye[1] <= -0.5 and 1 <= eye[2] <= 2
    far = SceneInfo(placement_areas=TABLE.placement_areas, camera_target=TABLE.camera_target,
                    camera_regions=(tuple((x + 50, y, z) for x, y, z in region),))
    with pytest.raises(ConfigError, match="no pose inside the scene's camera region after 200 tries"):
        plan_scene(loaded, resolve_assets(loaded), far, 0, 0, [0])


HDRI = REPO / "assets" / "hdri" / "studio.hdr"


def test_a_sky_brings_a_sun_lamp_from_the_skys_own_sun_direction(tmp_path):
    sky = {"sun_elevation_deg": 30.0, "sun_azimuth_deg": 120.0, "sun_strength": 5.0, "strength": 0.2}
    loaded = load_scenario(write_config(tmp_path, tiny_config(world={"sky": sky})))
    plan = plan_scene(loaded, resolve_assets(loaded), TABLE, 3, 0, [0])
    assert {k: plan.world["sky"][k] for k in sky} == sky and plan.world["sky"]["sun_angle_deg"] == 0.53
    sun = plan.lights[-1]
    assert sun.type == "sun" and sun.sampled["from"] == "sky" and sun.energy_w == 5.0
    towards_sun = sun.light_to_world[:3, 3] - np.array(TABLE.camera_target)
    el, az = np.radians(30.0), np.radians(120.0)
    assert np.allclose(towards_sun / np.linalg.norm(towards_sun), [np.cos(el) * np.cos(az), np.cos(el) * np.sin(az),
                                                                    np.sin(el)], atol=1e-9)
    assert np.allclose(-sun.light_to_world[:3, 2], -towards_sun / np.linalg.norm(towards_sun), atol=1e-9)  # shines down it
    low = plan_scene(load_scenario(write_config(tmp_path, tiny_config(world={"sky": {**sky, "sun_elevation_deg": 5}}),
                                                "low.yaml")), resolve_assets(loaded), TABLE, 3, 0, [0]).lights[-1]
    assert low.sampled["temperature_k"] < sun.sampled["temperature_k"] - 1000  # a low sun is warmer


def test_an_hdri_is_planned_with_its_hash_and_a_rotation_per_scene(tmp_path):
    loaded = load_scenario(write_config(tmp_path, tiny_config(world={"hdri": {"file": str(HDRI), "strength": 0.5}})))
    worlds = [plan_scene(loaded, resolve_assets(loaded), TABLE, s, 0, [0]).world["hdri"] for s in range(3)]
    assert worlds[0]["file"] == "studio.hdr" and worlds[0]["strength"] == 0.5
    assert worlds[0]["sha256"] == hashlib.sha256(HDRI.read_bytes()).hexdigest()
    assert len({w["rotation_deg"] for w in worlds}) == 3 and all(0 <= w["rotation_deg"] < 360 for w in worlds)


def test_a_presets_hdri_is_found_beside_the_preset_and_a_scenarios_own_world_replaces_it(tmp_path):
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "p.yaml").write_text(f"world: {{hdri: {{file: ../{HDRI.name}}}}}\n")
    (tmp_path / HDRI.name).write_bytes(HDRI.read_bytes())
    (tmp_path / "configs").mkdir()
    loaded = load_scenario(write_config(tmp_path / "configs", tiny_config(lighting="../presets/p.yaml")))
    assert Path(loaded.scenario.world.hdri.file) == (tmp_path / HDRI.name).resolve()
    own = load_scenario(write_config(tmp_path / "configs", tiny_config(lighting="../presets/p.yaml",
                                                                       world={"sky": {}}), "own.yaml"))
    assert own.scenario.world.hdri is None and own.scenario.world.sky is not None


def test_an_assets_own_material_and_finish_are_drawn_per_instance_and_a_groups_materials_win(tmp_path):
    demo = REPO / "assets" / "demo"
    config = tiny_config(objects=[{"assets": [str(demo / "bottle")], "count": 2},
                                  {"assets": [str(demo / "soda_can")], "count": 2},
                                  {"assets": [str(demo / "bottle")], "count": 1, "materials": ["rubber"]}])
    loaded = load_scenario(write_config(tmp_path, config))
    objects = plan_scene(loaded, resolve_assets(loaded), TABLE, 5, 0, [0]).objects
    bottles, cans, painted = objects[:2], objects[2:4], objects[4]
    assert all(o.sampled["material"]["material"] == "tinted_glass" and o.finish is None for o in bottles)
    assert bottles[0].sampled["material"] != bottles[1].sampled["material"], "drawn per instance"
    for can in cans:
        assert can.material is None and 0.85 <= can.finish["metallic"] <= 1.0 and 0.3 <= can.finish["anisotropic"] <= 0.7
    assert painted.sampled["material"]["material"] == "rubber"
