"""Sensor pipeline and lens effects as pure functions."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from bproc_factory.config.seeding import rng_for
from bproc_factory.config.sensor import LensEffects, SensorProfile
from bproc_factory.qa.compare import image_stats
from bproc_factory.sensor.lens import apply_lens
from bproc_factory.sensor.pipeline import add_noise, apply_sensor, srgb_decode, srgb_encode, tone_encode
from bproc_factory.sensor.sample import sample_lens, sample_sensor
from bproc_factory.sensor.view_transform import LOOKS

GOLDEN = Path(__file__).parent / "data" / "standard_golden.npz"
IDENTITY_TONE = {"curve": "points", "points": [[0, 0], [1, 1]]}


def scene(h=96, w=128) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = np.full((h, w, 3), 0.18, np.float32)
    img[20:60, 30:90] = rng.uniform(0.05, 0.8, 3)
    return img


def test_default_pipeline_is_exposure_then_srgb():
    lin = np.array([[[0.0, 0.0031308, 0.18]], [[1.0, 2.0, -1.0]]], np.float32)
    out = apply_sensor(lin, sample_sensor(None, 0.0, 0), np.random.default_rng(0))
    assert out.tolist() == [[[0, 10, 118]], [[255, 255, 0]]]
    brighter = apply_sensor(np.full((1, 1, 3), 0.25, np.float32), {"exposure_ev": 1.0, "tone": {"curve": "srgb"}},
                            np.random.default_rng(0))
    assert brighter[0, 0, 0] == 188


def test_srgb_curve_round_trips():
    x = np.linspace(0, 1, 101)
    assert np.allclose(srgb_decode(srgb_encode(x)), x, atol=1e-9)


def test_a_known_colour_matrix_and_white_balance_are_applied_exactly():
    ccm = [[1.2, -0.1, -0.1], [-0.05, 1.1, -0.05], [0.0, -0.2, 1.2]]
    wb = [1.1, 1.0, 0.8]
    colours = np.random.default_rng(1).uniform(0.05, 0.6, (50, 1, 3)).astype(np.float32)
    out = apply_sensor(colours, {"exposure_ev": 0.0, "ccm": ccm, "white_balance": wb, "tone": IDENTITY_TONE},
                       np.random.default_rng(0)).reshape(-1, 3) / 255
    expected = np.clip(colours.reshape(-1, 3) @ np.array(ccm).T * wb, 0, 1)
    assert np.abs(out - expected).max() <= 0.5 / 255 + 1e-6
    recovered, *_ = np.linalg.lstsq(colours.reshape(-1, 3), out, rcond=None)
    assert np.allclose(recovered.T, np.diag(wb) @ np.array(ccm), atol=0.01)


def test_noise_statistics_follow_the_shot_plus_read_model():
    noise = {"full_well_e": 2000.0, "read_noise_e": 10.0, "channel_gain": [1.0, 1.0, 1.5]}
    for level in (0.02, 0.2, 0.8):
        flat = np.full((400, 400, 3), level, np.float32)
        noisy = add_noise(flat, noise, np.random.default_rng(3))
        model = np.sqrt(level * 2000 + 100) / 2000 * np.array([1.0, 1.0, 1.5])
        measured = (noisy - flat).reshape(-1, 3).std(axis=0)
        assert np.allclose(measured, model, rtol=0.02), (level, measured, model)
        assert abs(float((noisy - flat).mean())) < 1e-3


def test_tone_curves_map_black_to_black_and_white_to_white():
    for tone in ({"curve": "srgb"}, {"curve": "gamma", "gamma": 2.4}, IDENTITY_TONE,
                 {"curve": "points", "points": [[0, 0], [0.2, 0.5], [1, 1]]}):
        assert np.allclose(tone_encode(np.array([0.0, 1.0]), tone), [0.0, 1.0], atol=1e-12)
    assert tone_encode(np.array([0.2]), {"curve": "points", "points": [[0, 0], [0.2, 0.5], [1, 1]]})[0] == 0.5


def test_spatial_steps_do_what_they_say():
    img = scene()
    base = {"exposure_ev": 0.0, "tone": {"curve": "srgb"}}
    plain = apply_sensor(img, base, np.random.default_rng(0)).astype(float)
    grey = apply_sensor(img, {**base, "saturation": 0.0}, np.random.default_rng(0)).astype(float)
    assert np.abs(grey[..., 0] - grey[..., 1]).max() <= 1 and np.abs(plain[..., 0] - plain[..., 1]).max() > 20
    vignetted = apply_sensor(img, {**base, "vignetting": 0.5}, np.random.default_rng(0)).astype(float)
    assert vignetted[0, 0].mean() < 0.6 * plain[0, 0].mean() and abs(vignetted[48, 64] - plain[48, 64]).max() <= 1
    soft = apply_sensor(img, {**base, "softness_px": 1.5}, np.random.default_rng(0))
    assert image_stats(soft)["sharpness"] < 0.5 * image_stats(plain.astype(np.uint8))["sharpness"]
    blocky = apply_sensor(np.random.default_rng(1).random((96, 128, 3)).astype(np.float32),
                          {**base, "jpeg_quality": 10}, np.random.default_rng(0))
    assert image_stats(blocky)["blockiness"] > 1.1
    aberrated = apply_sensor(img, {**base, "chromatic_aberration_px": 3.0}, np.random.default_rng(0)).astype(float)
    assert np.abs(aberrated[..., 1] - plain[..., 1]).max() == 0  # green stays, red and blue move
    assert np.abs(aberrated[..., 0] - plain[..., 0]).max() > 20


def test_lens_effects_veil_darken_and_glow():
    img = scene()
    fogged = apply_lens(img, {"fog": {"density": 0.6, "coverage": 1.0, "blur_px": 2.0, "color": [0.9, 0.9, 0.9],
                                      "field_seed": 1}})
    assert fogged.std() < 0.8 * img.std()  # the veil washes out contrast
    assert abs(float(fogged.mean()) - float(img.mean())) < 0.05 * float(img.mean())  # scattered, not lost
    img[5:8, 5:8] = 20.0  # a bright highlight
    dusty = apply_lens(img, {"dust": {"spots": [[100, 80, 6, 0.5]], "smudges": []}})
    assert dusty[80, 100].mean() < 0.7 * img[80, 100].mean() and np.allclose(dusty[30, 40], img[30, 40])
    glowing = apply_lens(img, {"bloom": {"threshold": 1.0, "strength": 0.5, "radius_px": 3.0}})
    assert glowing[12, 12].mean() > img[12, 12].mean() + 0.05


def test_sampling_is_reproducible_and_respects_probabilities():
    profile = SensorProfile(exposure_ev={"uniform": [-1, 1]}, noise={"full_well_e": {"uniform": [500, 900]}},
                            jpeg_quality={"uniform": [40, 60]}, ccm=[[1, 0, 0], [0, 1, 0], [0, 0, 1]], ccm_jitter=0.02)
    a = sample_sensor(profile, 0.5, 4)
    assert a == sample_sensor(profile, 0.5, 4) and a != sample_sensor(profile, 0.5, 5)
    assert 40 <= a["jpeg_quality"] <= 60 and isinstance(a["jpeg_quality"], int)
    assert np.allclose(np.array(a["ccm"]).sum(axis=1), 1.0)  # jitter keeps white white
    effects = LensEffects(fog={"probability": 0.0}, dust={"probability": 1.0, "spots": 3})
    lens = sample_lens(effects, 64, 48, 0)
    assert "fog" not in lens and len(lens["dust"]["spots"]) == 3


def test_changing_one_setting_leaves_the_other_drawn_values_alone():
    settings = {"white_balance": [{"uniform": [0.8, 1.2]}, 1.0, {"uniform": [0.8, 1.2]}],
                "jpeg_quality": {"uniform": [40, 90]}, "ccm": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}
    a = sample_sensor(SensorProfile(**settings), 0.0, 7)
    b = sample_sensor(SensorProfile(**settings, ccm_jitter=0.02), 0.0, 7)
    assert a["white_balance"] == b["white_balance"] and a["jpeg_quality"] == b["jpeg_quality"]
    assert a["ccm"] != b["ccm"]
    dust = {"probability": 1.0, "spots": 4}
    without_fog = sample_lens(LensEffects(dust=dust), 64, 48, 3)
    with_fog = sample_lens(LensEffects(dust=dust, fog={"probability": 1.0}), 64, 48, 3)
    assert with_fog["dust"] == without_fog["dust"] and "fog" in with_fog


def test_bad_tone_points_are_refused():
    with pytest.raises(ValueError, match="increasing x"):
        SensorProfile(tone={"curve": "points", "points": [[0.5, 0.5], [0.2, 0.8]]})


def test_standard_view_transform_is_the_srgb_curve_with_a_hard_clip():
    params = sample_sensor(None, 0.0, 0, "standard")
    assert params == {"exposure_ev": 0.0, "tone": {"curve": "srgb"}}
    lin = np.random.default_rng(1).uniform(-0.5, 4.0, (16, 16, 3)).astype(np.float32)
    expected = np.round(np.clip(srgb_encode(np.clip(lin, 0.0, 1.0)), 0.0, 1.0) * 255.0).astype(np.uint8)
    assert np.array_equal(apply_sensor(lin, params, np.random.default_rng(0)), expected)


def test_standard_reproduces_the_pipeline_from_before_view_transforms_byte_for_byte():
    """Held to outputs made by the code before view transforms existed (tests/data/make_standard_golden.py
    run at 2bec495^): no profile and every shipped profile, three seeds each, same draws and same bytes."""
    spec = importlib.util.spec_from_file_location("make_standard_golden", GOLDEN.with_name("make_standard_golden.py"))
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    golden = np.load(GOLDEN)
    old_params = json.loads(str(golden["params"]))
    cases = maker.golden_cases()
    assert sorted(cases) == sorted(old_params) and len(cases) == 10
    image = maker.hdr_test_image()
    for name, (profile, seed) in cases.items():
        params = sample_sensor(profile, 0.5, seed, "standard")
        assert json.loads(json.dumps(params, sort_keys=True)) == old_params[name], name
        assert np.array_equal(apply_sensor(image, params, rng_for(seed, "sensor_noise")), golden[name]), name


def test_agx_and_filmic_roll_highlights_off_where_standard_clips():
    ramp = np.geomspace(0.5, 8.0, 64, dtype=np.float32)[None, :, None].repeat(3, axis=2)  # AgX: white near 16
    standard = apply_sensor(ramp, sample_sensor(None, 0.0, 0, "standard"), None)[0, :, 0]
    assert (standard[ramp[0, :, 0] >= 1.0] == 255).all()
    for view in ("agx", "filmic"):
        params = sample_sensor(None, 0.0, 0, view)
        assert params["tone"] == {"curve": view}
        out = apply_sensor(ramp, params, None)[0, :, 0].astype(int)
        assert out.max() < 255 and (np.diff(out) >= 0).all() and out[-1] > out[0] + 60, (view, out)


def test_a_sensor_profiles_own_tone_curve_replaces_the_view_transform():
    assert sample_sensor(SensorProfile(), 0.0, 0, "agx", "punchy")["tone"] == {"curve": "agx", "look": "punchy"}
    gamma = SensorProfile(tone={"curve": "gamma", "gamma": 2.0})
    assert sample_sensor(gamma, 0.0, 0, "agx")["tone"] == {"curve": "gamma", "gamma": 2.0}


BLENDER_VIEW = """
import sys
import numpy as np
import bpy

