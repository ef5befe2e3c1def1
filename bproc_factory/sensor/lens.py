"""Lens obstructions on the scene-linear image (pure): bloom, fog/condensation, dust and smudges.

They change pixels only; the instance masks describe the scene behind the lens and stay as they are.
"""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np


def bloom(x: np.ndarray, threshold: float, strength: float, radius_px: float) -> np.ndarray:
    """Add the glow of values above ``threshold``, spread at three radii."""
    bright = np.clip(x - threshold, 0.0, None)
    glow = sum(cv2.GaussianBlur(bright, (0, 0), radius_px * s) for s in (1.0, 2.0, 4.0)) / 3.0
    return x + strength * glow


def smooth_field(height: int, width: int, coverage: float, seed: int) -> np.ndarray:
    """A soft random field in [0, 1] over ``coverage`` of the frame (low-frequency noise, thresholded)."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((6, 8)).astype(np.float32)
    field = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    field = cv2.GaussianBlur(field, (0, 0), max(width, height) / 12)
    cut = np.quantile(field, 1.0 - coverage) if coverage < 1 else field.min() - 1e-6
    field = np.clip((field - cut) / max(float(field.max() - cut), 1e-6), 0.0, 1.0)
    return field


def fog(x: np.ndarray, density: float, coverage: float, blur_px: float, color: list[float],
        field_seed: int) -> np.ndarray:
    """A veil that scatters light: blur, washed-out contrast and a tint where the field is dense."""
    h, w = x.shape[:2]
    alpha = (density * smooth_field(h, w, coverage, field_seed))[..., None]
    blurred = cv2.GaussianBlur(x, (0, 0), blur_px) if blur_px > 0 else x
    veil = np.asarray(color, np.float32) * float(x.mean())  # scattered scene light
    return (1 - alpha) * ((1 - alpha) * x + alpha * blurred) + alpha * veil


def dust(x: np.ndarray, spots: list[list[float]], smudges: list[list[float]]) -> np.ndarray:
    """Dark soft discs for dust, and blurred veiled streaks for smudges."""
    h, w = x.shape[:2]
    shade = np.ones((h, w), np.float32)
    for cx, cy, radius, opacity in spots:
        r = max(1.0, radius)
        pad = int(3 * r) + 2
        x0, x1 = max(0, int(cx) - pad), min(w, int(cx) + pad + 1)
        y0, y1 = max(0, int(cy) - pad), min(h, int(cy) + pad + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        disc = np.zeros((y1 - y0, x1 - x0), np.float32)
        cv2.circle(disc, (int(cx) - x0, int(cy) - y0), int(r), 1.0, -1, cv2.LINE_AA)
        disc = cv2.GaussianBlur(disc, (0, 0), max(r / 2, 0.5))
        shade[y0:y1, x0:x1] *= 1.0 - opacity * disc
    out = x * shade[..., None]
    if smudges:
        streaks = np.zeros((h, w), np.float32)
        for cx, cy, angle, length, strength in smudges:
            size = (max(1, int(length / 2)), max(1, int(length / 8)))
            cv2.ellipse(streaks, (int(cx), int(cy)), size, angle, 0, 360, float(strength), -1, cv2.LINE_AA)
        streaks = cv2.GaussianBlur(streaks, (0, 0), 6.0)[..., None]
        smeared = cv2.GaussianBlur(out, (0, 0), 3.0)
        out = (1 - streaks) * out + streaks * (0.7 * smeared + 0.3 * float(out.mean()))
    return out


def apply_lens(linear: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Apply the sampled obstructions in physical order: bloom, then fog, then dust on the glass."""
    x = np.asarray(linear, np.float32)
    if "bloom" in params:
        x = bloom(x, **params["bloom"])
    if "fog" in params:
        x = fog(x, **params["fog"])
    if "dust" in params:
        x = dust(x, **params["dust"])
    return x.astype(np.float32)
