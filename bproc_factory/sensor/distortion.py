"""Lens distortion (pure): render an undistorted canvas, then warp it into the distorted image.

For every output pixel the OpenCV model is inverted (``undistortPointsIter``) to find where its
ray lands on a pinhole "render canvas" with the same focal lengths, grown to cover every ray.
RGB is resampled bilinearly, instance masks with nearest neighbour (no label is ever blended), so
images, masks and boxes all follow the same mapping. Models: ``brown_conrady`` ``[k1, k2, p1, p2,
k3]`` and OpenCV's ``fisheye`` ``[k1, k2, k3, k4]``.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from bproc_factory.errors import FactoryError

MAX_CANVAS_SCALE = 3.0  # the render canvas may have at most this many times the output's side
ROUND_TRIP_TOLERANCE_PX = 0.02
LABEL_SUPERSAMPLING = 2  # label canvas resolution factor under distortion
_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)


class DistortionError(FactoryError, ValueError):
    """The distortion cannot be rendered (not invertible over the image, or too wide a view)."""


@dataclass(frozen=True)
class Canvas:
    """The pinhole image Blender renders, and where each output pixel samples it.

    Under distortion the label pass renders the canvas at ``label_scale`` times its resolution, so
    that nearest-neighbour sampling at the warped positions lands within a quarter pixel."""

    K: np.ndarray  # 3x3 of the render canvas
    width: int
    height: int
    map_x: np.ndarray | None = field(default=None, repr=False)  # float32 HxW, None: identity
    map_y: np.ndarray | None = field(default=None, repr=False)

    @property
    def label_scale(self) -> int:
        return 1 if self.map_x is None else LABEL_SUPERSAMPLING

    def label_intrinsics(self) -> tuple[np.ndarray, int, int]:
        """K and size of the label pass's canvas (pixel centres stay at integer coordinates)."""
        s = self.label_scale
        K = self.K.copy()
        K[0, 0] *= s
        K[1, 1] *= s
        K[0, 2] = (K[0, 2] + 0.5) * s - 0.5
        K[1, 2] = (K[1, 2] + 0.5) * s - 0.5
        return K, self.width * s, self.height * s


def _pixel_grid(width: int, height: int) -> np.ndarray:
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    return np.stack([u.ravel(), v.ravel()], axis=1)


def undistort_normalised(pixels: np.ndarray, K: np.ndarray, coeffs: list[float], model: str) -> np.ndarray:
    """Normalised pinhole coordinates (x/z, y/z) of the rays through distorted ``pixels`` (N x 2)."""
    pts = pixels.reshape(-1, 1, 2).astype(np.float64)
    d = np.asarray(coeffs, np.float64)
    if model == "fisheye":
        out = cv2.fisheye.undistortPoints(pts, K, d, criteria=_CRITERIA)
    else:
        out = cv2.undistortPointsIter(pts, K, d, None, None, _CRITERIA)
    return out.reshape(-1, 2)


def distort_pixels(normalised: np.ndarray, K: np.ndarray, coeffs: list[float], model: str) -> np.ndarray:
    """Distorted pixel coordinates of normalised rays (N x 2): the forward OpenCV model."""
    pts = np.concatenate([normalised, np.ones((len(normalised), 1))], axis=1).reshape(-1, 1, 3)
    zero = np.zeros(3)
    d = np.asarray(coeffs, np.float64)
    if model == "fisheye":
        out, _ = cv2.fisheye.projectPoints(pts, zero, zero, K, d)
    else:
        out, _ = cv2.projectPoints(pts, zero, zero, K, d)
    return out.reshape(-1, 2)


def make_canvas(K: np.ndarray, width: int, height: int, coeffs: list[float] | None = None,
                model: str = "brown_conrady", margin_px: int = 2) -> Canvas:
    """The render canvas for an output image with intrinsics ``K`` and distortion ``coeffs``."""
    K = np.asarray(K, np.float64)
    if not coeffs or not any(coeffs):
        return Canvas(K=K, width=width, height=height)
    pixels = _pixel_grid(width, height)
    rays = undistort_normalised(pixels, K, coeffs, model)
    error = np.abs(distort_pixels(rays, K, coeffs, model) - pixels).max()
    if not np.isfinite(error) or error > ROUND_TRIP_TOLERANCE_PX:
        why = ("a fisheye this wide sees more than a pinhole canvas can hold; keep its diagonal field of "
               "view below about 120 degrees" if model == "fisheye" else "the lens model folds over itself "
               "towards the image edges")
        raise DistortionError(f"distortion {list(coeffs)} ({model}) is not invertible over the "
                              f"{width}x{height} image (round trip off by {error:.3g} px): {why}")
    fx, fy = K[0, 0], K[1, 1]
    u = rays[:, 0] * fx
    v = rays[:, 1] * fy
    left, top = math.floor(u.min()) - margin_px, math.floor(v.min()) - margin_px
    new_w, new_h = math.ceil(u.max()) - left + margin_px + 1, math.ceil(v.max()) - top + margin_px + 1
    if new_w > MAX_CANVAS_SCALE * width or new_h > MAX_CANVAS_SCALE * height:
        raise DistortionError(f"distortion {list(coeffs)} ({model}) sees too wide a field for a "
                              f"pinhole render ({new_w}x{new_h} canvas for a {width}x{height} image)")
    K_render = np.array([[fx, 0.0, -left], [0.0, fy, -top], [0.0, 0.0, 1.0]])
    map_x = (u - left).reshape(height, width).astype(np.float32)
    map_y = (v - top).reshape(height, width).astype(np.float32)
    return Canvas(K=K_render, width=int(new_w), height=int(new_h), map_x=map_x, map_y=map_y)


@functools.lru_cache(maxsize=64)
def cached_canvas(K: tuple[tuple[float, ...], ...], width: int, height: int, coeffs: tuple[float, ...],
                  model: str) -> Canvas:
    """``make_canvas`` for hashable arguments, remembered (the inversion costs ~0.5 s at 640x480)."""
    return make_canvas(np.asarray(K), width, height, list(coeffs), model)


def warp_image(canvas: Canvas, image: np.ndarray) -> np.ndarray:
    """Resample a rendered canvas image into the distorted output (bilinear)."""
    if canvas.map_x is None:
        return image
    return cv2.remap(image, canvas.map_x, canvas.map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def warp_labels(canvas: Canvas, labels: np.ndarray) -> np.ndarray:
    """Resample a label map (instance ids, rendered on the label canvas) into the distorted output
    without blending ids."""
    if canvas.map_x is None:
        return labels
    s = canvas.label_scale
    map_x = (canvas.map_x + 0.5) * s - 0.5
    map_y = (canvas.map_y + 0.5) * s - 0.5
    return cv2.remap(labels, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
