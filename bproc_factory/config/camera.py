"""Camera models: intrinsics, distortion, depth of field and motion blur (a camera *profile*), plus
how poses are sampled around the scene's camera target (the scenario's camera section)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from bproc_factory.config.base import StrictModel
from bproc_factory.config.distributions import Distribution, Uniform, bounded

Positive = Annotated[Distribution, bounded(gt=0)]
NonNegative = Annotated[Distribution, bounded(ge=0)]
Angle = Distribution
COEFF_COUNT = {"brown_conrady": 5, "fisheye": 4}


class Intrinsics(StrictModel):
    """Pinhole intrinsics in pixels, OpenCV convention (pixel centres at integer coordinates)."""

    fx: float = Field(gt=0)
    fy: float = Field(gt=0)
    cx: float
    cy: float


class Distortion(StrictModel):
    """OpenCV lens distortion: ``brown_conrady`` [k1, k2, p1, p2, k3] or ``fisheye`` [k1, k2, k3, k4];
    each coefficient may be a distribution (sampled per image)."""

    model: Literal["brown_conrady", "fisheye"] = "brown_conrady"
    coeffs: list[Distribution]

    @model_validator(mode="after")
    def _count(self) -> "Distortion":
        if len(self.coeffs) != COEFF_COUNT[self.model]:
            raise ValueError(f"coeffs: {self.model} takes {COEFF_COUNT[self.model]} coefficients "
                             f"({'k1, k2, p1, p2, k3' if self.model == 'brown_conrady' else 'k1, k2, k3, k4'}), "
                             f"got {len(self.coeffs)}")
        return self


class FocusDistance(StrictModel):
    distance_m: Positive


class DepthOfField(StrictModel):
    """Thin-lens depth of field: the f-number and where focus is (the look-at target, or a distance)."""

    f_stop: Positive
    focus: Literal["target"] | FocusDistance = "target"


class MotionBlur(StrictModel):
    """Blur from camera and object motion during the exposure."""

    shutter_s: Positive
    camera_speed_mps: NonNegative = 0.0  # in a random direction
    camera_rotation_dps: NonNegative = 0.0  # about a random axis
    object_velocity_mps: tuple[Distribution, Distribution, Distribution] = (0.0, 0.0, 0.0)  # world frame


class CameraProfile(StrictModel):
    """What a physical camera is: resolution, intrinsics, distortion, depth of field, motion blur."""

    name: str | None = None
    description: str | None = None
    resolution: tuple[Annotated[int, Field(gt=0, le=16384)], Annotated[int, Field(gt=0, le=16384)]]
    K: Intrinsics | None = None
    focal_length_mm: float | None = Field(default=None, gt=0)
    sensor_width_mm: float = Field(default=36.0, gt=0, description="physical sensor width; sets the "
                                   "real focal length, and so the depth of field")
    distortion: Distortion | None = None
    dof: DepthOfField | None = None
    motion_blur: MotionBlur | None = None
    clip_m: tuple[float, float] = (0.01, 100.0)

    @model_validator(mode="after")
    def _one_intrinsics(self) -> "CameraProfile":
        if (self.K is None) == (self.focal_length_mm is None):
            raise ValueError("give exactly one of 'K' (fx, fy, cx, cy) or 'focal_length_mm'")
        if self.K is not None:
            w, h = self.resolution
            if not (0 <= self.K.cx < w and 0 <= self.K.cy < h):
                raise ValueError(f"K: principal point ({self.K.cx}, {self.K.cy}) lies outside the "
                                 f"{w}x{h} image")
        if not 0 < self.clip_m[0] < self.clip_m[1]:
            raise ValueError("clip_m: need 0 < near < far")
        return self


class CameraConfig(CameraProfile):
    """A camera (inline, or ``profile:`` a profile file with inline keys overriding it) and how its
    poses are sampled around the scene's camera target, looking at it."""

    profile: str | None = Field(default=None, description="camera profile YAML, relative to the config")
    distance_m: Positive = Uniform(uniform=(0.8, 1.2))
    elevation_deg: Annotated[Distribution, bounded(ge=-90, le=90)] = Uniform(uniform=(25.0, 60.0))
    azimuth_deg: Angle = Uniform(uniform=(0.0, 360.0))
    roll_deg: Angle = 0.0
    target_offset_m: tuple[Distribution, Distribution, Distribution] = (0.0, 0.0, 0.0)
    pose_tries: int = Field(default=200, gt=0, description="poses drawn per image to find one inside "
                            "the scene's camera region")
