"""Develop a scene-linear image into an image file's pixels (pure): the lens obstructions, then the
sensor pipeline, and the JPEG quality the file is saved at. ``render`` and ``develop`` both call it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bproc_factory.config import RenderConfig, rng_for
from bproc_factory.sensor.lens import apply_lens
from bproc_factory.sensor.pipeline import apply_sensor


@dataclass(frozen=True)
class Developed:
    """An image's 8-bit RGB pixels and the JPEG quality its file is written with (jpg only)."""

    rgb8: np.ndarray
    jpeg_quality: int


def develop_pixels(linear: np.ndarray, sensor: dict[str, Any], lens: dict[str, Any], render: RenderConfig,
                   image_seed: int) -> Developed:
    """``linear`` (the camera's scene-linear image) through the sampled lens and sensor values."""
    x = apply_lens(linear, lens)
    quality = render.jpeg_quality
    if render.image_format == "jpg" and "jpeg_quality" in sensor:
        # the file itself is the camera's JPEG: encode once, at the sampled quality
        quality = sensor["jpeg_quality"]
        sensor = {k: v for k, v in sensor.items() if k != "jpeg_quality"}
    return Developed(apply_sensor(x, sensor, rng_for(image_seed, "sensor_noise")), quality)
