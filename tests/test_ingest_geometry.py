"""Turntable and walk-around geometry without rendering: the physical checks on structure-from-motion
cameras, the turntable fit's focal length, the matching window, the support surface under a walked-around object, and moving cameras
between object frames."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bproc_factory.ingest.sfm import (
    SfmCameras,
    SfmFailed,
    SfmView,
    _Tracks,
    _turntable_fit,
    check_turning,
    stray_views,
    support_plane,
    window_pairs,
)
from bproc_factory.ingest.turntable import from_sfm


def _cameras(angles_by_frame: dict[int, float]) -> SfmCameras:
    views = {}
    for k, a in angles_by_frame.items():
        T = np.eye(4)
        c, s = math.cos(math.radians(a)), math.sin(math.radians(a))
        T[:3, :3] = np.array([[0, 1.0, 0], [0, 0, -1.0], [-1.0, 0, 0]]) @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        T[:3, 3] = [0, 0, 2.0]
        views[k] = SfmView(T, a, 0.5, 1.0, 10)
    return SfmCameras(np.diag([400.0, 400.0, 1.0]), views, [], np.zeros((0, 3)), False)


def test_views_out_of_turning_order_are_refused():
    steady = {k: (-6.0 * k + 3 * math.sin(k / 5)) % 360 for k in range(0, 60, 2)}
    check_turning(_cameras(steady))  # uneven, frames skipped, but one way round: fine
    glued = dict(steady)
    for k in range(20, 30, 2):  # a stretch matched to the wrong side of a symmetric object
        glued[k] = (steady[k] + 180.0) % 360
    with pytest.raises(SfmFailed, match="not in turning order"):
        check_turning(_cameras(glued))


def test_frames_are_matched_within_a_quarter_turn_across_the_clip_ends():
    pairs = window_pairs(40)
    assert len(pairs) == len(set(pairs)) == 40 * 10
    assert (39, 0) in pairs and (35, 5) in pairs and (0, 20) not in pairs  # wraps round, stops at 90 deg


def test_rescaled_cameras_keep_their_views_and_move_with_the_object_frame():
    geometry = from_sfm(_cameras({0: 0.0, 1: 90.0}), "given")
    point = np.array([0.1, -0.2, 0.3, 1.0])
    moved = geometry.rescaled(2.0)
    for k in (0, 1):
        before = geometry.views[k].sheet_to_camera @ point  # a point, and the same point in the new frame
        after = moved.views[k].sheet_to_camera @ np.r_[2.0 * point[:3], 1.0]
        assert np.allclose(after[:3], 2.0 * before[:3])
        assert moved.views[k].azimuth_deg == pytest.approx(geometry.views[k].azimuth_deg)
    assert moved.method == "sfm" and moved.metric and moved.details["focal_source"] == "given"


def _walk(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Camera centres and viewing directions of a hand-held walk: 24 views round at 0.2 m up, then
    24 at 0.4 m, looking at the origin."""
    az = np.radians(np.r_[np.arange(24) * 15.0, np.arange(24) * 15.0 + 7.0])
    height = np.r_[np.full(24, 0.2), np.full(24, 0.4)] + rng.normal(0, 0.005, 48)
    centres = np.c_[0.5 * np.cos(az), 0.5 * np.sin(az), height] + rng.normal(0, 0.005, (48, 3))
    return centres, -centres / np.linalg.norm(centres, axis=1, keepdims=True)


def test_views_registered_off_the_walk_are_found_and_the_step_between_rings_is_not():
    centres, forwards = _walk(np.random.default_rng(0))
    assert not stray_views(centres, forwards, centres[:, 2], 0.5).any()
    wrong = centres.copy()
    wrong[8:11, 2] -= 0.15  # a run of three views registered low (as SfM did on a 320x240 capture)
    wrong[30] += [0.5, -0.4, 0.0]  # and one far off the ring
    found = stray_views(wrong, -wrong / np.linalg.norm(wrong, axis=1, keepdims=True), wrong[:, 2], 0.5)
    assert sorted(np.nonzero(found)[0]) == [8, 9, 10, 30]


def test_the_surface_under_the_object_is_the_plane_most_points_lie_on():
    rng = np.random.default_rng(1)
    tilt = np.radians(3.0)
    up = np.array([np.sin(tilt), 0.0, np.cos(tilt)])
    e1 = np.cross(up, [0, 1.0, 0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(up, e1)
    floor = rng.uniform(-0.3, 0.3, (400, 2)) @ np.stack([e1, e2]) - 0.1 * up + rng.normal(0, 0.0005, (400, 3))
    clutter = rng.uniform(-0.1, 0.0, (150, 3))  # the lower half of the object, a plate's rim
    normal, level = support_plane(np.r_[floor, clutter], np.array([0, 0, 1.0]), 0.003)
    assert np.degrees(np.arccos(normal @ up)) < 0.2 and level == pytest.approx(-0.1, abs=0.002)
    with pytest.raises(SfmFailed, match="no level surface"):
        support_plane(np.r_[floor @ np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])], np.array([0, 0, 1.0]), 0.003)


def _turntable_tracks(focal: float, noise_px: float = 0.3) -> _Tracks:
    """What SfM hands the turntable fit: points on a textured cylinder (radius 0.4, height 1) seen by
    a fixed camera 3 units away, 30 degrees up, while the object turns unevenly through 36 frames;
    the poses exact, the observations with a little noise."""
    rng = np.random.default_rng(0)
    n = 120
    theta, z = rng.uniform(0, 2 * math.pi, n), rng.uniform(0, 1, n)
    points = np.c_[0.4 * np.cos(theta), 0.4 * np.sin(theta), z]
    e = math.radians(30)
    eye = 3.0 * np.array([math.cos(e), 0, math.sin(e)]) + [0, 0, 0.5]
    forward = ([0, 0, 0.5] - eye) / 3.0
    right = np.cross(forward, [0, 0, 1.0])
    right /= np.linalg.norm(right)
    Rc = np.stack([right, np.cross(forward, right), forward])
    poses, frames, pts, uv = {}, [], [], []
    for k in range(36):
        a = 2 * math.pi * k / 36 + 0.1 * math.sin(k / 4)
        Rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1.0]])
        R, t = Rc @ Rz, -Rc @ eye
        poses[k] = np.c_[R, t]
        cam = points @ R.T + t
        facing = np.einsum("ij,ij->i", points[:, :2] @ Rz[:2, :2].T, (eye[:2] - (points[:, :2] @ Rz[:2, :2].T))) > 0
        for i in np.nonzero(facing)[0]:
            frames.append(k)
            pts.append(i)
            uv.append([focal * cam[i, 0] / cam[i, 2] + 240.0, focal * cam[i, 1] / cam[i, 2] + 180.0])
    uv = np.array(uv) + rng.normal(0, noise_px, (len(uv), 2))
    return _Tracks(list(range(36)), poses, points, np.array(frames), np.array(pts), uv)


def test_the_turntable_fit_measures_the_focal_length_from_a_wrong_guess():
    tracks = _turntable_tracks(focal=432.0)
    measured = _turntable_fit(tracks, 384.0, (240.0, 180.0), 1.0, refine_focal=True)
    assert abs(measured.K[0, 0] / 432.0 - 1) < 0.02  # from 11 % short
    held = _turntable_fit(tracks, 384.0, (240.0, 180.0), 1.0)
    assert held.K[0, 0] == 384.0
    residual = [np.median([v.residual_mean_px for v in fit.views.values()]) for fit in (measured, held)]
    assert residual[0] < residual[1]  # weakly observed: 0.37 against 0.43 px, with 0.3 px of noise
