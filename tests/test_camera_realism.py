"""Camera realism rendered for real: masks agree with OpenCV projection with and without strong
distortion; depth of field and motion blur change pixels but not labels; worst-case configs render."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh
import yaml
from conftest import REPO, cli, tiny_config, write_config

pytestmark = pytest.mark.render


@pytest.fixture(scope="module")
def cube_asset(tmp_path_factory) -> Path:
    """A finely subdivided 12 cm cube: projected triangles stay small, so straight-edged
    rasterisation follows distorted (curved) edges closely."""
    folder = tmp_path_factory.mktemp("cube")
    mesh = trimesh.creation.box(extents=(0.12, 0.12, 0.12))
    for _ in range(4):
        mesh = mesh.subdivide()
    mesh.export(folder / "mesh.obj")
    (folder / "asset.yaml").write_text(yaml.safe_dump({"name": "cube", "category": "cube", "mesh": "mesh.obj",
                                                       "up_axis": "z", "scale": 1.0}))
    return folder


def _camera_points(meta: dict, mesh: trimesh.Trimesh, obj: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    T = np.array(obj["obj_to_world"])
    world = mesh.vertices @ T[:3, :3].T + T[:3, 3]
    w2c = np.linalg.inv(np.array(meta["camera"]["cam_to_world"]))
    rvec, _ = cv2.Rodrigues(w2c[:3, :3])
    return world, rvec, w2c[:3, 3]


def projected_fisheye_mask(meta: dict, mesh: trimesh.Trimesh, obj: dict) -> np.ndarray:
    """The silhouette from cv2.fisheye.projectPoints under the recorded camera."""
    world, rvec, tvec = _camera_points(meta, mesh, obj)
    K, dist = np.array(meta["camera"]["K"]), np.array(meta["camera"]["dist"])
    uv, _ = cv2.fisheye.projectPoints(world.reshape(-1, 1, 3), rvec, tvec, K, dist)
    return rasterise(meta, mesh, uv)


def projected_mask(meta: dict, mesh: trimesh.Trimesh, obj: dict) -> np.ndarray:
    """The object's silhouette from cv2.projectPoints under the recorded camera, area-rasterised."""
    world, rvec, tvec = _camera_points(meta, mesh, obj)
    K, dist = np.array(meta["camera"]["K"]), np.array(meta["camera"]["dist"])
    uv, _ = cv2.projectPoints(world, rvec, tvec, K, dist)
    return rasterise(meta, mesh, uv)


def rasterise(meta: dict, mesh: trimesh.Trimesh, uv: np.ndarray) -> np.ndarray:
    """Area-rasterise projected triangles: 8x8 sub-pixels, pixels more than half covered."""
    s = 8
    hi = np.zeros((meta["height"] * s, meta["width"] * s), np.uint8)
    sub = (uv.reshape(-1, 2) + 0.5) * s - 0.5
    for tri in np.round(sub[mesh.faces] * 16).astype(np.int32):
        cv2.fillConvexPoly(hi, tri, 1, shift=4)
    return hi.reshape(meta["height"], s, meta["width"], s).mean(axis=(1, 3)) > 0.5


@pytest.mark.parametrize("model, coeffs, threshold", [
    ("brown_conrady", None, 0.995),
    ("brown_conrady", [-0.32, 0.12, 0.0008, -0.0005, -0.02], 0.98),
    ("brown_conrady", [{"uniform": [-0.3, -0.1]}, 0.05, 0.0, 0.0, 0.0], 0.98),  # sampled per image
    ("fisheye", [0.05, 0.01, 0.0, 0.0], 0.98)])
def test_cube_masks_agree_with_opencv_projection(tmp_path, pedestal_scene, cube_asset, model, coeffs, threshold):
    camera = {"resolution": [320, 240], "K": {"fx": 210.0, "fy": 211.0, "cx": 161.2, "cy": 118.4},
              "distance_m": 0.55, "elevation_deg": {"uniform": [20, 60]},
              "target_offset_m": [{"uniform": [-0.08, 0.08]}, {"uniform": [-0.08, 0.08]}, 0.0]}
    if coeffs:
        camera["distortion"] = {"model": model, "coeffs": coeffs}
    config = tiny_config(scene=str(pedestal_scene), views_per_scene=2, camera=camera,
                         objects=[{"assets": [str(cube_asset)], "count": 1}])
    out = tmp_path / "out"
    cli("render", write_config(tmp_path, config), "-o", out, "-n", "4", "--seed", "5", "-q", check=True)
    mesh = trimesh.load(cube_asset / "mesh.obj", force="mesh", process=False)
    for i in range(4):
        meta = json.loads((out / "meta" / f"{i:06d}.json").read_text())
        assert meta["camera"]["model"] == model and len(meta["camera"]["dist"]) == (4 if model == "fisheye" else 5)
        if coeffs and not isinstance(coeffs[0], dict):
            assert meta["camera"]["dist"] == coeffs
        mask = cv2.imread(str(out / "masks" / f"{i:06d}.png"), cv2.IMREAD_UNCHANGED) == 1
        projected = (projected_fisheye_mask if model == "fisheye" else projected_mask)(meta, mesh, meta["objects"][0])
        iou = (mask & projected).sum() / (mask | projected).sum()
        assert mask.sum() > 2000 and iou >= threshold, (i, iou)


