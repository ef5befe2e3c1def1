"""Scenario loading: every error names the file and the key path; --set overrides."""
import os
import re
from pathlib import Path

import pytest
import yaml
from conftest import TABLETOP, tiny_config, write_config

from bproc_factory.config.loader import ConfigError, apply_override, load_scenario


def load(tmp_path: Path, config: dict, *overrides: str):
    return load_scenario(write_config(tmp_path, config), overrides)


def error_of(tmp_path: Path, config: dict, *overrides: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, config, *overrides)
    return str(info.value)


def test_valid_config_loads_and_hash_is_stable(tmp_path):
    a = load(tmp_path, tiny_config())
    reordered = load(tmp_path, dict(reversed(list(tiny_config().items()))))  # same config, keys in another order
    changed = load(tmp_path, tiny_config(views_per_scene=3))
    assert len(a.sha256) == 64 and a.sha256 == reordered.sha256 and a.sha256 != changed.sha256
    assert a.scenario.views_per_scene == 2


def test_negative_count_names_file_and_key_path(tmp_path):
    config = tiny_config()
    config["objects"][1]["count"] = -1
    message = error_of(tmp_path, config)
    assert message.startswith(str(tmp_path / "scenario.yaml"))
    assert "objects[1].count: must be >= 0" in message


def test_unknown_key_suggests_the_closest_name(tmp_path):
    config = tiny_config()
    config["render"]["samplez"] = 3
    assert "render.samplez: unknown key (did you mean 'samples'?)" in error_of(tmp_path, config)


def test_wrong_type_is_reported_with_the_value(tmp_path):
    config = tiny_config()
    config["camera"]["resolution"] = ["wide", 48]
    assert "camera.resolution[0]: input should be a valid integer" in error_of(tmp_path, config)


def test_missing_asset_folder_is_named(tmp_path):
    config = tiny_config()
    config["objects"][0]["assets"].append("no/such/asset")
    message = error_of(tmp_path, config)
    assert "objects[0].assets: asset folder 'no/such/asset' not found" in message


def test_missing_scene_file_is_named(tmp_path):
    message = error_of(tmp_path, tiny_config(scene="gone.blend"))
    assert "scene: scene file 'gone.blend' not found" in message


def test_more_instances_per_image_than_ids_allow_is_refused(tmp_path):
    config = tiny_config()
    config["objects"][0]["count"] = 9000
    config["objects"][1]["count"] = {"uniform": [0, 1000]}
    assert "objects: up to 10000 objects per image; at most 9999" in error_of(tmp_path, config)


def test_all_problems_are_listed_together(tmp_path):
    config = tiny_config()
    config["render"]["samples"] = 0
    config["render"]["denoiser"] = "magic"
    message = error_of(tmp_path, config)
    assert "2 problems" in message and "render.samples: must be > 0" in message
    assert "render.denoiser: must be one of 'none' or 'oidn'" in message


def test_yaml_syntax_error_names_the_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("scene: a.blend\ncamera: [1, 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken.yaml: line 3, column 1: invalid YAML"):
        load_scenario(path)


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    folder = tmp_path / "configs"
    folder.mkdir()
    config = tiny_config(scene=os.path.relpath(TABLETOP, folder))
    loaded = load_scenario(write_config(folder, config))
    assert loaded.resolve(loaded.scenario.scene) == TABLETOP


def test_set_overrides_nested_keys_and_list_items(tmp_path):
    loaded = load(tmp_path, tiny_config(), "render.samples=16", "objects[1].count={uniform: [0, 2]}",
                  "camera.resolution=[32, 24]", "camera.K.cx=15.5", "camera.K.cy=11.5")
    sc = loaded.scenario
    assert sc.render.samples == 16 and sc.camera.resolution == (32, 24)
    assert sc.objects[1].count.uniform == (0, 2)
    assert loaded.sha256 != load(tmp_path, tiny_config()).sha256


@pytest.mark.parametrize("item, message", [
    ("render.samples", "expected key.path=value"),
    ("objects[5].count=1", "objects[5] is out of range (the list has 2 entries)"),
    ("render.samples.x=1", "render.samples is a int, not a mapping"),
    ("objects.count=1", "objects is a list, not a mapping"),
    ("objects[0][1]=1", "objects[0] is not a list"),
])
def test_bad_set_overrides_say_what_is_wrong(item, message):
    raw = yaml.safe_load(yaml.safe_dump(tiny_config()))
    with pytest.raises(ConfigError, match=re.escape(message)):
        apply_override(raw, item)


def test_override_with_a_typo_is_caught_by_validation(tmp_path):
    assert "render.sampels: unknown key" in error_of(tmp_path, tiny_config(), "render.sampels=3")


DEMO = Path(__file__).resolve().parent.parent / "configs" / "demo.yaml"


def test_the_set_examples_of_the_cli_docs_load_on_the_demo():
    text = (DEMO.parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    examples = re.findall(r'`--set "?([^`"]+)"?`', text)
    assert len(examples) >= 3, examples
    for item in examples:
        load_scenario(DEMO, [item])


def test_a_new_resolution_scales_the_inline_intrinsics_with_it():
    camera = load_scenario(DEMO, ["camera.resolution=[320,240]"]).scenario.camera
    assert camera.resolution == (320, 240)
    assert (camera.K.fx, camera.K.fy, camera.K.cx, camera.K.cy) == (310.0, 310.0, 159.5, 119.5)


def test_a_profile_beside_inline_intrinsics_is_refused_naming_both():
    with pytest.raises(ConfigError, match=r"demo.yaml: camera: the profile 'cameras/phone_main.yaml' is a whole "
                                          r"lens, and K given beside it"):
        load_scenario(DEMO, ["camera.profile=cameras/phone_main.yaml"])
    swapped = load_scenario(DEMO, ["camera.profile=cameras/phone_main.yaml", "camera.K=null"]).scenario.camera
    profile = yaml.safe_load((DEMO.parent / "cameras" / "phone_main.yaml").read_text())
    assert swapped.K.fx == profile["K"]["fx"] and swapped.distortion is not None


def test_a_resolution_beside_a_profile_scales_the_profiles_intrinsics():
    lowlight = DEMO.parent / "worstcase-lowlight.yaml"  # camera: profile: cameras/phone_main.yaml (640x480)
    camera = load_scenario(lowlight, ["camera.resolution=[320,240]"]).scenario.camera
    profile = yaml.safe_load((DEMO.parent / "cameras" / "phone_main.yaml").read_text())
    assert camera.resolution == (320, 240) and camera.K.fx == profile["K"]["fx"] / 2
    assert camera.K.cx == (profile["K"]["cx"] + 0.5) / 2 - 0.5
    assert list(camera.distortion.coeffs) == list(load_scenario(lowlight).scenario.camera.distortion.coeffs)
