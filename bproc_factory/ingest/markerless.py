"""Cameras and masks for a turntable or walk-around capture without the marker sheet.

Every frame is segmented first (the saliency mask holds the object and the plate it stands on,
both of which turn, never the static background), structure-from-motion finds the cameras from
the features inside those masks, and ``--height-m`` over the sparse points' height gives metres.
With the cameras known, the object occupies a cylinder over the turntable axis (the sparse
points' footprint): saliency pixels outside its projection are the plate and its shadow, and seed
the background colour model that takes the plate out of the rest of the mask. A walk-around is the
same with the camera moving instead of the object: SfM uses whole frames (everything is still) and
the surface the object stands on plays the plate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from bproc_factory.ingest import hull
from bproc_factory.ingest.frames import Frame
from bproc_factory.ingest.segment import MaskResult, Segmenter, clean_mask, sanity_check, separate_support
from bproc_factory.ingest.sfm import SfmFailed, check_turning, orbit_cameras, turntable_cameras
from bproc_factory.ingest.turntable import TurntableGeometry, from_sfm

MAX_SFM_FRAMES = 60  # 60 frames register in ~20 s on 2 cores; matching grows with the square (72 kept a
# 10 s 720p clip at 80-95 s, over its 90 s target)
ASSUMED_FOV_DEG = 64.0  # horizontal field of view of a phone's main camera filming video


@dataclass
class Cylinder:
    """Where the object is, in the object frame: radius and height (metres) over z = 0."""

    radius_m: float
    height_m: float

    def allowed(self, K: np.ndarray, object_to_camera: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """The cylinder's projection in a view (bool)."""
        ring = np.array([[self.radius_m * math.cos(a), self.radius_m * math.sin(a)]
                         for a in np.linspace(0, 2 * math.pi, 72, endpoint=False)])
        pts = np.concatenate([np.c_[ring, np.zeros(len(ring))], np.c_[ring, np.full(len(ring), self.height_m)]])
        uv, depth = hull.project(K, object_to_camera, pts)
        out = np.zeros(shape, np.uint8)
        if (depth > 0).all():
            cv2.fillConvexPoly(out, cv2.convexHull(np.round(uv).astype(np.int32)), 1)
        else:
            out[:] = 1
        return out.astype(bool)


@dataclass
class Markerless:
    geometry: TurntableGeometry  # cameras in metres (provisional: the mesh fixes the scale)
    cylinder: Cylinder
    masks: dict[int, MaskResult]  # frame index -> the plate-free mask
    sightings: dict[int, np.ndarray]  # frame index -> sparse points it saw (object frame, metres)


def assumed_focal_px(width: int, height: int) -> float:
    return max(width, height) / 2 / math.tan(math.radians(ASSUMED_FOV_DEG / 2))


@dataclass
class Salient:
    """A frame's saliency: the segmenter's probabilities and the mask they give (object and plate)."""

    frame: Frame
    prob: np.ndarray
    mask: MaskResult


def salient_frames(frames: list[Frame], segmenter: Segmenter, refine: bool = True) -> list[Salient]:
    """Saliency for at most MAX_SFM_FRAMES of ``frames``, evenly spread: the frames SfM will use."""
    step = max(1, math.ceil(len(frames) / MAX_SFM_FRAMES))
    out = []
    for f in frames[::step]:
        prob = segmenter.probability(f.image)
        out.append(Salient(f, prob, clean_mask(f.image, prob, refine=refine)))
    return out


