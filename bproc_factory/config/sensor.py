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

    full_well_e: Positive = Field(default=10000.0, description="electrons collected at linear value 1.0 "
                                  "(fewer: stronger shot noise), > 0")
    read_noise_e: NonNegative = Field(default=2.0, description="read noise in RMS electrons, >= 0")
    channel_gain: tuple[float, float, float] = Field(default=(1.0, 1.0, 1.0), description="noise multipliers "
                                                     "for R, G, B (unitless)")


class Tone(StrictModel):
    """Linear -> display encoding: sRGB, a power law, or a curve through control points."""

    curve: Literal["srgb", "gamma", "points"] = Field(
        default="srgb", description="srgb: the sRGB transfer curve; gamma: display = linear^(1/gamma); points: "
                                    "piecewise linear through `points`")
    gamma: Positive = Field(default=2.2, description="exponent of the gamma curve (curve: gamma only), > 0")
    points: list[tuple[float, float]] | None = Field(
        default=None, description="[linear, display] pairs in [0, 1] with increasing linear values, at least two "
                                  "(curve: points only)")

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

    name: str | None = Field(default=None, description="profile name, for people (not used by rendering)")
    description: str | None = Field(default=None, description="free text about the sensor (not used by rendering)")
    exposure_ev: Distribution = Field(default=0.0, description="exposure change in EV (stops): linear values are "
                                      "multiplied by 2^EV, added to render.exposure_ev")
    ccm: Matrix3 | None = Field(default=None, description="3x3 colour matrix, rows R, G, B: camera RGB = ccm @ "
                                "scene-linear RGB; null: identity")
    ccm_jitter: NonNegative = Field(default=0.0, description="standard deviation of noise added to each ccm entry "
                                    "per image (rows keep their sums), >= 0")
    white_balance: tuple[Positive, Positive, Positive] | None = Field(
        default=None, description="[R, G, B] gains on linear values, each > 0; null: no white-balance step")
    noise: Noise | None = Field(default=None, description="shot and read noise; null: no noise step")
    tone: Tone = Field(default=Tone(), description="tone curve from linear to display values (default: sRGB)")
    saturation: NonNegative | None = Field(default=None, description="saturation factor, >= 0: 1 unchanged, "
                                           "0 grey; null: no step")
    vignetting: Fraction | None = Field(default=None, description="share of light lost in the image corners, "
                                        "0..1, quadratic fall-off from the centre; null: none")
    chromatic_aberration_px: NonNegative | None = Field(
        default=None, description="lateral chromatic aberration: red/blue shift in pixels at the image corners, "
                                  ">= 0; null: none")
    softness_px: NonNegative | None = Field(default=None, description="Gaussian blur sigma in pixels, >= 0; "
                                            "null: none")
    jpeg_quality: Annotated[Distribution, bounded(ge=1, le=100, integer=True)] | None = Field(
        default=None, description="JPEG round trip at this quality, whole number 1..100; null: none")


class SensorConfig(SensorProfile):
    """The scenario's sensor: inline, or ``profile:`` a profile file with inline keys overriding it."""

    profile: str | None = Field(default=None, description="sensor profile YAML (configs/sensors/), relative to "
                                "the config; keys given here override the profile's")


class Bloom(StrictModel):
    """Glow around bright highlights (linear values above ``threshold``)."""

    probability: float = Field(default=1.0, ge=0, le=1, description="chance, 0..1, that an image gets bloom")
    threshold: Positive = Field(default=1.0, description="linear value above which highlights glow, > 0")
    strength: NonNegative = Field(default=0.2, description="factor on the added glow, >= 0")
    radius_px: Positive = Field(default=8.0, description="base glow radius in pixels (Gaussian sigma, also "
                                "spread at 2x and 4x), > 0")


class Fog(StrictModel):
    """Lens fog or condensation: a spatially varying veil with blur and contrast loss."""

    probability: float = Field(default=1.0, ge=0, le=1, description="chance, 0..1, that an image gets fog")
    density: Fraction = Field(default=0.4, description="opacity of the densest part of the veil, 0..1")
    coverage: Fraction = Field(default=0.6, description="share of the frame the veil spreads over, 0..1")
    blur_px: NonNegative = Field(default=4.0, description="blur sigma in pixels under the veil, >= 0")
    color: tuple[float, float, float] = Field(default=(0.85, 0.87, 0.9), description="[R, G, B] tint of the "
                                              "veil, multiplied by the image's mean linear value")


class Dust(StrictModel):
    """Out-of-focus dust spots (dark soft discs) and smudges (blurred, veiled streaks) on the lens."""

    probability: float = Field(default=1.0, ge=0, le=1, description="chance, 0..1, that an image gets dust")
    spots: Annotated[Distribution, bounded(ge=0, le=500, integer=True)] = Field(
        default=6, description="number of dust spots, whole number 0..500")
    spot_radius_px: Positive = Field(default=6.0, description="radius of each spot in pixels, > 0; sampled per spot")
    spot_opacity: Fraction = Field(default=0.3, description="darkening at a spot's centre, 0..1; sampled per spot")
    smudges: Annotated[Distribution, bounded(ge=0, le=50, integer=True)] = Field(
        default=1, description="number of smudge streaks, whole number 0..50")
    smudge_length_px: Positive = Field(default=80.0, description="length of each smudge in pixels, > 0; sampled "
                                       "per smudge")
    smudge_strength: Fraction = Field(default=0.5, description="how much a smudge blurs and veils, 0..1; sampled "
                                      "per smudge")


class LensEffects(StrictModel):
    """Obstructions and artefacts of the lens; masks are unchanged by them."""

    bloom: Bloom | None = Field(default=None, description="glow around highlights; null: none")
    fog: Fog | None = Field(default=None, description="fog or condensation veil; null: none")
    dust: Dust | None = Field(default=None, description="dust spots and smudges on the lens; null: none")
