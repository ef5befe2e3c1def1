"""The sensor pipeline on a scene-linear render, in physical order, ending in 8-bit RGB (pure).

exposure -> colour matrix -> white balance -> noise (shot + read) -> tone (the view transform, or
the sensor's own curve) -> saturation -> vignetting -> chromatic aberration -> softness -> JPEG round
trip. ``params`` come from
``sensor.sample.sample_sensor``; steps it does not name are skipped.
"""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from bproc_factory.sensor.view_transform import VIEWS, view_encode

LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


def srgb_encode(x: np.ndarray) -> np.ndarray:
    """The sRGB transfer curve on [0, 1] values."""
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4) - 0.055)


def srgb_decode(y: np.ndarray) -> np.ndarray:
    """Inverse of ``srgb_encode``."""
    return np.where(y <= 0.04045, y / 12.92, np.power((np.maximum(y, 0.04045) + 0.055) / 1.055, 2.4))


def tone_encode(x: np.ndarray, tone: dict[str, Any]) -> np.ndarray:
    """Linear -> display [0, 1] by the sampled tone step: Blender's AgX or Filmic view transform (which
    rolls highlights off), or a curve on linear values clipped to [0, 1]."""
    if tone["curve"] in VIEWS:
        return view_encode(x, tone["curve"], tone.get("look"))
    x = np.clip(x, 0.0, 1.0)
    if tone["curve"] == "gamma":
        return np.power(x, 1.0 / tone["gamma"])
    if tone["curve"] == "points":
        pts = np.asarray(tone["points"], float)
        return np.interp(x, pts[:, 0], pts[:, 1]).astype(x.dtype)
    return srgb_encode(x)


def add_noise(x: np.ndarray, noise: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """Shot noise (variance = signal electrons) plus read noise, scaled per channel."""
    well = noise["full_well_e"]
    electrons = np.clip(x, 0.0, None) * well
    sigma = np.sqrt(electrons + noise["read_noise_e"] ** 2) / well
    sigma *= np.asarray(noise["channel_gain"], np.float32)
    return x + rng.standard_normal(x.shape).astype(np.float32) * sigma.astype(np.float32)


def radius_map(height: int, width: int) -> np.ndarray:
    """Distance from the image centre, 1 at the corners."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    return np.hypot(x - cx, y - cy) / np.hypot(cx, cy)


def chromatic_aberration(img: np.ndarray, shift_px: float) -> np.ndarray:
    """Lateral aberration: red magnified and blue shrunk about the centre by ``shift_px`` at the corners."""
    h, w = img.shape[:2]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    corner = np.hypot(cx, cy)
    out = img.copy()
    for channel, sign in ((0, 1.0), (2, -1.0)):
        scale = 1.0 + sign * shift_px / corner
        map_x = (cx + (x - cx) / scale).astype(np.float32)
        map_y = (cy + (y - cy) / scale).astype(np.float32)
        out[..., channel] = cv2.remap(img[..., channel], map_x, map_y, cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_REPLICATE)
    return out


def jpeg_round_trip(rgb8: np.ndarray, quality: int) -> np.ndarray:
    """The image as a JPEG of ``quality`` would decode (compression artefacts included)."""
    ok, buf = cv2.imencode(".jpg", rgb8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]


def apply_sensor(linear: np.ndarray, params: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """Scene-linear float RGB (HxWx3) -> 8-bit RGB through the sampled pipeline."""
    x = np.asarray(linear, np.float32) * np.float32(2.0 ** params.get("exposure_ev", 0.0))
    if "ccm" in params:
        x = x @ np.asarray(params["ccm"], np.float32).T
    if "white_balance" in params:
        x = x * np.asarray(params["white_balance"], np.float32)
    if "noise" in params:
        x = add_noise(x, params["noise"], rng)
    y = tone_encode(x, params["tone"]).astype(np.float32)
    if "saturation" in params:
        luma = (y @ LUMA)[..., None]
        y = np.clip(luma + params["saturation"] * (y - luma), 0.0, 1.0)
    if "vignetting" in params:
        y = y * (1.0 - params["vignetting"] * radius_map(*y.shape[:2]) ** 2)[..., None]
    if params.get("chromatic_aberration_px"):
        y = chromatic_aberration(y, params["chromatic_aberration_px"])
    if params.get("softness_px"):
        y = cv2.GaussianBlur(y, (0, 0), params["softness_px"])
    rgb8 = np.round(np.clip(y, 0.0, 1.0) * 255.0).astype(np.uint8)
    if "jpeg_quality" in params:
        rgb8 = jpeg_round_trip(rgb8, params["jpeg_quality"])
    return rgb8