def markerless_cameras(salient: list[Salient], height_m: float, focal_px: float | None,
                       walk_around: bool = False) -> Markerless:
    """SfM cameras and plate-free masks for the salient frames of a turntable capture or, with
    ``walk_around``, of a camera carried around the still object. Raises SfmFailed with the reason
    when they cannot be registered."""
    saliency = {s.frame.index: s.mask.mask for s in salient}
    # turntable: empty masks, or the object leaving the frame: no features to trust (the area test
    # is left out: the plate comes and goes in saliency masks). A walk-around matches whole frames.
    bad = {} if walk_around else sanity_check(saliency, max_jump=math.inf)
    used = [s.frame for s in salient if s.frame.index not in bad]
    if len(used) < 8:
        raise SfmFailed(f"only {len(used)} frames show the whole object")
    h, w = used[0].image.shape[:2]
    focal = focal_px or assumed_focal_px(w, h)
    if walk_around:  # a still scene with depth fixes the focal length (a turntable's small object does not)
        cameras = orbit_cameras([f.image for f in used], [f.index for f in used], focal, refine_focal=not focal_px)
    else:
        cameras = turntable_cameras([f.image for f in used], [saliency[f.index] for f in used],
                                    [f.index for f in used], focal, refine_focal=not focal_px)
    if len(cameras.views) < max(6, len(used) // 2):
        raise SfmFailed(f"structure-from-motion registered only {len(cameras.views)} of {len(used)} frames")
    if not walk_around:
        check_turning(cameras)
    points = cameras.points
    top = float(np.percentile(points[:, 2], 98))
    if top <= 0:
        raise SfmFailed("structure-from-motion found no object above the turntable")
    above = points[points[:, 2] > 0.03 * top]
    # the 99th percentile: a mug's handle holds few points, and at the 95th the cylinder cut it off
    reach = float(np.percentile(np.hypot(above[:, 0], above[:, 1]), 99))
    scale = height_m / top
    measured = not focal_px and abs(cameras.K[0, 0] / focal - 1) > 1e-9
    if focal_px:
        source = "given (--focal-px)"
    elif measured:
        source = f"estimated by structure-from-motion (from {focal:.0f} px, a phone's {ASSUMED_FOV_DEG:.0f} deg)"
    else:
        source = f"assumed ({ASSUMED_FOV_DEG:.0f} deg horizontal field of view)"
    geometry = from_sfm(cameras, source, "walk-around" if walk_around else "turntable").rescaled(scale)
    geometry.rejected.update(bad)
    if not focal_px and not measured:
        geometry.warnings.append(f"focal length assumed ({focal:.0f} px, a phone's {ASSUMED_FOV_DEG:.0f} deg "
                                 "horizontal field of view); pass --focal-px for exact camera geometry")
    radial = np.hypot(above[:, 0], above[:, 1])
    on_object = above[(radial <= reach) & (above[:, 2] > 0.05 * top)] * scale  # clear of the plate
    cylinder = Cylinder(1.3 * reach * scale, 1.4 * height_m)
    masks = {s.frame.index: plate_free_mask(s, geometry.K, geometry.views[s.frame.index].sheet_to_camera, cylinder,
                                            on_object) for s in salient if s.frame.index in geometry.views}
    sightings = {k: points[v.seen] * scale for k, v in cameras.views.items()}
    return Markerless(geometry, cylinder, masks, sightings)


def plate_free_mask(salient: Salient, K: np.ndarray, object_to_camera: np.ndarray, cylinder: Cylinder,
                    object_points: np.ndarray | None = None) -> MaskResult:
    """The object's mask without the turntable plate and its shadow, given the frame's camera in
    the object frame (metres, z = 0 on the plate), the cylinder the object stands in and sparse
    points on the object (any point on it projects into its silhouette, seen or not: seen from
    above, where no ray past the object misses the plate, they are what tells object from plate)."""
    saliency = salient.mask.mask
    allowed = cylinder.allowed(K, object_to_camera, saliency.shape)
    certain = _off_plate(K, object_to_camera, saliency, allowed)
    if object_points is not None and len(object_points):
        uv, depth = hull.project(K, object_to_camera, object_points)
        h, w = saliency.shape
        px = np.round(uv[depth > 0]).astype(int)
        px = px[(px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)]
        dots = np.zeros((h, w), np.uint8)
        dots[px[:, 1], px[:, 0]] = 1
        certain = certain | cv2.dilate(dots, np.ones((5, 5), np.uint8)).astype(bool)
    return separate_support(salient.frame.image, salient.prob, saliency, allowed, certain)


def _off_plate(K: np.ndarray, object_to_camera: np.ndarray, saliency: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Salient pixels that cannot show the plate: their rays miss the disc of z = 0 that the salient
    pixels outside the object's cylinder (the plate's visible part) reach. (Only salient pixels are
    traced: nothing else is asked of the answer.)"""
    ys, xs = np.nonzero(saliency)
    rays = np.stack([xs, ys, np.ones(len(xs))], axis=1) @ np.linalg.inv(K).T
    R, t = object_to_camera[:3, :3], object_to_camera[:3, 3]
    rays = rays @ R  # = (R^T d) per row: directions in the object frame
    centre = -R.T @ t
    down = rays[:, 2] < -1e-9
    s = -centre[2] / np.where(down, rays[:, 2], -1.0)
    reach = np.where(down, np.hypot(centre[0] + s * rays[:, 0], centre[1] + s * rays[:, 1]), np.inf)
    hit = np.full(saliency.shape, np.inf)
    hit[ys, xs] = reach
    plate = saliency & ~allowed & np.isfinite(hit)
    if not plate.any():
        return np.ones(saliency.shape, bool)
    return hit > float(np.percentile(hit[plate], 98))
