"""Build the example inputs of ``bproc-factory sensor fit`` into this folder.

A "production camera" is simulated with the cheap industrial sensor profile (its sampled values
are written to ``truth.yaml``) and applied to ideal inputs:
- ``chart.png`` + ``chart.yaml``: a ColorChecker Classic photographed at an angle on a grey card;
- ``pairs/reference/*.png`` and ``pairs/production/*.png``: aligned views of textured colour scenes
  from an ideal reference camera and from the production camera.
Run: ``python examples/sensor_fit/build_examples.py [OUT_DIR]``. Deterministic (fixed seeds).
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import yaml

from bproc_factory.config.loader import read_yaml, validate
from bproc_factory.config.sensor import SensorProfile
from bproc_factory.sensor.chart import COLORCHECKER_CLASSIC_SRGB8, draw_chart
from bproc_factory.sensor.pipeline import apply_sensor, srgb_decode
from bproc_factory.sensor.sample import sample_sensor

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PROFILE = REPO / "configs" / "sensors" / "cheap_industrial.yaml"
# the pipeline's spatial steps are not part of the fitted model: leave them out of the simulation
SPATIAL = ("vignetting", "chromatic_aberration_px", "softness_px", "jpeg_quality", "saturation")


def production_camera() -> dict:
    profile = validate(SensorProfile, read_yaml(PROFILE), PROFILE)
    params = sample_sensor(profile, 0.0, 0)
    return {k: v for k, v in params.items() if k not in SPATIAL}


def write_png(path: Path, rgb8: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), rgb8[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])


def chart_photo(camera: dict) -> tuple[np.ndarray, list[list[float]]]:
    """The chart warped into a 480x360 frame on a mid-grey card, through the production camera."""
    chart = draw_chart(COLORCHECKER_CLASSIC_SRGB8, patch_px=48, gap_px=8)
    h, w = chart.shape[:2]
    card = np.full((360, 480, 3), 118, np.uint8)
    src = np.float32([[8, 8], [w - 8, 8], [w - 8, h - 8], [8, h - 8]])  # the patch area
    dst = np.float32([[82, 70], [402, 88], [392, 300], [70, 282]])
    H = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(chart, H, (480, 360), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_TRANSPARENT,
                                 dst=card)
    linear = srgb_decode(warped.astype(np.float64) / 255).astype(np.float32)
    return apply_sensor(linear, camera, np.random.default_rng(1)), dst.tolist()


def scene(rng: np.random.Generator, width: int = 320, height: int = 240) -> np.ndarray:
    """An ideal sRGB image: smooth colour gradients with flat colour blocks and discs."""
    base = cv2.resize(rng.uniform(0.1, 0.9, (4, 5, 3)).astype(np.float32), (width, height),
                      interpolation=cv2.INTER_CUBIC)
    img = np.clip(base, 0.05, 0.95)
    for _ in range(10):
        x, y = int(rng.integers(0, width - 50)), int(rng.integers(0, height - 50))
        img[y:y + int(rng.integers(25, 50)), x:x + int(rng.integers(25, 50))] = rng.uniform(0.08, 0.92, 3)
    for _ in range(6):
        cv2.circle(img, (int(rng.integers(0, width)), int(rng.integers(0, height))), int(rng.integers(10, 30)),
                   rng.uniform(0.08, 0.92, 3).tolist(), -1)
    return np.round(img * 255).astype(np.uint8)


def main(out: Path = HERE) -> None:
    camera = production_camera()
    out.mkdir(parents=True, exist_ok=True)
    (out / "truth.yaml").write_text("# the simulated production camera (what sensor fit should recover)\n"
                                     + yaml.safe_dump(camera, sort_keys=False), encoding="utf-8")
    photo, corners = chart_photo(camera)
    write_png(out / "chart.png", photo)
    (out / "chart.yaml").write_text(yaml.safe_dump(
        {"corners": [[round(x, 1), round(y, 1)] for x, y in corners], "rows": 4, "cols": 6,
         "reference": "colorchecker_classic"}, sort_keys=False), encoding="utf-8")
    rng = np.random.default_rng(2)
    for k in range(3):
        reference = scene(rng)
        linear = srgb_decode(reference.astype(np.float64) / 255).astype(np.float32)
        write_png(out / "pairs" / "reference" / f"view{k}.png", reference)
        write_png(out / "pairs" / "production" / f"view{k}.png", apply_sensor(linear, camera, rng))
    print(f"wrote the examples into {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
