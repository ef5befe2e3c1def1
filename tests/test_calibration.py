"""Camera profiles: importing OpenCV and COLMAP calibrations, and profile files in scenarios."""
import json

import cv2
import numpy as np
import pytest
import yaml
from conftest import REPO, cli, tiny_config, write_config

from bproc_factory.config.loader import ConfigError, load_scenario
from bproc_factory.sensor.calibration import read_calibration


def opencv_yaml(path, K, dist, size=(640, 480), fisheye=False):
    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    fs.write("image_width", size[0])
    fs.write("image_height", size[1])
    fs.write("camera_matrix", np.array(K, float))
    fs.write("distortion_coefficients", np.array([dist], float))
    if fisheye:
        fs.write("distortion_model", "fisheye")
    fs.release()
    return path


def test_opencv_yaml_calibration_imports_exactly(tmp_path):
    path = opencv_yaml(tmp_path / "cam.yaml", [[600, 0, 320], [0, 602, 241], [0, 0, 1]], [-0.2, 0.05, 0.001, -0.002, 0.01])
    profile = read_calibration(path)
    assert profile["resolution"] == [640, 480]
    assert profile["K"] == {"fx": 600.0, "fy": 602.0, "cx": 320.0, "cy": 241.0}
    assert profile["distortion"] == {"model": "brown_conrady", "coeffs": [-0.2, 0.05, 0.001, -0.002, 0.01]}


def test_opencv_json_and_fisheye_calibrations_import(tmp_path):
    path = tmp_path / "cam.json"
    path.write_text(json.dumps({"camera_matrix": [[500, 0, 300], [0, 500, 200], [0, 0, 1]],
                                "dist_coeffs": [-0.1, 0.01, 0, 0], "image_width": 600, "image_height": 400}))
    assert read_calibration(path)["distortion"]["coeffs"] == [-0.1, 0.01, 0.0, 0.0, 0.0]
    fish = opencv_yaml(tmp_path / "fish.yml", [[300, 0, 320], [0, 300, 240], [0, 0, 1]], [0.05, 0.01, 0.0, 0.0],
                       fisheye=True)
    assert read_calibration(fish)["distortion"]["model"] == "fisheye"


def test_colmap_principal_point_moves_half_a_pixel_to_opencv(tmp_path):
    path = tmp_path / "cameras.txt"
    path.write_text("# Camera list with one line of data per camera:\n"
                    "1 OPENCV 1920 1080 1500 1501 960.5 540.5 -0.1 0.01 0.0 0.0\n"
                    "2 SIMPLE_PINHOLE 640 480 500 320 240\n")
    profile = read_calibration(path, camera_id=1)
    assert profile["K"] == {"fx": 1500.0, "fy": 1501.0, "cx": 960.0, "cy": 540.0}
    assert profile["distortion"]["coeffs"] == [-0.1, 0.01, 0.0, 0.0, 0.0]
    assert "distortion" not in read_calibration(path, camera_id=2)


@pytest.mark.parametrize("content, message", [
    ("1 THIN_PRISM_FISHEYE 640 480 1 2 3 4 5 6 7 8 9 10 11 12\n", "camera model THIN_PRISM_FISHEYE is not supported"),
    ("1 PINHOLE 640 480 500 500 320\n", "PINHOLE takes 4 parameters, got 3"),
    ("1 PINHOLE 640 480 500 500 320 240\n2 PINHOLE 640 480 500 500 320 240\n", "choose one with --camera-id"),
    ("# nothing\n", "no cameras"),
    ("1 OPENCV 640 480 300 300 320 240 -1.5 0.8 0 0\n", "not invertible"),
])
def test_bad_colmap_files_name_the_problem(tmp_path, content, message):
    path = tmp_path / "cameras.txt"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        read_calibration(path)


def test_bad_opencv_files_name_the_file_and_key(tmp_path):
    missing = tmp_path / "m.json"
    missing.write_text(json.dumps({"dist_coeffs": [0, 0, 0, 0, 0], "image_width": 640, "image_height": 480}))
    with pytest.raises(ConfigError, match=f"{missing}: no camera matrix"):
        read_calibration(missing)
    skew = opencv_yaml(tmp_path / "skew.yaml", [[600, 2, 320], [0, 600, 240], [0, 0, 1]], [0, 0, 0, 0, 0])
    with pytest.raises(ConfigError, match="skew"):
        read_calibration(skew)
    rational = tmp_path / "r.json"
    rational.write_text(json.dumps({"camera_matrix": [[600, 0, 320], [0, 600, 240], [0, 0, 1]],
                                    "dist_coeffs": [0.1, 0, 0, 0, 0, 0.2, 0, 0], "width": 640, "height": 480}))
    with pytest.raises(ConfigError, match="rational/thin-prism"):
        read_calibration(rational)
    garbage = tmp_path / "g.yaml"
    garbage.write_text("not: [an, opencv, file\n")
    with pytest.raises(ConfigError, match="not a readable OpenCV calibration file"):
        read_calibration(garbage)


def test_camera_import_cli_writes_a_usable_profile(tmp_path):
    calib = opencv_yaml(tmp_path / "cam.yaml", [[70, 0, 31.5], [0, 70, 23.5], [0, 0, 1]], [-0.1, 0.01, 0, 0, 0],
                        size=(64, 48))
    profile = tmp_path / "cameras" / "imported.yaml"
    result = cli("camera", "import", calib, "-o", profile, check=True)
    assert "64x48" in result.stdout
    camera = {k: v for k, v in tiny_config()["camera"].items() if k not in ("resolution", "K")}
    loaded = load_scenario(write_config(tmp_path, tiny_config(camera={"profile": "cameras/imported.yaml", **camera})))
    assert loaded.scenario.camera.distortion.model == "brown_conrady"
    assert loaded.scenario.camera.K.fx == 70.0 and loaded.scenario.camera.profile == "cameras/imported.yaml"


def test_profiles_merge_with_inline_keys_winning_and_errors_name_the_profile(tmp_path):
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"jpeg_quality": 80, "saturation": 0.9}))
    loaded = load_scenario(write_config(tmp_path, tiny_config(sensor={"profile": "s.yaml", "saturation": 1.2})))
    assert loaded.scenario.sensor.saturation.constant == 1.2 and loaded.scenario.sensor.jpeg_quality.constant == 80
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"jpeg_quality": 500}))
    with pytest.raises(ConfigError, match=r"bad.yaml: jpeg_quality: must be <= 100"):
        load_scenario(write_config(tmp_path, tiny_config(sensor={"profile": "bad.yaml"})))
    with pytest.raises(ConfigError, match="camera.profile: file 'nope.yaml' not found"):
        load_scenario(write_config(tmp_path, tiny_config(camera={"profile": "nope.yaml"})))


def test_every_shipped_profile_is_valid():
    from bproc_factory.config.camera import CameraProfile
    from bproc_factory.config.loader import read_yaml, validate
    from bproc_factory.config.sensor import SensorProfile

    for folder, model in (("sensors", SensorProfile), ("cameras", CameraProfile)):
        paths = sorted((REPO / "configs" / folder).glob("*.yaml"))
        assert len(paths) >= 2
        for path in paths:
            validate(model, read_yaml(path), path)
