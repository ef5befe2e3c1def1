"""Render once, develop many: kept scene-linear renders, `develop`, and sweeps over post-render keys."""
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, cli, tiny_config, write_config

from bproc_factory.config import POST_RENDER_KEYS, is_post_render, load_scenario, render_differences
from bproc_factory.dataset import half_linear
from bproc_factory.dataset.folder import encode_linear

SENSORS = REPO / "configs" / "sensors"
# the source keeps its linear renders; developed for another sensor, lens fog, exposure and JPEG files
SOURCE_SETS = ("render.keep_linear=true",)
DEVELOP_SETS = (f"sensor.profile={SENSORS / 'cheap_industrial.yaml'}", "lens={fog: {probability: 1.0}}",
                "render.exposure_ev=0.7", "render.image_format=jpg", "render.keep_linear=false")


def files(folder: Path) -> dict[str, bytes]:
    """Every file of a dataset folder by relative path (the lock file aside)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock"}


@pytest.fixture(scope="module")
def kept(tmp_path_factory) -> tuple[Path, Path]:
    """A 3-image render through a distorting lens and the reference phone, its linear renders kept."""
    tmp = tmp_path_factory.mktemp("develop")
    camera = {**tiny_config()["camera"], "distortion": {"coeffs": [-0.12, 0.03, 0.0, 0.0, 0.0]}}
    config = write_config(tmp, tiny_config(camera=camera, sensor={"profile": str(SENSORS / "reference_phone.yaml")}))
    out = tmp / "kept"
    cli("render", config, "-o", out, "-n", "3", "--seed", "5", "-q",
        *[a for s in SOURCE_SETS for a in ("--set", s)], check=True)
    return config, out


@pytest.mark.render
def test_develop_equals_a_full_render_with_the_same_settings_byte_for_byte(kept, tmp_path):
    config, source = kept
    assert sorted(p.name for p in (source / "linear").iterdir()) == ["000000.exr", "000001.exr", "000002.exr"]
    sets = [a for s in DEVELOP_SETS for a in ("--set", s)]
    result = cli("develop", source, "-o", tmp_path / "developed", *sets, check=True)
    assert "Developed 3 images" in result.stdout
    rendered = tmp_path / "rendered"
    cli("render", config, "-o", rendered, "-n", "3", "--seed", "5", "-q",
        *[a for s in SOURCE_SETS for a in ("--set", s)], *sets, check=True)
    developed, full = files(tmp_path / "developed"), files(rendered)
    assert sorted(developed) == sorted(full)
    assert "images/000000.jpg" in full and not any(name.startswith("linear/") for name in full)
    assert [name for name in full if developed[name] != full[name]] == []
    meta = json.loads(full["meta/000000.json"])
    assert "fog" in meta["sampled"]["lens"] and meta["sampled"]["sensor"]["exposure_ev"] != 0
    assert files(source)["masks/000001.png"] == full["masks/000001.png"]  # labels are the render's


@pytest.mark.render
def test_develop_refuses_a_scene_key_and_a_dataset_without_linear_renders(kept, tmp_path):
    config, source = kept
    result = cli("develop", source, "-o", tmp_path / "a", "--set", "render.samples=2")
    assert result.returncode == 2 and "render.samples would change the render itself" in result.stderr
    assert not (tmp_path / "a").exists()
    plain = tmp_path / "plain"
    cli("develop", source, "-o", plain, "--set", "render.keep_linear=false", check=True)
    result = cli("develop", plain, "-o", tmp_path / "b")
    assert result.returncode == 2 and "plain/linear/000000.exr: missing (3 of 3" in " ".join(result.stderr.split())
    assert not (tmp_path / "b").exists()
    result = cli("develop", source, "-o", source)
    assert result.returncode == 2 and "not into the source dataset" in result.stderr


@pytest.mark.render
def test_develop_refuses_when_the_source_config_changed(kept, tmp_path):
    config, source = kept
    copy = tmp_path / "copy"
    copy.mkdir()
    for name, data in files(source).items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    identity = json.loads((copy / "run.json").read_text())
    edited = tmp_path / "edited.yaml"
    edited.write_text(Path(config).read_text().replace("samples: 8", "samples: 9"))
    (copy / "run.json").write_text(json.dumps({**identity, "config_path": str(edited)}))
    result = cli("develop", copy, "-o", tmp_path / "out")
    assert result.returncode == 2 and "changed since these images were rendered" in result.stderr


@pytest.mark.render
def test_a_sweep_over_post_render_keys_renders_once_and_each_subset_equals_its_own_render(tmp_path):
    config = write_config(tmp_path, tiny_config())
    out = tmp_path / "sweep"
    profiles = [str(SENSORS / name) for name in ("reference_phone.yaml", "cheap_industrial.yaml",
                                                 "lowlight_noisy.yaml")]
    result = cli("render", config, "-o", out, "-n", "2", "--seed", "4", "-q", "--sweep",
                 f"sensor.profile={','.join(profiles)}", check=True)
    assert result.stdout.count("Rendered 2 images") == 1 and result.stdout.count("Developed 2 images") == 2
    subsets = [s["path"] for s in json.loads((out / "sweep.json").read_text())["subsets"]]
    assert len(subsets) == 3 and not any((out / s / "linear").exists() for s in subsets)  # kept only to develop
    last = next(s for s in subsets if "lowlight" in s)
    alone = tmp_path / "alone"
    meta = json.loads((out / last / "meta" / "000000.json").read_text())
    cli("render", config, "-o", alone, "-n", "2", "--seed", "4", "-q", "--set",
        f"sensor.profile={profiles[2]}", check=True)
    developed, rendered = files(out / last), files(alone)
    assert "noise" in meta["sampled"]["sensor"]
    for name in rendered:
        if name.startswith(("images/", "masks/")):
            assert developed[name] == rendered[name], name
    assert {k: v for k, v in meta.items() if k != "subset"} == json.loads(rendered["meta/000000.json"])
    again = cli("render", config, "-o", out, "-n", "2", "--seed", "4", "-q", "--sweep",
                f"sensor.profile={','.join(profiles)}", check=True)  # complete: nothing is rendered again
    assert "Rendered 0 images (0 instances, 2 already complete)" in again.stdout


def test_post_render_keys_are_declared_once_and_any_other_key_changes_the_render(tmp_path):
    assert is_post_render("sensor.profile") and is_post_render("lens") and is_post_render("render.jpeg_quality")
    assert not is_post_render("render.samples") and not is_post_render("sensorium") and not is_post_render("camera")
    assert {k.split(".")[0] for k in POST_RENDER_KEYS} == {"sensor", "lens", "render"}
    path = write_config(tmp_path, tiny_config())
    base = load_scenario(path).scenario
    post = load_scenario(path, ["render.exposure_ev=1", f"sensor.profile={SENSORS / 'cheap_industrial.yaml'}",
                                "render.image_format=jpg"]).scenario
    assert render_differences(base, post) == []
    scene = load_scenario(path, ["render.samples=3", "objects[1].pose=upright", "render.exposure_ev=2"]).scenario
    assert render_differences(base, scene) == ["objects[1].pose", "render.samples"]


def test_linear_renders_are_kept_exactly_at_half_precision(tmp_path):
    import cv2

    rng = np.random.default_rng(0)
    linear = half_linear(np.concatenate([rng.random((6, 8, 3)) * 40, np.full((1, 8, 3), 1e6)]).astype(np.float32))
    assert linear.max() == 65504.0  # clipped to the largest half float, not infinity
    path = tmp_path / "x.exr"
    path.write_bytes(encode_linear(linear))
    back = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert back.dtype == np.float32 and np.array_equal(back, linear)
    assert np.array_equal(half_linear(linear), linear)
