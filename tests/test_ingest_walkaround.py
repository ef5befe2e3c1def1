"""Walk-around ingest: a hand-held camera carried twice around a still object (rings at 20 and 45
degrees, drifting in distance, aim, height and roll) on a cork floor, without the marker sheet.
Structure-from-motion on whole frames gives a pose per frame and the focal length, the support
surface gives up and the object's foot, and the asset's views and billboard cards carry both
elevations; everything is checked against the ground truth beside the capture. Renders 48 frames
at 480x360 in about two minutes on two cores."""
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
from bproc_factory.ingest.pipeline import Y_UP

HEIGHT_M = 0.14  # the house's true height (make_capture.py)
FRAMES = 48  # the walk_around capture (tests/data/make_captures.py)

pytestmark = pytest.mark.render


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    return committed_capture("walk_around", tmp_path_factory.mktemp("walk_around"))


@pytest.fixture(scope="module")
def asset(capture, tmp_path_factory) -> Path:
    assets = tmp_path_factory.mktemp("assets")
    cli("ingest", capture / "capture.mp4", "--name", "house", "--category", "toy", "-o", assets,
        "--height-m", str(HEIGHT_M), "--walk-around", "-q", check=True)
    return assets / "house"


def _spec(asset: Path) -> dict:
    return yaml.safe_load((asset / "asset.yaml").read_text())["capture"]


def _aligned_rotation_errors(capture: Path, asset: Path) -> tuple[np.ndarray, float]:
    """Per-view camera rotation error (deg) against the truth after the one turn about the vertical
    that aligns the SfM object frame (x towards the first camera) with the truth's; and that turn."""
    truth = json.loads((capture / "truth.json").read_text())
    views = _spec(asset)["views"]
    est = [np.array(v["sheet_to_camera"])[:3, :3] for v in views]
    true = [np.array(truth["sheet_to_camera"][v["frame"]])[:3, :3] for v in views]
    turns = [np.arctan2(q[1, 0], q[0, 0]) for q in (t.T @ e for e, t in zip(est, true))]
    turn = float(np.angle(np.mean(np.exp(1j * np.array(turns)))))
    c, s = np.cos(turn), np.sin(turn)
    rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    errors = [np.degrees(np.arccos(np.clip((np.trace((t @ rz).T @ e) - 1) / 2, -1, 1))) for e, t in zip(est, true)]
    return np.array(errors), float(np.degrees(turn))


def test_walk_around_camera_poses_are_measured_within_two_degrees(capture, asset):
    errors, _ = _aligned_rotation_errors(capture, asset)
    assert len(errors) >= FRAMES - 2 and errors.max() <= 2.0, errors.round(2)
    cams = _spec(asset)["cameras"]
    assert cams["method"] == "sfm" and cams["capture"] == "walk-around"
    truth = json.loads((capture / "truth.json").read_text())
    # no --focal-px: a still scene with depth gives the focal length (a turntable's object does not)
    assert abs(cams["K"][0][0] - truth["K"][0][0]) / truth["K"][0][0] < 0.02
    assert cams["focal_source"].startswith("estimated by structure-from-motion") and not cams["warnings"]


def test_views_and_billboard_cards_keep_both_rings(asset):
    spec = _spec(asset)
    elevations = np.array([v["elevation_deg"] for v in spec["views"]])
    low, high = elevations < np.median(elevations), elevations >= np.median(elevations)
    assert high.sum() >= FRAMES // 2 - 3 and low.sum() >= FRAMES // 2 - 3  # frame choice kept both rings
    assert np.median(elevations[high]) - np.median(elevations[low]) > 15
    cards = [c["elevation_deg"] for c in spec["billboard"]["cards"]]
    assert max(cards) - min(cards) > 15  # cards chosen by azimuth and elevation at render time


def test_walk_around_masks_and_mesh_match_the_truth(capture, asset):
    spec = _spec(asset)
    ious = [hull.iou(cv2.imread(str(capture / "masks" / f"{v['frame']:04d}.png"), cv2.IMREAD_GRAYSCALE) > 127,
                     cv2.imread(str(asset / v["mask"]), cv2.IMREAD_GRAYSCALE) > 127) for v in spec["views"]]
    assert np.mean(ious) >= 0.95, np.round(ious, 3)  # without the plate or the floor
    mesh = trimesh.load(asset / "mesh.glb", force="mesh")
    mesh.apply_transform(np.linalg.inv(Y_UP))
    _, turn = _aligned_rotation_errors(capture, asset)
    mesh.apply_transform(trimesh.transformations.rotation_matrix(np.radians(turn), [0, 0, 1]))
    truth = trimesh.load(capture / "object.ply")
    diagonal = float(np.linalg.norm(truth.bounds[1] - truth.bounds[0]))
    assert mesh.bounds[1][2] == pytest.approx(HEIGHT_M, rel=1e-3)
    assert hull.chamfer(mesh, truth) <= 0.015 * diagonal
    quality = json.loads((asset / "quality.json").read_text())
    # lamps stay put while walking around: the light is the same in every view and stays baked in
    assert quality["texture"]["capture_light_fitted"] is False
    assert quality["texture"]["psnr_db"]["mean"] >= 24


def test_walk_around_asset_renders_with_exact_masks(asset, tmp_path):
    config = tiny_config(objects=[{"assets": [str(asset)], "count": 1}])
    cli("render", write_config(tmp_path, config), "-o", tmp_path / "out", "-n", 1, "-q", check=True)
    assert "OK" in cli("validate", tmp_path / "out", check=True).stdout


def test_a_walk_around_sfm_cannot_register_falls_back_and_says_what_to_film(capture, tmp_path):
    """The object in one flat colour on a flat floor: no feature anywhere, so structure-from-motion
    fails; the ingest falls back to constant-speed angles with the walk-around's own advice, and
    writes a billboard-only asset (16 of the frames: the fallback needs no more)."""
    writer = cv2.VideoWriter(str(tmp_path / "flat.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 6, (480, 360))
    for k in range(0, FRAMES, 3):
        frame = np.full((360, 480, 3), 170, np.uint8)
        frame[cv2.imread(str(capture / "masks" / f"{k:04d}.png"), cv2.IMREAD_GRAYSCALE) > 127] = (40, 90, 200)
        writer.write(frame)
    writer.release()
    result = cli("ingest", tmp_path / "flat.mp4", "--name", "flat", "--category", "toy", "-o", tmp_path / "a",
                 "--height-m", str(HEIGHT_M), "--walk-around", "-q", check=True)
    text = " ".join(result.stderr.split())
    assert "structure-from-motion" in text and "walk round the object twice" in text
    spec = _spec(tmp_path / "a" / "flat")
    assert spec["cameras"]["method"] == "constant-speed" and spec["render_modes"] == ["billboard"]