SHARP_CAMERA = {"resolution": [128, 96], "K": {"fx": 150.0, "fy": 150.0, "cx": 63.5, "cy": 47.5},
                "distance_m": 0.8, "elevation_deg": {"uniform": [30, 50]}, "azimuth_deg": {"uniform": [-150, -30]}}
BLURS = {
    "defocus (focus on a distance)": {"dof": {"f_stop": 0.5, "focus": {"distance_m": 0.3}}},
    "defocus (focus on the target)": {"dof": {"f_stop": 0.3, "focus": "target"}, "distance_m": 0.8,
                                      "target_offset_m": [0.0, 0.0, 0.5]},
    "object motion": {"motion_blur": {"shutter_s": 0.05, "object_velocity_mps": [1.0, 0.0, 0.0]}},
    "camera shake": {"motion_blur": {"shutter_s": 0.05, "camera_speed_mps": 0.5, "camera_rotation_dps": 40.0}},
}


@pytest.mark.parametrize("blur", list(BLURS))
def test_depth_of_field_and_motion_blur_change_pixels_but_not_labels(tmp_path, blur):
    def render(name: str, camera: dict) -> Path:
        config = tiny_config(views_per_scene=2, camera=camera, render={"samples": 16, "noise_threshold": 0.0,
                                                                      "denoiser": "oidn"})
        cli("render", write_config(tmp_path, config, f"{name}.yaml"), "-o", tmp_path / name, "-n", "2",
            "--seed", "9", "-q", check=True)
        return tmp_path / name

    sharp = render("sharp", SHARP_CAMERA)
    blurred = render("blurred", {**SHARP_CAMERA, **BLURS[blur]})
    for i in range(2):
        name = f"{i:06d}.png"
        sharp_meta = json.loads((sharp / "meta" / f"{i:06d}.json").read_text())
        meta = json.loads((blurred / "meta" / f"{i:06d}.json").read_text())
        if sharp_meta["camera"] == meta["camera"]:  # the same pose: identical labels
            assert (sharp / "masks" / name).read_bytes() == (blurred / "masks" / name).read_bytes()
        crisp = cv2.imread(str(sharp / "images" / name)).astype(float)
        soft = cv2.imread(str(blurred / "images" / name)).astype(float)
        assert cv2.Laplacian(soft, cv2.CV_64F).var() < 0.85 * cv2.Laplacian(crisp, cv2.CV_64F).var(), blur
        assert ("dof" in meta["sampled"]["view"]) == ("dof" in BLURS[blur])
        assert ("motion" in meta["sampled"]["view"]) == ("motion_blur" in BLURS[blur])


@pytest.mark.parametrize("config", sorted(p.name for p in (REPO / "configs").glob("worstcase-*.yaml")))
def test_worst_case_configs_render_and_validate(tmp_path, config):
    from bproc_factory.run.preview import preview_overrides

    path = REPO / "configs" / config
    overrides = list(preview_overrides(path, (), 96, 4))
    out = tmp_path / "out"
    cli("render", path, "-o", out, "-n", "2", "-q", *[a for o in overrides for a in ("--set", o)], check=True)
    assert cli("validate", out).returncode == 0
    from bproc_factory.config.loader import load_scenario

    scenario = load_scenario(path).scenario
    for i in range(2):
        meta = json.loads((out / "meta" / f"{i:06d}.json").read_text())
        sampled = meta["sampled"]
        assert sampled["sensor"]["tone"]["curve"] == scenario.sensor.tone.curve
        assert ("noise" in sampled["sensor"]) == (scenario.sensor.noise is not None)
        assert ("dof" in sampled["view"]) == (scenario.camera.dof is not None)
        assert ("motion" in sampled["view"]) == (scenario.camera.motion_blur is not None)
        assert meta["camera"]["dist"] == ([d.constant for d in scenario.camera.distortion.coeffs]
                                          if scenario.camera.distortion else [0.0] * 5)


def test_an_unrenderable_lens_is_a_config_error_before_anything_is_written(tmp_path):
    config = tiny_config(camera={**tiny_config()["camera"],
                                 "distortion": {"coeffs": [-1.5, 0.8, 0.0, 0.0, 0.0]}})
    path = write_config(tmp_path, config)
    for args in (("check", path), ("render", path, "-o", tmp_path / "out", "-n", "1")):
        result = cli(*args)
        assert result.returncode == 2 and "camera.distortion: image 0" in result.stderr
        assert "not invertible" in " ".join(result.stderr.split())
    assert not (tmp_path / "out").exists()


def test_a_focal_length_in_mm_needs_the_sensor_width_and_check_warns_of_a_phone_lens_on_a_full_frame(tmp_path):
    camera = {k: v for k, v in tiny_config()["camera"].items() if k != "K"}
    missing = cli("check", write_config(tmp_path, tiny_config(camera={**camera, "focal_length_mm": 4})))
    assert missing.returncode == 2 and "camera: focal_length_mm: 4.0 mm needs sensor_width_mm" in \
        " ".join(missing.stderr.split())
    wide = cli("check", write_config(tmp_path, tiny_config(camera={**camera, "focal_length_mm": 4,
                                                                   "sensor_width_mm": 36})), check=True)
    said = " ".join(wide.stderr.split())
    assert "camera: a 155 deg horizontal field of view" in said
    assert "objects[0]: its smallest instances stand about 1 px across" in said