linear, out, view, look = sys.argv[1:5]
lin = np.load(linear)
h, w = lin.shape[:2]
image = bpy.data.images.new("linear", w, h, alpha=False, float_buffer=True)
image.colorspace_settings.name = "Linear Rec.709"
rgba = np.ones((h, w, 4), np.float32)
rgba[..., :3] = lin[::-1]  # Blender's rows run bottom-up
image.pixels.foreach_set(rgba.ravel())
scene = bpy.context.scene
scene.display_settings.display_device = "sRGB"
scene.view_settings.view_transform = view
scene.view_settings.look = look
scene.render.dither_intensity = 0.0
settings = scene.render.image_settings
settings.file_format, settings.color_mode, settings.color_depth = "PNG", "RGB", "8"
image.save_render(out, scene=scene)
"""


@pytest.mark.render
@pytest.mark.parametrize("view,look", [("agx", None), ("agx", "punchy"), ("filmic", None), ("filmic", "high_contrast")])
def test_the_view_transform_through_ocio_matches_blenders_own_within_1_of_255(view, look, tmp_path):
    rng = np.random.default_rng(0)
    linear = np.concatenate([rng.random((24, 48, 3)) * 8,  # bright colours, far past 1.0
                             np.tile(np.geomspace(1e-4, 64, 48)[None, :, None], (24, 1, 3)),  # a grey ramp
                             rng.random((24, 48, 3)) ** 3], axis=0).astype(np.float32)  # dark colours
    np.save(tmp_path / "linear.npy", linear)
    names = {"agx": "AgX", "filmic": "Filmic"}
    blender_look = "None" if look is None else LOOKS[view][look]
    subprocess.run([sys.executable, "-c", BLENDER_VIEW, str(tmp_path / "linear.npy"), str(tmp_path / "blender.png"),
                    names[view], blender_look], check=True, capture_output=True, timeout=300)
    theirs = cv2.imread(str(tmp_path / "blender.png"))[..., ::-1].astype(int)
    ours = apply_sensor(linear, {"exposure_ev": 0.0, "tone": {"curve": view, **({"look": look} if look else {})}},
                        None).astype(int)
    assert np.abs(theirs - ours).max() <= 1
