"""The carved hull without rendering: exact silhouettes of a known solid from a ring of cameras 30
degrees up, as a turntable sees it. Sight lines from structure-from-motion take out what silhouettes
cannot (the cone a visual hull grows over a flat top), and masks are cut to the hull's silhouette."""
from __future__ import annotations

import numpy as np
import trimesh
from conftest import look_at

from bproc_factory.ingest import hull

K = np.array([[400.0, 0, 239.5], [0, 400.0, 179.5], [0, 0, 1]])


def _ring(n: int = 36) -> list[np.ndarray]:
    """Object-to-camera poses looking at the axis from 30 degrees up, all round."""
    return [look_at(360.0 * k / n, 30.0, 0.4, (0.0, 0.0, 0.05)) for k in range(n)]


def _cylinder() -> trimesh.Trimesh:
    return trimesh.creation.cylinder(radius=0.04, height=0.10, sections=96).apply_translation([0, 0, 0.05])


def _cameras(mesh: trimesh.Trimesh, with_sightings: bool) -> list[hull.Camera]:
    """Exact masks; with sightings, the points of the top and side each camera faces."""
    rng = np.random.default_rng(0)
    surface, face = trimesh.sample.sample_surface(mesh, 3000, seed=1)
    normals = mesh.face_normals[face]
    cams = []
    for T in _ring():
        mask = hull.silhouette(mesh, hull.Camera(K, T, np.zeros((360, 480), bool), np.zeros((360, 480, 3), np.uint8)))
        centre = -T[:3, :3].T @ T[:3, 3]
        facing = np.sum(normals * (centre - surface), axis=1) > 0
        seen = surface[facing][rng.choice(int(facing.sum()), 400, replace=False)] if with_sightings else None
        cams.append(hull.Camera(K, T, mask, np.zeros((360, 480, 3), np.uint8), seen))
    return cams


def test_sight_lines_take_the_cone_off_a_flat_top_that_silhouettes_leave():
    truth = _cylinder()
    silhouettes_only = hull.reconstruct(_cameras(truth, False), 0.08, 0.2, 96)
    with_sightings = hull.reconstruct(_cameras(truth, True), 0.08, 0.2, 96)
    assert silhouettes_only.bounds[1][2] > 0.115  # the cone: seen from 30 deg up, ~2 cm over the top
    assert abs(with_sightings.bounds[1][2] - 0.10) < 0.004
    assert with_sightings.is_watertight
    diagonal = float(np.linalg.norm(truth.bounds[1] - truth.bounds[0]))
    assert hull.chamfer(with_sightings, truth) / diagonal < 0.7 * hull.chamfer(silhouettes_only, truth) / diagonal


def test_a_wrong_match_seen_from_neighbouring_frames_cannot_bore_into_the_object():
    cams = _cameras(_cylinder(), True)  # 10 degrees apart
    bogus = np.array([0.0, 0.0, 0.05])  # a "point" in the middle of the solid, seen by three neighbours
    for cam in cams[:3]:
        cam.sightings = np.concatenate([cam.sightings, bogus[None]])
    centre = -cams[1].sheet_to_camera[:3, :3].T @ cams[1].sheet_to_camera[:3, 3]
    inside = bogus + 0.012 * (centre - bogus) / np.linalg.norm(centre - bogus)  # on its line, 2.8 cm in
    lo, step, shape = np.array([-0.08, -0.08, 0.0]), 0.002, (81, 81, 101)
    voxel = tuple(np.round((inside - lo) / step).astype(int))
    assert hull.free_space(cams, lo, step, shape, min_spread_deg=0)[voxel]  # the lines do cross it
    assert not hull.free_space(cams, lo, step, shape)[voxel]


def test_a_region_only_one_view_took_for_the_object_is_cut_from_its_mask_and_a_missed_part_stays_missed():
    silhouette = np.zeros((60, 80), bool)
    silhouette[10:50, 20:40] = True
    mask = silhouette.copy()
    mask[40:50, 40:60] = True  # a cast shadow beside the object
    mask[10:20, 20:30] = False  # a part the segmenter missed
    trimmed = hull.trim_to_silhouette(mask, silhouette, margin_px=2)
    assert not trimmed[40:50, 43:60].any()
    assert trimmed[40:50, 40:42].all()  # within the margin
    assert not trimmed[10:20, 20:30].any()
    assert trimmed[25:50, 20:40].all()
