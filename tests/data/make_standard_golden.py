"""Writes ``standard_golden.npz``: the sensor pipeline's 8-bit output on a fixed HDR test image, for
no profile and each shipped sensor profile at three seeds, made by the code from before view
transforms existed (commit 2bec495^), so a test can hold ``view_transform: standard`` to it.

    git worktree add /tmp/before-view-transform 2bec495^
    PYTHONPATH=/tmp/before-view-transform python tests/data/make_standard_golden.py
"""
import json
from pathlib import Path

import numpy as np
import yaml

from bproc_factory.config.seeding import rng_for
from bproc_factory.config.sensor import SensorProfile
from bproc_factory.sensor.pipeline import apply_sensor
from bproc_factory.sensor.sample import sample_sensor

HERE = Path(__file__).parent
PROFILES = sorted((HERE.parents[1] / "configs" / "sensors").glob("*.yaml"))
SEEDS = (0, 1, 7)


def hdr_test_image() -> np.ndarray:
    """A 24x32 scene-linear image from black to 4x over white: a ramp, flat patches and noise."""
    rng = np.random.default_rng(2026)
    img = np.tile(np.linspace(0.0, 4.0, 32, dtype=np.float32)[None, :, None], (24, 1, 3))
    img[8:16] = rng.uniform(0.0, 1.5, (8, 32, 3)).astype(np.float32)
    img[16:, :16] = (0.18, 0.05, 0.6)
    return img


def golden_cases() -> dict[str, tuple[SensorProfile | None, int]]:
    """Case name -> (profile, seed)."""
    cases: dict[str, tuple[SensorProfile | None, int]] = {"none": (None, 0)}
    for path in PROFILES:
        profile = SensorProfile.model_validate(yaml.safe_load(path.read_text()))
        cases.update({f"{path.stem}-{seed}": (profile, seed) for seed in SEEDS})
    return cases


def main() -> None:
    image, arrays, params = hdr_test_image(), {}, {}
    for name, (profile, seed) in golden_cases().items():
        params[name] = sample_sensor(profile, 0.5, seed)
        arrays[name] = apply_sensor(image, params[name], rng_for(seed, "sensor_noise"))
    np.savez_compressed(HERE / "standard_golden.npz", params=json.dumps(params, sort_keys=True), **arrays)


if __name__ == "__main__":
    main()
