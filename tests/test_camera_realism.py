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


def projected_mask(meta: dict, mesh: trimesh.Trimesh, obj: dict) -> np.ndarray:
    """The object's silhouette from cv2.projectPoints under the recorded camera, area-rasterised."""
    T = np.array(obj["obj_to_world"])
    world = mesh.vertices @ T[:3, :3].T + T[:3, 3]
    w2c = np.linalg.inv(np.array(meta["camera"]["cam_to_world"]))
    rvec, _ = cv2.Rodrigues(w2c[:3, :3])
    K, dist = np.array(meta["camera"]["K"]), np.array(meta["camera"]["dist"])
    uv, _ = cv2.projectPoints(world, rvec, w2c[:3, 3], K, dist)
    s = 8
    hi = np.zeros((meta["height"] * s, meta["width"] * s), np.uint8)
    sub = (uv.reshape(-1, 2) + 0.5) * s - 0.5
    for tri in np.round(sub[mesh.faces] * 16).astype(np.int32):
        cv2.fillConvexPoly(hi, tri, 1, shift=4)
    return hi.reshape(meta["height"], s, meta["width"], s).mean(axis=(1, 3)) > 0.5


@pytest.mark.parametrize("coeffs, threshold", [(None, 0.995), ([-0.32, 0.12, 0.0008, -0.0005, -0.02], 0.98)])
def test_cube_masks_agree_with_opencv_projection(tmp_path, pedestal_scene, cube_asset, coeffs, threshold):
    camera = {"resolution": [320, 240], "K": {"fx": 210.0, "fy": 211.0, "cx": 161.2, "cy": 118.4},
              "distance_m": 0.55, "elevation_deg": {"uniform": [20, 60]},
              "target_offset_m": [{"uniform": [-0.08, 0.08]}, {"uniform": [-0.08, 0.08]}, 0.0]}
    if coeffs:
        camera["distortion"] = {"model": "brown_conrady", "coeffs": coeffs}
    config = tiny_config(scene=str(pedestal_scene), views_per_scene=2, camera=camera,
                         objects=[{"assets": [str(cube_asset)], "count": 1}])
    out = tmp_path / "out"
    cli("render", write_config(tmp_path, config), "-o", out, "-n", "4", "--seed", "5", "-q", check=True)
    mesh = trimesh.load(cube_asset / "mesh.obj", force="mesh", process=False)
    for i in range(4):
        meta = json.loads((out / "meta" / f"{i:06d}.json").read_text())
        assert meta["camera"]["dist"] == (coeffs or [0.0] * 5)
        mask = cv2.imread(str(out / "masks" / f"{i:06d}.png"), cv2.IMREAD_UNCHANGED) == 1
        projected = projected_mask(meta, mesh, meta["objects"][0])
        iou = (mask & projected).sum() / (mask | projected).sum()
        assert mask.sum() > 2000 and iou >= threshold, (i, iou)


def test_depth_of_field_and_motion_blur_change_pixels_but_not_labels(tmp_path):
    base = tiny_config(views_per_scene=2)
    cli("render", write_config(tmp_path, base, "sharp.yaml"), "-o", tmp_path / "sharp", "-n", "2", "--seed", "9",
        "-q", check=True)
    blurred = tiny_config(views_per_scene=2, camera={
        **base["camera"], "dof": {"f_stop": 0.5, "focus": {"distance_m": 0.3}},
        "motion_blur": {"shutter_s": 0.05, "camera_speed_mps": 0.5, "object_velocity_mps": [0.5, 0.0, 0.0]}})
    cli("render", write_config(tmp_path, blurred, "blurred.yaml"), "-o", tmp_path / "blurred", "-n", "2",
        "--seed", "9", "-q", check=True)
    for i in range(2):
        name = f"{i:06d}.png"
        assert (tmp_path / "sharp" / "masks" / name).read_bytes() == (tmp_path / "blurred" / "masks" / name).read_bytes()
        sharp = cv2.imread(str(tmp_path / "sharp" / "images" / name)).astype(float)
        soft = cv2.imread(str(tmp_path / "blurred" / "images" / name)).astype(float)
        assert cv2.Laplacian(soft, cv2.CV_64F).var() < 0.8 * cv2.Laplacian(sharp, cv2.CV_64F).var()
        meta = json.loads((tmp_path / "blurred" / "meta" / f"{i:06d}.json").read_text())
        assert meta["sampled"]["view"]["dof"] == {"f_stop": 0.5, "focus_distance_m": 0.3}
        assert meta["sampled"]["view"]["motion"]["shutter_s"] == 0.05


@pytest.mark.parametrize("config", sorted(p.name for p in (REPO / "configs").glob("worstcase-*.yaml")))
def test_worst_case_configs_render_and_validate(tmp_path, config):
    from bproc_factory.preview import preview_overrides

    path = REPO / "configs" / config
    overrides = list(preview_overrides(path, (), 96, 4))
    out = tmp_path / "out"
    cli("render", path, "-o", out, "-n", "2", "-q", *[a for o in overrides for a in ("--set", o)], check=True)
    assert cli("validate", out).returncode == 0
    meta = json.loads((out / "meta" / "000000.json").read_text())
    assert meta["sampled"]["sensor"]["tone"]["curve"] in ("gamma", "points")
    assert meta["sampled"]["lens"] or meta["sampled"]["view"].get("dof") or meta["sampled"]["view"].get("motion")
