"""Turntable geometry: each kept frame's camera relative to the turning object.

With the ArUco sheet on the turntable (``markers.py``), the markers' known layout gives the focal
length (one planar view fixes it once the principal point and square pixels are assumed; all
frames are used), then each frame's pose by PnP, in metres. The object frame is the sheet frame, so
the angle of a view is the camera's azimuth around the object, measured, not assumed. Without
markers the only fallback here is constant turntable speed over one revolution found from frame
similarity; that gives view angles for billboards but no metric cameras, so no mesh. Between
the two, structure-from-motion on the object's own texture (``sfm.py``) gives the cameras up to
scale; ``from_sfm`` turns them into this module's records and ``rescaled`` puts them in metres
once the object's height is known.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from bproc_factory.ingest.frames import Frame
from bproc_factory.ingest.markers import SheetLayout, detect_markers
from bproc_factory.ingest.sfm import SfmCameras

MIN_MARKERS = 3  # per frame, for a pose


@dataclass
class ViewGeometry:
    """One frame's camera in the object (sheet) frame."""

    sheet_to_camera: np.ndarray | None  # 4 x 4, OpenCV camera; None without markers
    azimuth_deg: float  # camera azimuth around the object's vertical axis, in [0, 360)
    elevation_deg: float | None
    distance_m: float | None
    residual_px: float | None  # RMS reprojection error of the markers, or mean SfM reprojection error
    markers: int


@dataclass
class TurntableGeometry:
    method: str  # "aruco", "sfm" or "constant-speed"
    K: np.ndarray | None
    views: dict[int, ViewGeometry]
    rejected: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    markers: dict[int, dict[int, np.ndarray]] = field(default_factory=dict)  # frame -> id -> corners
    details: dict = field(default_factory=dict)  # method-specific figures for asset.yaml

    @property
    def metric(self) -> bool:
        """Whether every view has a camera pose (in metres once ``rescaled``)."""
        return self.method in ("aruco", "sfm")

    def rescaled(self, scale: float) -> TurntableGeometry:
        """The same cameras for the object frame scaled by ``scale`` about its origin."""
        views = {}
        for k, v in self.views.items():
            T = v.sheet_to_camera.copy()
            T[:3, 3] *= scale
            views[k] = _view_from_pose(T, v.residual_px, v.markers)
        return TurntableGeometry(self.method, self.K, views, dict(self.rejected), list(self.warnings),
                                 self.markers, dict(self.details))

    def summary(self) -> dict:
        """Figures for asset.yaml."""
        out: dict = {"method": self.method, "warnings": list(self.warnings)}
        if self.K is not None:
            out["K"] = np.round(self.K, 3).tolist()
        out.update(self.details)
        res = [v.residual_px for v in self.views.values() if v.residual_px is not None]
        if res:
            key = "marker_residual_px" if self.method == "aruco" else "reprojection_px"
            out[key] = {"mean": round(float(np.mean(res)), 3), "max": round(float(np.max(res)), 3)}
        elev = [v.elevation_deg for v in self.views.values() if v.elevation_deg is not None]
        if elev:
            out["elevation_deg"] = {"mean": round(float(np.mean(elev)), 2), "min": round(float(np.min(elev)), 2),
                                    "max": round(float(np.max(elev)), 2)}
            out["distance_m"] = round(float(np.mean([v.distance_m for v in self.views.values()])), 4)
        return out


def marker_geometry(frames: list[Frame], layout: SheetLayout) -> TurntableGeometry | None:
    """Cameras from the sheet's markers when at least half the frames show enough of them."""
    found = {f.index: detect_markers(cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY), layout) for f in frames}
    usable = {i: m for i, m in found.items() if len(m) >= MIN_MARKERS}
    if len(usable) < max(3, len(frames) // 2):
        return None
    h, w = frames[0].image.shape[:2]
    geometry = _from_markers(usable, found, layout, (w, h))
    geometry.markers = found
    return geometry


def _from_markers(usable: dict[int, dict[int, np.ndarray]], found: dict[int, dict[int, np.ndarray]],
                  layout: SheetLayout, size: tuple[int, int]) -> TurntableGeometry:
    w, h = size
    obj_pts, img_pts = {}, {}
    for i, markers in usable.items():
        obj_pts[i] = np.concatenate([layout.corners(m) for m in sorted(markers)]).astype(np.float32)
        img_pts[i] = np.concatenate([markers[m] for m in sorted(markers)]).astype(np.float32)
    K = _calibrate(obj_pts, img_pts, size)
    views, rejected = {}, {}
    for i in found:
        if i not in usable:
            rejected[i] = f"only {len(found[i])} turntable markers visible (need {MIN_MARKERS})"
            continue
        ok, rvec, tvec = cv2.solvePnP(obj_pts[i], img_pts[i], K, None, flags=cv2.SOLVEPNP_IPPE)
        if not ok:
            rejected[i] = "marker pose did not converge"
            continue
        rvec, tvec = cv2.solvePnPRefineLM(obj_pts[i], img_pts[i], K, None, rvec, tvec)
        proj, _ = cv2.projectPoints(obj_pts[i], rvec, tvec, K, None)
        residual = float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - img_pts[i]) ** 2, axis=1))))
        T = np.eye(4)
        T[:3, :3] = cv2.Rodrigues(rvec)[0]
        T[:3, 3] = tvec.ravel()
        views[i] = _view_from_pose(T, residual, len(usable[i]))
    return TurntableGeometry("aruco", K, views, rejected)


