"""Draw concrete sensor and lens parameters for one image from their profiles (pure, seeded).

The returned dicts are what the pipeline applies and what the image's meta records.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from bproc_factory.config.distributions import sample, sample_int
from bproc_factory.config.sensor import LensEffects, SensorProfile

SRGB_ONLY = {"curve": "srgb"}


def sample_sensor(profile: SensorProfile | None, base_exposure_ev: float,
                  rng: np.random.Generator) -> dict[str, Any]:
    """Concrete values of every step the profile enables (no profile: exposure and sRGB only)."""
    if profile is None:
        return {"exposure_ev": base_exposure_ev, "tone": dict(SRGB_ONLY)}
    out: dict[str, Any] = {"exposure_ev": base_exposure_ev + sample(profile.exposure_ev, rng)}
    if profile.ccm is not None:
        ccm = np.asarray(profile.ccm, float)
        jitter = sample(profile.ccm_jitter, rng)
        if jitter > 0:
            noisy = ccm + rng.normal(0.0, jitter, (3, 3))
            noisy += ((ccm.sum(axis=1) - noisy.sum(axis=1)) / 3)[:, None]  # rows keep their sums
            ccm = noisy
        out["ccm"] = ccm.tolist()
    if profile.white_balance is not None:
        out["white_balance"] = [sample(d, rng) for d in profile.white_balance]
    if profile.noise is not None:
        out["noise"] = {"full_well_e": sample(profile.noise.full_well_e, rng),
                        "read_noise_e": sample(profile.noise.read_noise_e, rng),
                        "channel_gain": list(profile.noise.channel_gain)}
    tone = profile.tone
    out["tone"] = ({"curve": "gamma", "gamma": sample(tone.gamma, rng)} if tone.curve == "gamma" else
                   {"curve": "points", "points": [list(p) for p in tone.points]} if tone.curve == "points" else
                   dict(SRGB_ONLY))
    for key in ("saturation", "vignetting", "chromatic_aberration_px", "softness_px"):
        dist = getattr(profile, key)
        if dist is not None:
            out[key] = sample(dist, rng)
    if profile.jpeg_quality is not None:
        out["jpeg_quality"] = sample_int(profile.jpeg_quality, rng)
    return out


def sample_lens(effects: LensEffects | None, width: int, height: int,
                rng: np.random.Generator) -> dict[str, Any]:
    """Which obstructions this image gets (each by its probability) and their concrete values."""
    out: dict[str, Any] = {}
    if effects is None:
        return out
    if effects.bloom is not None and rng.random() < effects.bloom.probability:
        b = effects.bloom
        out["bloom"] = {"threshold": sample(b.threshold, rng), "strength": sample(b.strength, rng),
                        "radius_px": sample(b.radius_px, rng)}
    if effects.fog is not None and rng.random() < effects.fog.probability:
        f = effects.fog
        out["fog"] = {"density": sample(f.density, rng), "coverage": sample(f.coverage, rng),
                      "blur_px": sample(f.blur_px, rng), "color": list(f.color),
                      "field_seed": int(rng.integers(2**31))}
    if effects.dust is not None and rng.random() < effects.dust.probability:
        d = effects.dust
        spots = [[float(rng.uniform(0, width)), float(rng.uniform(0, height)), sample(d.spot_radius_px, rng),
                  sample(d.spot_opacity, rng)] for _ in range(sample_int(d.spots, rng))]
        smudges = [[float(rng.uniform(0, width)), float(rng.uniform(0, height)), float(rng.uniform(0, 180)),
                    sample(d.smudge_length_px, rng), sample(d.smudge_strength, rng)]
                   for _ in range(sample_int(d.smudges, rng))]
        out["dust"] = {"spots": spots, "smudges": smudges}  # [x, y, radius, opacity], [x, y, angle, length, strength]
    return out
