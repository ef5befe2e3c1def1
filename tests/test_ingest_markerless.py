"""Marker-less ingest: a turntable video without the marker sheet (plain grey plate, uneven hand
spin, cast shadow, sensor noise, MPEG-4) gets its cameras from structure-from-motion, masks
without the plate and a metric mesh, all checked against the ground truth kept beside the capture;
a cork plate, which saliency takes whole, shows the plate leaving the masks once cameras are known.
Structure-from-motion needs 480x360 and about 60 frames to be reliable (shared notes), so this is
the one capture here at that size; it renders in about two minutes on two cores."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import trimesh
import yaml
from conftest import cli, committed_capture, tiny_config, write_config

from bproc_factory.ingest import hull
from bproc_factory.ingest.frames import Frame
from bproc_factory.ingest.markerless import Cylinder, Salient, plate_free_mask
from bproc_factory.ingest.pipeline import Y_UP
from bproc_factory.ingest.segment import clean_mask, make_segmenter

HEIGHT_M = 0.14  # the house's true height (make_capture.py)

pytestmark = pytest.mark.render


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    return committed_capture("plain", tmp_path_factory.mktemp("plain_capture"))


@pytest.fixture(scope="module")
def ingested(capture, tmp_path_factory) -> tuple[Path, str]:
    assets = tmp_path_factory.mktemp("assets")
    result = cli("ingest", capture / "capture.mp4", "--name", "house", "--category", "toy", "-o", assets,
                 "--height-m", str(HEIGHT_M), "-q", check=True)
    return assets / "house", result.stdout + result.stderr


def _spec(asset: Path) -> dict:
    return yaml.safe_load((asset / "asset.yaml").read_text())["capture"]


def _angle_errors(capture: Path, asset: Path) -> tuple[np.ndarray, float]:
    """Per-view azimuth error (deg) against the truth, after the one rotation about the axis that
    aligns the SfM object frame (x towards the first camera) with the truth's; and that rotation."""
    truth = json.loads((capture / "truth.json").read_text())
    views = _spec(asset)["views"]
    diff = np.radians([v["angle_deg"] - (-90.0 - truth["turntable_angle_deg"][v["frame"]]) for v in views])
    offset = float(np.angle(np.mean(np.exp(1j * diff))))
    return np.degrees(np.abs(np.angle(np.exp(1j * (diff - offset))))), float(np.degrees(offset))


def test_angles_without_markers_are_measured_within_two_degrees_from_an_uneven_turn(capture, ingested):
    asset, _ = ingested
    errors, _ = _angle_errors(capture, asset)
    assert len(errors) == 60 and errors.max() <= 2.0, errors.round(2)
    truth = json.loads((capture / "truth.json").read_text())
    frames = np.array([v["frame"] for v in _spec(asset)["views"]])
    const = (-90.0 - 360.0 * frames / 60) - (-90.0 - np.array(truth["turntable_angle_deg"])[frames])
    assert np.abs((const + 180) % 360 - 180).max() >= 4.0  # the wobble constant speed would miss


def test_asset_yaml_records_the_sfm_cameras_measured_focal_length_frames_and_residuals(capture, ingested):
    asset, output = ingested
    cams = _spec(asset)["cameras"]
    assert cams["method"] == "sfm" and cams["registered_frames"] == 60 and cams["unregistered_frames"] == 0
    assert cams["focal_source"].startswith("estimated") and "focal length assumed" not in " ".join(output.split())
    truth = json.loads((capture / "truth.json").read_text())
    assert abs(cams["K"][0][0] / truth["K"][0][0] - 1) < 0.05  # from the guess, 11 % short
    assert 0 < cams["reprojection_px"]["mean"] <= cams["reprojection_px"]["max"] < 2.0
    assert 25 < cams["elevation_deg"]["mean"] < 45  # the camera looks down at the turntable
    assert all("reprojection_px" in v and "sheet_to_camera" in v for v in _spec(asset)["views"])


