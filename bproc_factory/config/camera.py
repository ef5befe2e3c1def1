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

    fx: float = Field(gt=0, description="horizontal focal length in pixels, > 0")
    fy: float = Field(gt=0, description="vertical focal length in pixels, > 0")
    cx: float = Field(description="principal point x in pixels, inside the image (319.5 is the centre of a "
                                  "640-pixel-wide image)")
    cy: float = Field(description="principal point y in pixels, inside the image (239.5 is the centre of a "
                                  "480-pixel-high image)")


class Distortion(StrictModel):
    """OpenCV lens distortion: ``brown_conrady`` [k1, k2, p1, p2, k3] or ``fisheye`` [k1, k2, k3, k4];
    each coefficient may be a distribution (sampled per image)."""

    model: Literal["brown_conrady", "fisheye"] = Field(
        default="brown_conrady", description="brown_conrady: OpenCV's standard model; fisheye: OpenCV's "
                                             "equidistant fisheye model (cv2.fisheye)")
    coeffs: list[Distribution] = Field(description="brown_conrady: [k1, k2, p1, p2, k3]; fisheye: [k1, k2, k3, "
                                                   "k4] (OpenCV order, unitless); each sampled per image")

    @model_validator(mode="after")
    def _count(self) -> "Distortion":
        if len(self.coeffs) != COEFF_COUNT[self.model]:
            raise ValueError(f"coeffs: {self.model} takes {COEFF_COUNT[self.model]} coefficients "
                             f"({'k1, k2, p1, p2, k3' if self.model == 'brown_conrady' else 'k1, k2, k3, k4'}), "
                             f"got {len(self.coeffs)}")
        return self


class FocusDistance(StrictModel):
    """Focus at a fixed distance from the camera instead of the look-at target."""

    distance_m: Positive = Field(description="focus distance from the camera in metres, > 0; sampled per image")


class DepthOfField(StrictModel):
    """Thin-lens depth of field: the f-number and where focus is (the look-at target, or a distance)."""

    f_stop: Positive = Field(description="aperture f-number (f/N), > 0; sampled per image")
    focus: Literal["target"] | FocusDistance = Field(
        default="target", description="target: focus on the camera's look-at point; or {distance_m: ...}")


class MotionBlur(StrictModel):
    """Blur from camera and object motion during the exposure."""

    shutter_s: Positive = Field(description="exposure time in seconds, > 0, centred on the labelled instant")
    camera_speed_mps: NonNegative = Field(default=0.0, description="camera speed in metres per second, in a "
                                          "random direction per image")
    camera_rotation_dps: NonNegative = Field(default=0.0, description="camera rotation in degrees per second, "
                                             "about a random axis per image")
    object_velocity_mps: tuple[Distribution, Distribution, Distribution] = Field(
        default=(0.0, 0.0, 0.0), description="velocity of every placed object in metres per second, world "
                                             "frame [x, y, z] (z up)")


class CameraProfile(StrictModel):
    """What a physical camera is: resolution, intrinsics, distortion, depth of field, motion blur."""

    name: str | None = Field(default=None, description="profile name, for people (not used by rendering)")
    description: str | None = Field(default=None, description="free text about the camera (not used by rendering)")
    resolution: tuple[Annotated[int, Field(gt=0, le=16384)], Annotated[int, Field(gt=0, le=16384)]] = Field(
        description="[width, height] of the image in pixels, each 1..16384")
    K: Intrinsics | None = Field(default=None, description="pinhole intrinsics in pixels; give K or "
                                 "focal_length_mm, not both")
    focal_length_mm: float | None = Field(default=None, gt=0, description="focal length in millimetres, > 0, "
                                          "with the principal point at the image centre; give it or K, not both")
    sensor_width_mm: float = Field(default=36.0, gt=0, description="physical sensor width in millimetres; sets "
                                   "the real focal length, and so the depth of field; required with "
                                   "focal_length_mm (a phone's main camera is about 6-7 mm wide)")
    distortion: Distortion | None = Field(default=None, description="lens distortion; null: an ideal pinhole")
    dof: DepthOfField | None = Field(default=None, description="depth of field; null: everything sharp")
    motion_blur: MotionBlur | None = Field(default=None, description="motion blur; null: none")
    clip_m: tuple[float, float] = Field(default=(0.01, 100.0), description="[near, far] clipping distances in "
                                        "metres, 0 < near < far")

    @model_validator(mode="after")
    def _one_intrinsics(self) -> "CameraProfile":
        if (self.K is None) == (self.focal_length_mm is None):
            raise ValueError("give exactly one of 'K' (fx, fy, cx, cy) or 'focal_length_mm'")
        if self.focal_length_mm is not None and "sensor_width_mm" not in self.model_fields_set:
            raise ValueError(f"focal_length_mm: {self.focal_length_mm} mm needs sensor_width_mm, the sensor's "
                             "width in mm (36 on a full-frame camera, about 6-7 on a phone): the field of view "
                             "depends on both; or give K in pixels")
        if self.K is not None:
            w, h = self.resolution
            if not (0 <= self.K.cx < w and 0 <= self.K.cy < h):
                raise ValueError(f"K: principal point ({self.K.cx}, {self.K.cy}) lies outside the "
                                 f"{w}x{h} image")
        if not 0 < self.clip_m[0] < self.clip_m[1]:
            raise ValueError("clip_m: need 0 < near < far")
        return self


class CameraConfig(CameraProfile):
    """A camera (inline, or ``profile:`` a profile file, whose lens stands as it is while other
    keys given inline override its; a resolution given inline scales its K) and how its
    poses are sampled around the scene's camera target, looking at it."""

    profile: str | None = Field(default=None, description="camera profile YAML, relative to the config")
    distance_m: Positive = Field(default=Uniform(uniform=(0.8, 1.2)), description="camera distance from the "
                                 "look-at point in metres, > 0; sampled per image")
    elevation_deg: Annotated[Distribution, bounded(ge=-90, le=90)] = Field(
        default=Uniform(uniform=(25.0, 60.0)), description="camera angle above the horizontal plane through "
                                                           "the look-at point, degrees in -90..90; sampled per image")
    azimuth_deg: Angle = Field(default=Uniform(uniform=(0.0, 360.0)), description="camera direction around the "
                               "vertical axis, degrees from world +X towards +Y; sampled per image")
    roll_deg: Angle = Field(default=0.0, description="rotation about the optical axis in degrees (0: image "
                            "horizon level with the world); sampled per image")
    target_offset_m: tuple[Distribution, Distribution, Distribution] = Field(
        default=(0.0, 0.0, 0.0), description="[x, y, z] offset in metres (world frame) of the look-at point from "
                                             "the scene's camera target; each sampled per image")
    pose_tries: int = Field(default=200, gt=0, description="poses drawn per image to find one inside "
                            "the scene's camera region")
