"""Asset folders: asset.yaml validation and the file -> canonical (Z-up, metres) transform."""
from pathlib import Path

import numpy as np
import pytest
import trimesh
import yaml
from conftest import DEMO_ASSETS

from bproc_factory.assets.asset import Billboard, BillboardCard, load_asset, load_mesh
from bproc_factory.config.loader import ConfigError


def file_vertices_in_canonical(asset) -> np.ndarray:
    v = np.asarray(load_mesh(asset.mesh_path).vertices)
    return v @ asset.canonical_from_file[:3, :3].T + asset.canonical_from_file[:3, 3]


def test_loaded_obj_vertices_are_the_raw_file_coordinates():
    raw = {tuple(float(v) for v in line.split()[1:4])
           for line in (DEMO_ASSETS / "soda_can" / "mesh.obj").read_text().splitlines() if line.startswith("v ")}
    loaded = {tuple(v) for v in load_mesh(DEMO_ASSETS / "soda_can" / "mesh.obj").vertices.tolist()}
    assert loaded == raw


@pytest.mark.parametrize("name, extents", [("soda_can", (0.066, 0.066, 0.122)),
                                           ("cereal_box", (0.19, 0.07, 0.28)),
                                           ("bottle", (0.076, 0.076, 0.25))])
def test_demo_assets_have_their_real_size_upright_on_the_origin(name, extents):
    asset = load_asset(DEMO_ASSETS / name)
    v = file_vertices_in_canonical(asset)
    assert np.allclose(v.max(axis=0) - v.min(axis=0), extents, atol=1e-6)
    assert np.isclose(v[:, 2].min(), 0.0, atol=1e-9)
    assert np.allclose((v.max(axis=0)[:2] + v.min(axis=0)[:2]) / 2, 0.0, atol=1e-9)


def extents(asset) -> np.ndarray:
    v = file_vertices_in_canonical(asset)
    return v.max(axis=0) - v.min(axis=0)


def make_asset(folder: Path, spec: dict, vertices: np.ndarray | None = None, fmt: str = "obj") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    box = trimesh.creation.box(extents=(1.0, 2.0, 3.0))
    if vertices is not None:
        box.vertices = vertices
    box.export(folder / f"mesh.{fmt}")
    (folder / "asset.yaml").write_text(yaml.safe_dump({"mesh": f"mesh.{fmt}", **spec}), encoding="utf-8")
    return folder


def test_y_up_file_axis_becomes_z_and_scale_applies(tmp_path):
    asset = load_asset(make_asset(tmp_path / "a", {"name": "a", "category": "c", "scale": 0.5,
                                                   "up_axis": "y"}))
    assert np.allclose(extents(asset), (0.5, 1.5, 1.0))  # file y (2) is up, file z (3) is depth


def test_height_m_sets_the_scale_from_the_up_extent(tmp_path):
    asset = load_asset(make_asset(tmp_path / "b", {"name": "b", "category": "c", "height_m": 0.3,
                                                   "up_axis": "z"}))
    assert np.allclose(extents(asset), (0.1, 0.2, 0.3))


@pytest.mark.parametrize("spec, message", [
    ({"name": "x", "category": "c"}, "give exactly one of 'scale'"),
    ({"name": "x", "category": "c", "scale": 1, "height_m": 1}, "give exactly one of 'scale'"),
    ({"name": "x", "category": "c", "scale": -1}, "scale: must be > 0"),
    ({"name": "x", "category": "c", "scale": 1, "colour": "red"}, "colour: unknown key"),
])
def test_bad_asset_yaml_names_file_and_key(tmp_path, spec, message):
    folder = make_asset(tmp_path / "bad", spec)
    with pytest.raises(ConfigError) as info:
        load_asset(folder)
    assert str(folder / "asset.yaml") in str(info.value) and message in str(info.value)


def test_missing_mesh_file_is_named(tmp_path):
    folder = make_asset(tmp_path / "m", {"name": "m", "category": "c", "scale": 1})
    (folder / "mesh.obj").unlink()
    with pytest.raises(ConfigError, match="mesh: file 'mesh.obj' not found"):
        load_asset(folder)


def test_folder_without_asset_yaml_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not an asset folder"):
        load_asset(tmp_path)


def _board(cards) -> Billboard:
    return Billboard(0.05, 0.2, tuple(BillboardCard(Path(f"{k}.png"), a, e, off) for k, (a, e, off) in enumerate(cards)))


def test_billboard_shows_the_card_nearest_in_azimuth_then_elevation():
    board = _board([(0.0, 20.0, 0.0), (90.0, 20.0, 0.0), (350.0, 50.0, 0.0), (180.0, None, 0.0)])
    assert board.nearest(80.0) == 1
    assert board.nearest(355.0, 20.0) == 0  # the 20-degree ring wins at a low camera...
    assert board.nearest(355.0, 48.0) == 2  # ...the 50-degree ring at a high one
    assert board.nearest(-170.0 % 360) == 3  # azimuths wrap around


def test_billboard_faces_the_camera_from_its_offset_plane():
    board = _board([(0.0, None, 0.03), (90.0, None, 0.01)])
    obj_to_world = np.eye(4)
    obj_to_world[:3, 3] = [1.0, 2.0, 0.5]
    cam = np.eye(4)
    cam[:3, 3] = [1.0, 5.0, 1.0]  # straight along +y from the object: azimuth 90 degrees
    matrix, card = board.facing(obj_to_world, cam)
    assert card == 1
    front = matrix[:3, :3] @ np.array([0.0, -1.0, 0.0])  # the card's front is its local -y
    assert np.allclose(front, [0.0, 1.0, 0.0], atol=1e-9)
    assert np.allclose(matrix[:3, 3], [1.0, 2.01, 0.5])  # moved by the card's offset towards the camera
