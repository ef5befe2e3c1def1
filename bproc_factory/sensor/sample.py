"""Draw concrete sensor and lens parameters for one image from their profiles (pure, seeded).

Every value has its own random stream (``rng_for(image_seed, "sensor", name)``), so changing one
setting, as a sweep does, leaves every other drawn value as it was. The returned dicts are what
the pipeline applies and what the image's meta records.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from bproc_factory.config import LensEffects, SensorProfile, draw, rng_for, sample, sample_int

SRGB_ONLY = {"curve": "srgb"}


def sample_sensor(profile: SensorProfile | None, base_exposure_ev: float, seed: int,
                  view_transform: str = "standard", look: str | None = None) -> dict[str, Any]:
    """Concrete values of every step the profile enables (no profile: exposure and the view transform
    only). The tone step is the view transform (agx, filmic; standard: sRGB) unless the profile has
    its own gamma or points curve."""
    view = dict(SRGB_ONLY) if view_transform == "standard" else \
        {"curve": view_transform, **({"look": look} if look else {})}
    if profile is None:
        return {"exposure_ev": base_exposure_ev, "tone": view}
    out: dict[str, Any] = {"exposure_ev": base_exposure_ev + draw(profile.exposure_ev, seed, "sensor", "exposure")}
    if profile.ccm is not None:
        ccm = np.asarray(profile.ccm, float)
        jitter = draw(profile.ccm_jitter, seed, "sensor", "ccm_jitter")
        if jitter > 0:
            noisy = ccm + rng_for(seed, "sensor", "ccm").normal(0.0, jitter, (3, 3))
            noisy += ((ccm.sum(axis=1) - noisy.sum(axis=1)) / 3)[:, None]  # rows keep their sums
            ccm = noisy
        out["ccm"] = ccm.tolist()
    if profile.white_balance is not None:
        out["white_balance"] = [draw(d, seed, "sensor", "white_balance", c) for c, d in enumerate(profile.white_balance)]
    if profile.noise is not None:
        out["noise"] = {"full_well_e": draw(profile.noise.full_well_e, seed, "sensor", "full_well"),
                        "read_noise_e": draw(profile.noise.read_noise_e, seed, "sensor", "read_noise"),
                        "channel_gain": list(profile.noise.channel_gain)}
    tone = profile.tone
    out["tone"] = ({"curve": "gamma", "gamma": draw(tone.gamma, seed, "sensor", "gamma")} if tone.curve == "gamma" else
                   {"curve": "points", "points": [list(p) for p in tone.points]} if tone.curve == "points" else
                   view)
    for key in ("saturation", "vignetting", "chromatic_aberration_px", "softness_px"):
        dist = getattr(profile, key)
        if dist is not None:
            out[key] = draw(dist, seed, "sensor", key)
    if profile.jpeg_quality is not None:
        out["jpeg_quality"] = sample_int(profile.jpeg_quality, rng_for(seed, "sensor", "jpeg_quality"))
    return out


def sample_lens(effects: LensEffects | None, width: int, height: int, seed: int) -> dict[str, Any]:
    """Which obstructions this image gets (each by its probability) and their concrete values."""
    out: dict[str, Any] = {}
    if effects is None:
        return out
    if effects.bloom is not None and rng_for(seed, "lens", "bloom").random() < effects.bloom.probability:
        b = effects.bloom
        out["bloom"] = {"threshold": draw(b.threshold, seed, "lens", "bloom", "threshold"),
                        "strength": draw(b.strength, seed, "lens", "bloom", "strength"),
                        "radius_px": draw(b.radius_px, seed, "lens", "bloom", "radius")}
    if effects.fog is not None and rng_for(seed, "lens", "fog").random() < effects.fog.probability:
        f = effects.fog
        out["fog"] = {"density": draw(f.density, seed, "lens", "fog", "density"),
                      "coverage": draw(f.coverage, seed, "lens", "fog", "coverage"),
                      "blur_px": draw(f.blur_px, seed, "lens", "fog", "blur"), "color": list(f.color),
                      "field_seed": int(rng_for(seed, "lens", "fog", "field").integers(2**31))}
    if effects.dust is not None and rng_for(seed, "lens", "dust").random() < effects.dust.probability:
        d = effects.dust
        spots_rng, smudge_rng = rng_for(seed, "lens", "dust", "spots"), rng_for(seed, "lens", "dust", "smudges")
        spots = [[float(spots_rng.uniform(0, width)), float(spots_rng.uniform(0, height)),
                  sample(d.spot_radius_px, spots_rng), sample(d.spot_opacity, spots_rng)]
                 for _ in range(sample_int(d.spots, rng_for(seed, "lens", "dust", "spot_count")))]
        smudges = [[float(smudge_rng.uniform(0, width)), float(smudge_rng.uniform(0, height)),
                    float(smudge_rng.uniform(0, 180)), sample(d.smudge_length_px, smudge_rng),
                    sample(d.smudge_strength, smudge_rng)]
                   for _ in range(sample_int(d.smudges, rng_for(seed, "lens", "dust", "smudge_count")))]
        out["dust"] = {"spots": spots, "smudges": smudges}  # [x, y, radius, opacity], [x, y, angle, length, strength]
    return out
