"""sensor fit recovers known profiles (stated tolerances), refuses unfit inputs, and works end to end
on the shipped examples; sensor compare finds the statistics that differ."""
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml
from conftest import REPO, cli

from bproc_factory.qa.compare import CompareError, compare, image_stats
from bproc_factory.sensor.chart import COLORCHECKER_CLASSIC_SRGB8, draw_chart, read_patches
from bproc_factory.sensor.fit import FitError, fit_chart, fit_pairs
from bproc_factory.sensor.pipeline import apply_sensor, srgb_decode

EXAMPLES = REPO / "examples" / "sensor_fit"
TRUTH = {"exposure_ev": -0.3, "ccm": [[1.2, -0.15, -0.05], [-0.1, 1.15, -0.05], [0.0, -0.25, 1.25]],
         "white_balance": [1.1, 1.0, 0.8], "noise": {"full_well_e": 4000.0, "read_noise_e": 8.0,
                                                    "channel_gain": [1.0, 1.0, 1.0]},
         "tone": {"curve": "gamma", "gamma": 2.0}}


def assert_recovers(profile: dict, truth: dict, noise_rtol: float) -> None:
    """The stated tolerances: CCM entries ±0.01, white balance ±1 %, gamma ±0.02, exposure
    ±0.02 EV, full-well capacity (noise level) ±25 %."""
    assert np.allclose(profile["ccm"], truth["ccm"], atol=0.01)
    assert np.allclose(profile["white_balance"], truth["white_balance"], rtol=0.01)
    assert abs(profile["tone"]["gamma"] - truth["tone"]["gamma"]) <= 0.02
    assert abs(profile["exposure_ev"] - truth["exposure_ev"]) <= 0.02
    assert profile["noise"]["full_well_e"] == pytest.approx(truth["noise"]["full_well_e"], rel=noise_rtol)


def synthetic_pairs(truth: dict, n: int = 3) -> tuple[list, list]:
    rng = np.random.default_rng(0)
    refs, prods = [], []
    for _ in range(n):
        img = np.clip(cv2.resize(rng.random((5, 6, 3)).astype(np.float32), (240, 180),
                                 interpolation=cv2.INTER_CUBIC), 0.05, 0.95)
        for _ in range(8):
            x, y = rng.integers(0, 200), rng.integers(0, 140)
            img[y:y + 40, x:x + 40] = rng.uniform(0.1, 0.9, 3)
        ref = np.round(img * 255).astype(np.uint8)
        refs.append(ref)
        prods.append(apply_sensor(srgb_decode(ref / 255).astype(np.float32), truth, rng))
    return refs, prods


def test_pairs_fit_recovers_a_known_profile():
    fit = fit_pairs(*synthetic_pairs(TRUTH))
    assert_recovers(fit.profile, TRUTH, noise_rtol=0.25)
    assert fit.mean_delta_e < 2.0


def test_chart_fit_recovers_a_known_profile():
    chart = draw_chart(COLORCHECKER_CLASSIC_SRGB8)
    photo = apply_sensor(srgb_decode(chart / 255).astype(np.float32), TRUTH, np.random.default_rng(1))
    h, w = chart.shape[:2]
    patches = read_patches(photo, np.array([[6, 6], [w - 6, 6], [w - 6, h - 6], [6, h - 6]], float))
    fit = fit_chart(patches, COLORCHECKER_CLASSIC_SRGB8)
    assert_recovers(fit.profile, TRUTH, noise_rtol=0.1)
    assert fit.profile["noise"]["read_noise_e"] == pytest.approx(TRUTH["noise"]["read_noise_e"], rel=0.3)
    assert fit.mean_delta_e < 0.5


def test_unfit_inputs_are_refused_with_a_reason():
    refs, prods = synthetic_pairs(TRUTH, 1)
    with pytest.raises(FitError, match="sizes differ"):
        fit_pairs(refs, [prods[0][:100]])
    with pytest.raises(FitError, match="usable pixels"):
        fit_pairs([np.zeros((50, 50, 3), np.uint8)], [np.zeros((50, 50, 3), np.uint8)])
    scrambled = [np.random.default_rng(5).integers(0, 255, prods[0].shape, dtype=np.uint8)]
    with pytest.raises(FitError, match="do not follow"):
        fit_pairs(refs, [cv2.GaussianBlur(scrambled[0], (0, 0), 3)])
    chart = draw_chart(COLORCHECKER_CLASSIC_SRGB8)
    blown = apply_sensor(srgb_decode(chart / 255).astype(np.float32), {**TRUTH, "exposure_ev": 3.0},
                         np.random.default_rng(0))
    h, w = chart.shape[:2]
    patches = read_patches(blown, np.array([[6, 6], [w - 6, 6], [w - 6, h - 6], [6, h - 6]], float))
    with pytest.raises(FitError, match="patches are clipped"):
        fit_chart(patches, COLORCHECKER_CLASSIC_SRGB8)


