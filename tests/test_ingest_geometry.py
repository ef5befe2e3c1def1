"""Turntable geometry without rendering: the physical checks on structure-from-motion cameras,
the matching window, and moving cameras between object frames."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bproc_factory.ingest.sfm import SfmCameras, SfmFailed, SfmView, check_turning, window_pairs
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
