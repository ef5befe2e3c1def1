"""The printable turntable sheet: a ring of ArUco markers whose layout is known in metres, so each
frame's camera pose relative to the turning object (and the metric scale) can be measured.

The sheet frame is the object frame of an ingested asset: origin on the turntable axis at the
sheet's surface, z up, x towards marker 0. Print ``sheet_image()`` at the stated size, put it on
the turntable and stand the object inside the ring.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from bproc_factory.dataset import write_picture

DICTIONARY = cv2.aruco.DICT_4X4_50


@dataclass(frozen=True)
class SheetLayout:
    """Markers ``0 .. count-1`` with centres on a circle, each turned to face the axis."""

    count: int = 12
    ring_radius_m: float = 0.12
    marker_m: float = 0.04
    sheet_m: float = 0.30  # printed square side: fits on A3 paper

    @property
    def free_radius_m(self) -> float:
        """Radius inside the ring that the object must stay within."""
        return self.ring_radius_m - self.marker_m * 0.75

    def corners(self, marker_id: int) -> np.ndarray:
        """4 x 3 sheet coordinates of a marker's corners in ArUco order (top-left, top-right,
        bottom-right, bottom-left as printed, "top" facing away from the axis)."""
        a = 2 * np.pi * marker_id / self.count
        radial = np.array([np.cos(a), np.sin(a)])
        tangent = np.array([-np.sin(a), np.cos(a)])
        centre = self.ring_radius_m * radial
        h = self.marker_m / 2
        # image x (right) runs along -tangent, image y (down) runs towards the axis
        pts = [centre + h * (u * -tangent + v * -radial) for u, v in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        return np.array([[p[0], p[1], 0.0] for p in pts])

    def sheet_image(self, px_per_m: float = 4000.0) -> np.ndarray:
        """The printable sheet (grey 8-bit image, white paper with black markers), top view with
        image x = sheet x and image y = -sheet y."""
        size = int(round(self.sheet_m * px_per_m))
        img = np.full((size, size), 255, np.uint8)
        dictionary = cv2.aruco.getPredefinedDictionary(DICTIONARY)
        side = int(round(self.marker_m * px_per_m))
        for k in range(self.count):
            marker_img = cv2.aruco.generateImageMarker(dictionary, k, side)
            src = np.array([[0, 0], [side, 0], [side, side], [0, side]], np.float32)
            dst = np.array([self.to_pixel(p[:2], px_per_m) for p in self.corners(k)], np.float32)
            warp = cv2.warpPerspective(marker_img, cv2.getPerspectiveTransform(src, dst), (size, size),
                                       flags=cv2.INTER_NEAREST, borderValue=255)
            img = np.minimum(img, warp)
        return img

    def to_pixel(self, xy: np.ndarray, px_per_m: float) -> tuple[float, float]:
        half = self.sheet_m * px_per_m / 2
        return half + xy[0] * px_per_m, half - xy[1] * px_per_m


@lru_cache(maxsize=4)
def _sheet(layout: SheetLayout, px_per_m: float) -> np.ndarray:
    return layout.sheet_image(px_per_m)


def sheet_like(image: np.ndarray, sheet_to_camera: np.ndarray, K: np.ndarray, layout: SheetLayout,
               px_per_m: float = 2000.0) -> np.ndarray:
    """Pixels that look like the printed sheet where the measured pose puts it: unsaturated paper
    (in light or in the object's shadow) where the sheet is white, dark where a marker is."""
    h, w = image.shape[:2]
    sheet = _sheet(layout, px_per_m)
    half = layout.sheet_m * px_per_m / 2
    # sheet image pixel (col, row) -> sheet (x, y, 0) -> image
    to_sheet = np.array([[1 / px_per_m, 0, -half / px_per_m], [0, -1 / px_per_m, half / px_per_m], [0, 0, 1]])
    R, t = sheet_to_camera[:3, :3], sheet_to_camera[:3, 3]
    H = K @ np.column_stack([R[:, 0], R[:, 1], t]) @ to_sheet
    predicted = cv2.warpPerspective(sheet, H, (w, h), flags=cv2.INTER_LINEAR, borderValue=128)
    inside = cv2.warpPerspective(np.ones_like(sheet), H, (w, h), flags=cv2.INTER_NEAREST).astype(bool)
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    sat, val = hsv[..., 1].astype(np.float32), hsv[..., 2].astype(np.float32)
    white = inside & (predicted > 200)
    if not white.any():
        return np.zeros((h, w), bool)
    paper = float(np.percentile(val[white], 75))
    white_like = white & (sat < 60) & (val > 0.12 * paper)
    black_like = inside & (predicted < 55) & (val < 0.5 * paper)
    return white_like | black_like


def detect_markers(gray: np.ndarray, layout: SheetLayout) -> dict[int, np.ndarray]:
    """Marker id -> 4 x 2 image corners of the sheet's markers found in a grey frame."""
    detector = cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(DICTIONARY),
                                       cv2.aruco.DetectorParameters())
    corners, ids, _ = detector.detectMarkers(gray)
    if ids is None:
        return {}
    return {int(i): c.reshape(4, 2) for i, c in zip(ids.ravel(), corners) if 0 <= int(i) < layout.count}


def write_sheet(output: Path, dpi: int = 300) -> SheetLayout:
    """Write the printable turntable sheet as a PNG at ``dpi``; returns its layout."""
    layout = SheetLayout()
    write_picture(output, layout.sheet_image(px_per_m=dpi / 0.0254), "turntable-sheet")
    return layout
