"""Photo backplate annotations (pure): camera reconstruction, placement polygon on the ground,
light matched to the photo, and errors naming the file and key."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from bproc_factory.assets.backplate import ground_point, load_backplate
from bproc_factory.config.loader import ConfigError

W, H = 320, 240
POLYGON = [[60, 150], [260, 150], [300, 230], [20, 230]]


def _annotation(tmp_path: Path, camera: dict, colour=(90, 120, 200), **extra) -> Path:
    photo = np.zeros((H, W, 3), np.uint8)
    photo[:] = colour  # BGR
    cv2.imwrite(str(tmp_path / "site.png"), photo)
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump({"photo": "site.png", "placement_polygon": POLYGON,
                                    "camera": camera, **extra}))
    return path


def _project(info, xyz) -> np.ndarray:
    pose = np.asarray(info.fixed_camera.cam_to_world)
    cam = np.linalg.inv(pose) @ np.append(xyz, 1.0)
    uvw = np.asarray(info.fixed_camera.K) @ cam[:3]
    return uvw[:2] / uvw[2]


def test_height_and_tilt_put_the_camera_above_the_ground_looking_down(tmp_path):
    info = load_backplate(_annotation(tmp_path, {"hfov_deg": 60, "height_m": 1.2, "tilt_deg": 30}))
    pose = np.asarray(info.fixed_camera.cam_to_world)
    assert pose[2, 3] == pytest.approx(1.2)
    optical_axis = pose[:3, 2]
    assert np.degrees(np.arcsin(-optical_axis[2])) == pytest.approx(30)
    area = info.placement_areas[0]
    assert area.z == 0.0
    for pixel, ground in zip(POLYGON, area.polygon_xy, strict=True):  # the polygon is the photo's, cast on the ground
        assert _project(info, [*ground, 0.0]) == pytest.approx(pixel, abs=1e-6)


def test_ground_points_recover_the_same_camera_as_height_and_tilt(tmp_path):
    reference = load_backplate(_annotation(tmp_path, {"hfov_deg": 60, "height_m": 1.2, "tilt_deg": 30}))
    K, pose = np.asarray(reference.fixed_camera.K), np.asarray(reference.fixed_camera.cam_to_world)
    points = []
    for pixel in [[40, 140], [280, 140], [300, 235], [10, 230], [160, 190]]:
        xy = ground_point(pixel, K, pose)[:2]
        points.append({"pixel": pixel, "world": [float(xy[0]), float(xy[1])]})
    solved = load_backplate(_annotation(tmp_path, {"hfov_deg": 60, "ground_points": points}))
    assert np.asarray(solved.fixed_camera.cam_to_world) == pytest.approx(pose, abs=1e-4)


def test_world_light_matches_the_photo_colour_and_scales_with_the_annotation(tmp_path):
    warm = load_backplate(_annotation(tmp_path, {"hfov_deg": 60, "height_m": 1, "tilt_deg": 30}))
    colour = warm.backplate["world"]["color"]
    assert colour[0] == 1.0 and colour[0] > colour[1] > colour[2]  # BGR (90, 120, 200) is orange
    brighter = load_backplate(_annotation(tmp_path, {"hfov_deg": 60, "height_m": 1, "tilt_deg": 30},
                                          light={"strength_scale": 2.0}))
    assert brighter.backplate["world"]["strength"] == pytest.approx(2 * warm.backplate["world"]["strength"])


@pytest.mark.parametrize("camera, polygon, message", [
    ({"hfov_deg": 60, "height_m": 1, "tilt_deg": 30}, [[10, 10], [400, 200], [20, 230]],
     "placement_polygon[1]: [400.0, 200.0] lies outside the 320x240 photo"),
    ({"hfov_deg": 60, "height_m": 1, "tilt_deg": 5}, [[10, 10], [300, 200], [20, 230]],
     "placement_polygon[0]: [10.0, 10.0] lies above the horizon"),
    ({"hfov_deg": 60, "height_m": 1}, POLYGON, "give either 'height_m' and 'tilt_deg', or 'ground_points'"),
    ({"hfov_deg": 60, "ground_points": [{"pixel": [0, 0], "world": [0, 0]}] * 3}, POLYGON,
     "ground_points: need at least 4"),
    ({"hfov_deg": 60, "ground_points": [{"pixel": [10 * k, 200], "world": [k, 0]} for k in range(4)]}, POLYGON,
     "camera.ground_points:"),
])
def test_bad_annotations_name_the_file_and_key(tmp_path, camera, polygon, message):
    path = _annotation(tmp_path, camera)
    data = yaml.safe_load(path.read_text())
    data["placement_polygon"] = polygon
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_backplate(path)
    assert str(path) in str(err.value) and message in " ".join(str(err.value).split())


def test_missing_photo_is_named(tmp_path):
    path = _annotation(tmp_path, {"hfov_deg": 60, "height_m": 1, "tilt_deg": 30})
    (tmp_path / "site.png").unlink()
    with pytest.raises(ConfigError, match="photo: 'site.png' not found"):
        load_backplate(path)


def test_the_scenarios_world_overrides_the_photo_match(tmp_path):
    from conftest import tiny_config, write_config

    from bproc_factory.config.loader import load_scenario
    from bproc_factory.plan.world import plan_world

    info = load_backplate(_annotation(tmp_path, {"hfov_deg": 60, "height_m": 1, "tilt_deg": 30}))
    matched = load_scenario(write_config(tmp_path, tiny_config(world={})))
    assert plan_world(matched, info, 0) == info.backplate["world"]
    override = load_scenario(write_config(tmp_path, tiny_config(world={"color": [1, 1, 1], "strength": 0.25})))
    assert plan_world(override, info, 0) == {"color": [1.0, 1.0, 1.0], "strength": 0.25}
