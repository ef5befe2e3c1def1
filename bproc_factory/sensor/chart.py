"""Colour charts: reference values and reading patch colours from a photo of the chart."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# X-Rite ColorChecker Classic, 4 rows x 6 columns, sRGB (D65) 8-bit reference values as published
# by X-Rite / BabelColor, row by row from "dark skin" to "black".
COLORCHECKER_CLASSIC_SRGB8 = np.array([
    [115, 82, 68], [194, 150, 130], [98, 122, 157], [87, 108, 67], [133, 128, 177], [103, 189, 170],
    [214, 126, 44], [80, 91, 166], [193, 90, 99], [94, 60, 108], [157, 188, 64], [224, 163, 46],
    [56, 61, 150], [70, 148, 73], [175, 54, 60], [231, 199, 31], [187, 86, 149], [8, 133, 161],
    [243, 243, 242], [200, 200, 200], [160, 160, 160], [122, 122, 121], [85, 85, 85], [52, 52, 52]],
    dtype=np.float64)
NEUTRAL_PATCHES = slice(18, 24)


@dataclass(frozen=True)
class Patches:
    """Mean and standard deviation (display values, 0..1) of each patch, row by row."""

    mean: np.ndarray  # (N, 3)
    std: np.ndarray  # (N, 3)
    clipped: np.ndarray  # (N,) share of the patch's pixels at 0 or 255


def chart_homography(corners: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Homography from chart grid units (x in [0, cols], y in [0, rows]) to image pixels.
    ``corners`` are the patch area's top-left, top-right, bottom-right, bottom-left corners."""
    grid = np.array([[0, 0], [cols, 0], [cols, rows], [0, rows]], np.float64)
    return cv2.getPerspectiveTransform(grid.astype(np.float32), np.asarray(corners, np.float32))


def read_patches(image_rgb8: np.ndarray, corners: np.ndarray, rows: int = 4, cols: int = 6,
                 inset: float = 0.25) -> Patches:
    """Average each patch's central region (``inset`` of the patch trimmed on every side)."""
    H = chart_homography(corners, rows, cols)
    h, w = image_rgb8.shape[:2]
    means, stds, clipped = [], [], []
    for r in range(rows):
        for c in range(cols):
            quad = np.array([[c + inset, r + inset], [c + 1 - inset, r + inset],
                             [c + 1 - inset, r + 1 - inset], [c + inset, r + 1 - inset]], np.float64)
            pts = cv2.perspectiveTransform(quad.reshape(-1, 1, 2), H).reshape(-1, 2)
            mask = np.zeros((h, w), np.uint8)
            cv2.fillConvexPoly(mask, np.round(pts).astype(np.int32), 1)
            pixels = image_rgb8[mask.astype(bool)].astype(np.float64)
            if len(pixels) < 4:
                raise ValueError(f"patch ({r + 1}, {c + 1}) covers {len(pixels)} pixels; the chart is too small "
                                 "in the photo or the corners are wrong")
            means.append(pixels.mean(axis=0) / 255)
            stds.append(pixels.std(axis=0) / 255)
            clipped.append(float(((pixels <= 0) | (pixels >= 255)).any(axis=1).mean()))
    return Patches(np.array(means), np.array(stds), np.array(clipped))


def draw_chart(srgb8: np.ndarray, rows: int = 4, cols: int = 6, patch_px: int = 40,
               gap_px: int = 6) -> np.ndarray:
    """An ideal chart image (RGB uint8) with the given patch colours, row by row."""
    h = rows * patch_px + (rows + 1) * gap_px
    w = cols * patch_px + (cols + 1) * gap_px
    img = np.full((h, w, 3), 20, np.uint8)
    for k, colour in enumerate(np.asarray(srgb8)):
        r, c = divmod(k, cols)
        y, x = gap_px + r * (patch_px + gap_px), gap_px + c * (patch_px + gap_px)
        img[y:y + patch_px, x:x + patch_px] = np.clip(np.round(colour), 0, 255)
    return img
