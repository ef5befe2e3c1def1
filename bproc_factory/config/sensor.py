"""Sensor profiles (the camera's image pipeline) and lens obstructions, as config models.

A sensor profile is applied to the scene-linear render in this order: exposure -> colour matrix
-> white balance -> noise -> tone curve -> saturation -> vignetting -> chromatic aberration ->
softness -> JPEG. Lens obstructions (bloom, fog, dust) act on the linear image before it.
Every numeric value may be a distribution, sampled per image and recorded in its meta.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from bproc_factory.config.base import StrictModel
from bproc_factory.config.distributions import Distribution, bounded

Positive = Annotated[Distribution, bounded(gt=0)]
NonNegative = Annotated[Distribution, bounded(ge=0)]
Fraction = Annotated[Distribution, bounded(ge=0, le=1)]
Matrix3 = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]


class Noise(StrictModel):
    """Signal-dependent shot noise and read noise, in electrons, per channel."""

    full_well_e: Positive = 10000.0  # electrons collected at linear value 1.0
    read_noise_e: NonNegative = 2.0  # RMS electrons
    channel_gain: tuple[float, float, float] = (1.0, 1.0, 1.0)  # per-channel noise multipliers


class Tone(StrictModel):
    """Linear -> display encoding: sRGB, a power law, or a curve through control points."""

    curve: Literal["srgb", "gamma", "points"] = "srgb"
    gamma: Positive = 2.2
    points: list[tuple[float, float]] | None = None  # (linear, display) in [0, 1], increasing

    @model_validator(mode="after")
    def _points(self) -> "Tone":
        if self.curve == "points":
            pts = self.points or []
            xs = [p[0] for p in pts]
            if len(pts) < 2 or xs != sorted(xs) or len(set(xs)) != len(xs):
                raise ValueError("points: give at least two (linear, display) points with increasing x")
            if any(not (0 <= v <= 1) for p in pts for v in p):
                raise ValueError("points: values must lie in [0, 1]")
        return self


class SensorProfile(StrictModel):
    """A camera's colour and noise behaviour; each step is optional."""

    name: str | None = None
    description: str | None = None
    exposure_ev: Distribution = 0.0
    ccm: Matrix3 | None = None  # camera RGB = ccm @ scene-linear RGB
    ccm_jitter: NonNegative = 0.0  # std of noise added per matrix entry (rows keep their sums)
    white_balance: tuple[Positive, Positive, Positive] | None = None  # R, G, B gains
    noise: Noise | None = None
    tone: Tone = Tone()
    saturation: NonNegative | None = None  # 1 = unchanged
    vignetting: Fraction | None = None  # light lost in the corners
    chromatic_aberration_px: NonNegative | None = None  # lateral R/B shift at the corners
    softness_px: NonNegative | None = None  # Gaussian sigma of the resampling blur
    jpeg_quality: Annotated[Distribution, bounded(ge=1, le=100, integer=True)] | None = None


class SensorConfig(SensorProfile):
    """The scenario's sensor: inline, or ``profile:`` a profile file with inline keys overriding it."""

    profile: str | None = None


class Bloom(StrictModel):
    """Glow around bright highlights (linear values above ``threshold``)."""

    probability: float = Field(default=1.0, ge=0, le=1)
    threshold: Positive = 1.0
    strength: NonNegative = 0.2
    radius_px: Positive = 8.0


class Fog(StrictModel):
    """Lens fog or condensation: a spatially varying veil with blur and contrast loss."""

    probability: float = Field(default=1.0, ge=0, le=1)
    density: Fraction = 0.4  # the densest veil's opacity
    coverage: Fraction = 0.6  # share of the frame the veil spreads over
    blur_px: NonNegative = 4.0
    color: tuple[float, float, float] = (0.85, 0.87, 0.9)


class Dust(StrictModel):
    """Out-of-focus dust spots (dark soft discs) and smudges (blurred, veiled streaks) on the lens."""

    probability: float = Field(default=1.0, ge=0, le=1)
    spots: Annotated[Distribution, bounded(ge=0, le=500, integer=True)] = 6
    spot_radius_px: Positive = 6.0
    spot_opacity: Fraction = 0.3
    smudges: Annotated[Distribution, bounded(ge=0, le=50, integer=True)] = 1
    smudge_length_px: Positive = 80.0
    smudge_strength: Fraction = 0.5


class LensEffects(StrictModel):
    """Obstructions and artefacts of the lens; masks are unchanged by them."""

    bloom: Bloom | None = None
    fog: Fog | None = None
    dust: Dust | None = None