def _calibrate(obj_pts: dict, img_pts: dict, size: tuple[int, int]) -> np.ndarray:
    """Focal length from all marker views; principal point at the centre, square pixels, no
    distortion (phone video is already undistorted by the phone)."""
    w, h = size
    K0 = np.array([[max(w, h), 0, (w - 1) / 2], [0, max(w, h), (h - 1) / 2], [0, 0, 1]], np.float64)
    keys = sorted(obj_pts)[:: max(1, len(obj_pts) // 30)]  # 30 views pin the one unknown down
    flags = (cv2.CALIB_USE_INTRINSIC_GUESS | cv2.CALIB_FIX_PRINCIPAL_POINT | cv2.CALIB_FIX_ASPECT_RATIO
             | cv2.CALIB_ZERO_TANGENT_DIST | cv2.CALIB_FIX_K1 | cv2.CALIB_FIX_K2 | cv2.CALIB_FIX_K3)
    _, K, _, _, _ = cv2.calibrateCamera([obj_pts[k] for k in keys], [img_pts[k] for k in keys], (w, h),
                                        K0, np.zeros(5), flags=flags)
    return K


def _view_from_pose(sheet_to_camera: np.ndarray, residual: float | None, markers: int) -> ViewGeometry:
    centre = -sheet_to_camera[:3, :3].T @ sheet_to_camera[:3, 3]  # camera centre in the sheet frame
    dist = float(np.linalg.norm(centre))
    return ViewGeometry(sheet_to_camera=sheet_to_camera,
                        azimuth_deg=float(math.degrees(math.atan2(centre[1], centre[0])) % 360.0),
                        elevation_deg=float(math.degrees(math.asin(centre[2] / dist))),
                        distance_m=dist, residual_px=residual, markers=markers)


def from_sfm(cameras: SfmCameras, focal_source: str, capture: str = "turntable") -> TurntableGeometry:
    """Records for SfM cameras of a ``capture`` ("turntable" or "walk-around"), still in SfM units
    (``rescaled`` puts them in metres)."""
    views = {k: _view_from_pose(v.object_to_camera, v.residual_mean_px, 0) for k, v in cameras.views.items()}
    details = {"capture": capture, "registered_frames": len(cameras.views),
               "unregistered_frames": len(cameras.unregistered), "focal_source": focal_source,
               "seconds": round(cameras.seconds, 1)}
    rejected = {k: "not registered by structure-from-motion (too few features matched)" for k in cameras.unregistered}
    rejected.update({k: "registered by structure-from-motion off the camera's path (a wrong match)"
                     for k in cameras.strays})
    return TurntableGeometry("sfm", cameras.K, views, rejected, list(cameras.warnings), details=details)


def constant_speed(frames: list[Frame], note: str) -> TurntableGeometry:
    """Angles from frame order, assuming one revolution at constant speed whose end is the frame
    most like the first one in the clip's second half."""
    small = [cv2.resize(cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY), (64, 48), interpolation=cv2.INTER_AREA)
             .astype(np.float32) for f in frames]
    n = len(frames)
    period = n
    if n >= 8:
        diffs = [float(np.abs(small[k] - small[0]).mean()) for k in range(n // 2, n)]
        best = n // 2 + int(np.argmin(diffs))
        # the clip may stop short of a full turn: only a clear match ends the revolution early
        if diffs[best - n // 2] < 0.5 * float(np.median(diffs)):
            period = best
    first = frames[0].index
    span = frames[period - 1].index - first + 1 if period < n else frames[-1].index - first + 1
    step = 360.0 / span
    views = {f.index: ViewGeometry(None, (-(f.index - first) * step) % 360.0, None, None, None, 0)
             for f in frames[:period]}
    rejected = {f.index: "after the first revolution" for f in frames[period:]}
    warning = (f"{note}: view angles assume constant turntable speed over one revolution of {span} "
               "frames (a hand-spun turntable is uneven: expect errors of several degrees) and there are "
               "no metric cameras, so no mesh")
    return TurntableGeometry("constant-speed", None, views, rejected, [warning])