def test_masks_match_the_truth_without_the_plate_or_the_shadow(capture, ingested):
    asset, _ = ingested
    ious = []
    for view in _spec(asset)["views"]:
        truth = cv2.imread(str(capture / "masks" / f"{view['frame']:04d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        ious.append(hull.iou(truth, cv2.imread(str(asset / view["mask"]), cv2.IMREAD_GRAYSCALE) > 127))
    assert np.mean(ious) >= 0.95 and min(ious) >= 0.9, np.round(ious, 3)


def test_with_the_cameras_a_textured_plate_leaves_the_saliency_mask(tmp_path):
    """On a cork plate saliency takes the whole plate; with each frame's camera (here the true
    one) the plate outside the object's cylinder teaches GrabCut its colours and leaves."""
    committed_capture("cork_plate", tmp_path)
    truth = json.loads((tmp_path / "truth.json").read_text())
    segmenter = make_segmenter("u2netp")
    for k in range(4):
        image = cv2.imread(str(tmp_path / "frames" / f"{k:04d}.jpg"))
        true_mask = cv2.imread(str(tmp_path / "masks" / f"{k:04d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        prob = segmenter.probability(image)
        salient = Salient(Frame(k, image, f"{k:04d}.jpg"), prob, clean_mask(image, prob))
        cleaned = plate_free_mask(salient, np.array(truth["K"]), np.array(truth["sheet_to_camera"][k]),
                                  Cylinder(radius_m=0.06, height_m=0.2))  # the house reaches 4.7 cm from the axis
        assert hull.iou(true_mask, salient.mask.mask) < 0.5  # the plate is in the saliency mask
        assert hull.iou(true_mask, cleaned.mask) >= 0.95


def test_mesh_without_markers_is_metric_watertight_and_close_to_the_true_object(capture, ingested):
    asset, _ = ingested
    mesh = trimesh.load(asset / "mesh.glb", force="mesh")
    mesh.apply_transform(np.linalg.inv(Y_UP))
    _, offset = _angle_errors(capture, asset)
    mesh.apply_transform(trimesh.transformations.rotation_matrix(np.radians(-offset), [0, 0, 1]))
    truth = trimesh.load(capture / "object.ply")
    diagonal = float(np.linalg.norm(truth.bounds[1] - truth.bounds[0]))
    closed = mesh.copy()
    closed.merge_vertices(merge_tex=True, merge_norm=True)  # vertices are split only along UV seams
    assert closed.is_watertight and mesh.bounds[1][2] == pytest.approx(HEIGHT_M, rel=1e-3)
    assert hull.chamfer(mesh, truth) <= 0.015 * diagonal
    quality = json.loads((asset / "quality.json").read_text())
    assert quality["passed"] and quality["height_m"]["given"] == HEIGHT_M
    # the textured mesh under the capture's light reproduces views the bake did not use
    assert quality["texture"]["psnr_db"]["mean"] >= 25 > quality["texture"]["psnr_db_without_capture_light"]
    assert "mesh" in _spec(asset)["render_modes"]


def test_markerless_asset_renders_with_exact_masks(ingested, tmp_path):
    asset, _ = ingested
    config = tiny_config(objects=[{"assets": [str(asset)], "count": 1}])
    cli("render", write_config(tmp_path, config), "-o", tmp_path / "out", "-n", 2, "-q", check=True)
    assert "OK" in cli("validate", tmp_path / "out", check=True).stdout


def test_a_capture_sfm_cannot_register_falls_back_to_constant_speed_and_says_why(capture, tmp_path):
    """The object painted one flat colour: nothing to match, so the angles come from constant speed,
    with a warning that says why and what to film instead; no mesh."""
    cap = cv2.VideoCapture(str(capture / "capture.mp4"))
    writer = cv2.VideoWriter(str(tmp_path / "plain.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 6, (480, 360))
    for k in range(60):
        frame = cap.read()[1]
        frame[cv2.imread(str(capture / "masks" / f"{k:04d}.png"), cv2.IMREAD_GRAYSCALE) > 127] = (40, 90, 200)
        writer.write(frame)
    writer.release()
    result = cli("ingest", tmp_path / "plain.mp4", "--name", "plain", "--category", "toy", "-o", tmp_path / "a",
                 "--height-m", str(HEIGHT_M), "-q", check=True)
    text = " ".join(result.stderr.split())
    assert "no turntable markers found" in text and "structure-from-motion" in text
    assert "film the object" in text and "constant turntable speed" in text
    spec = _spec(tmp_path / "a" / "plain")
    assert spec["cameras"]["method"] == "constant-speed" and spec["render_modes"] == ["billboard"]


def test_without_markers_the_height_is_asked_for_before_any_work(capture, tmp_path):
    result = cli("ingest", capture / "capture.mp4", "--name", "x", "--category", "toy", "-o", tmp_path / "a", "-q")
    assert result.returncode == 2 and "capture.mp4" in result.stderr and "--height-m" in result.stderr
    assert not (tmp_path / "a" / "x").exists()


def _holes(mask: np.ndarray) -> np.ndarray:
    """Background pixels enclosed by the mask."""
    flood = np.zeros((mask.shape[0] + 2, mask.shape[1] + 2), np.uint8)
    flood[1:-1, 1:-1] = mask
    cv2.floodFill(flood, None, (0, 0), 2)
    return flood[1:-1, 1:-1] == 0


def test_a_mug_handle_keeps_its_hole_in_the_mask(tmp_path):
    committed_capture("mug", tmp_path)
    segmenter = make_segmenter("u2netp")
    seen = 0
    for k in range(4):
        image = cv2.imread(str(tmp_path / "frames" / f"{k:04d}.jpg"))
        truth = cv2.imread(str(tmp_path / "masks" / f"{k:04d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        mask = clean_mask(image, segmenter.probability(image)).mask
        assert hull.iou(truth, mask) >= 0.93
        if _holes(truth).sum() > 50:  # the handle seen from the side
            seen += 1
            assert (_holes(mask) & _holes(truth)).sum() >= 0.6 * _holes(truth).sum()
    assert seen >= 1