@pytest.mark.parametrize("mode", ["chart", "pairs"])
def test_sensor_fit_end_to_end_on_the_shipped_examples(tmp_path, mode):
    args = (["--chart", EXAMPLES / "chart.png", "--corners", EXAMPLES / "chart.yaml"] if mode == "chart" else
            ["--pairs", EXAMPLES / "pairs" / "reference", EXAMPLES / "pairs" / "production"])
    result = cli("sensor", "fit", *args, "-o", tmp_path / "fitted.yaml", check=True)
    assert "mean ΔE2000" in result.stdout
    profile = yaml.safe_load((tmp_path / "fitted.yaml").read_text())
    truth = yaml.safe_load((EXAMPLES / "truth.yaml").read_text())
    assert_recovers(profile, truth, noise_rtol=0.25)
    assert cv2.imread(str(tmp_path / "fitted_comparison.png")) is not None


def test_sensor_fit_refuses_bad_corner_files_clearly(tmp_path):
    corners = tmp_path / "c.yaml"
    corners.write_text("corners: [[0, 0], [9999, 0], [9999, 9999], [0, 9999]]\n")
    result = cli("sensor", "fit", "--chart", EXAMPLES / "chart.png", "--corners", corners, "-o", tmp_path / "p.yaml")
    assert result.returncode == 2 and "lie outside the 480x360 photo" in result.stderr
    corners.write_text("rows: 4\n")
    result = cli("sensor", "fit", "--chart", EXAMPLES / "chart.png", "--corners", corners, "-o", tmp_path / "p.yaml")
    assert result.returncode == 2 and "corners: required" in result.stderr


def test_shipped_examples_are_what_their_script_builds(tmp_path):
    copy = tmp_path / "examples"
    built = subprocess.run([sys.executable, str(EXAMPLES / "build_examples.py"), str(copy)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    for path in sorted(p for p in EXAMPLES.rglob("*") if p.is_file() and p.suffix in (".png", ".yaml")):
        assert (copy / path.relative_to(EXAMPLES)).read_bytes() == path.read_bytes(), path


def test_compare_finds_the_statistics_that_differ():
    rng = np.random.default_rng(0)
    clean = []
    for _ in range(6):
        img = np.clip(cv2.resize(rng.random((6, 8, 3)).astype(np.float32), (160, 120)), 0.05, 0.9)
        clean.append(apply_sensor(img, {"exposure_ev": 0.0, "tone": {"curve": "srgb"}}, rng))
    real = [apply_sensor(srgb_decode(c / 255).astype(np.float32),
                         {"exposure_ev": -1.0, "white_balance": [1.2, 1.0, 1.0], "tone": {"curve": "srgb"},
                          "noise": {"full_well_e": 300.0, "read_noise_e": 5.0, "channel_gain": [1, 1, 1]},
                          "jpeg_quality": 20}, rng) for c in clean]
    current = {"exposure_ev": 0.0, "white_balance": [1.0, 1.0, 1.0], "jpeg_quality": 95}
    findings = {f.stat: f for f in compare([image_stats(r) for r in real], [image_stats(c) for c in clean], current)}
    ev = float(re.search(r"exposure_ev by about ([-+][\d.]+)", findings["brightness"].verdict).group(1))
    assert -1.4 < ev < -0.6  # the real camera is one stop darker
    gain = float(re.search(r"white_balance R to about ([\d.]+)", findings["red_green"].verdict).group(1))
    assert 1.1 < gain < 1.35  # and 20 % redder
    assert findings["noise"].verdict.startswith("add noise")
    assert findings["blockiness"].verdict.startswith("lower jpeg_quality (now 95)")
    same = compare([image_stats(c) for c in clean], [image_stats(c) for c in clean])
    assert {f.verdict for f in same} == {"matches"}
    with pytest.raises(CompareError, match="at least 3 real"):
        compare([image_stats(clean[0])], [image_stats(c) for c in clean])


@pytest.mark.render
def test_sensor_compare_cli_writes_plots_and_a_verdict(rendered, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    for path in sorted((rendered / "images").glob("*.png")):  # the "real camera" is half as bright
        cv2.imwrite(str(real / path.name), (cv2.imread(str(path)) * 0.5).astype(np.uint8))
    result = cli("sensor", "compare", real, rendered, "-o", tmp_path / "gap", check=True)
    assert "change exposure_ev by about -" in result.stdout
    assert (tmp_path / "gap" / "verdict.md").is_file() and (tmp_path / "gap" / "brightness.png").is_file()
    result = cli("sensor", "compare", tmp_path / "nowhere", rendered, "-o", tmp_path / "gap2")
    assert result.returncode == 2 and "not a folder of images" in result.stderr
