"""The scenario config: what one rendering run makes, as frozen pydantic models.

Paths are kept as written (relative to the config file); ``LoadedScenario`` resolves them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from bproc_factory.config.base import StrictModel
from bproc_factory.config.camera import CameraConfig
from bproc_factory.config.distributions import Distribution, Uniform, bounded
from bproc_factory.config.sensor import LensEffects, SensorConfig

MAX_INSTANCES_PER_IMAGE = 9999  # annotation id = image id * 10000 + instance id

NonNegative = Annotated[Distribution, bounded(ge=0)]
Positive = Annotated[Distribution, bounded(gt=0)]
Count = Annotated[Distribution, bounded(ge=0, le=MAX_INSTANCES_PER_IMAGE, integer=True)]
Angle = Distribution


def _existing(path: str, info: ValidationInfo, kind: str) -> str:
    """Check that ``path`` (relative to the config file's folder) exists, when loading from a file."""
    base = (info.context or {}).get("base_dir")
    if base is not None:
        resolved = (Path(base) / path).resolve()
        if not resolved.exists():
            raise ValueError(f"{kind} '{path}' not found (looked for {resolved})")
    return path


class ObjectGroup(StrictModel):
    """A group of objects: each instance takes one of ``assets`` uniformly at random."""

    assets: list[str] = Field(min_length=1)
    count: Count = 1
    scale: Positive = 1.0
    yaw_deg: Angle = Uniform(uniform=(0.0, 360.0))
    pose: Literal["upright", "stable"] = "upright"
    placement_area: str | None = None

    @field_validator("assets")
    @classmethod
    def _assets_exist(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for path in value:
            _existing(path, info, "asset folder")
        return value


class PlacementConfig(StrictModel):
    """How objects are laid out on the placement area."""

    min_gap_m: float = Field(default=0.005, ge=0)
    max_tries: int = Field(default=300, gt=0)


class LightGroup(StrictModel):
    """Lights placed on a sphere around the camera target and aimed at it."""

    type: Literal["point", "area", "spot", "sun"]
    count: Count = 1
    energy_w: NonNegative = 100.0
    temperature_k: Annotated[Distribution, bounded(ge=1667, le=25000)] = 6500.0
    distance_m: Positive = 2.0
    elevation_deg: Annotated[Distribution, bounded(ge=-90, le=90)] = Uniform(uniform=(30.0, 80.0))
    azimuth_deg: Angle = Uniform(uniform=(0.0, 360.0))
    size_m: Positive = 0.3
    sun_angle_deg: Annotated[Distribution, bounded(ge=0, le=180)] = 1.0
    spot_angle_deg: Annotated[Distribution, bounded(gt=0, le=180)] = 45.0


class WorldConfig(StrictModel):
    """World (environment) light; left as the scene has it when omitted."""

    color: tuple[float, float, float] | None = None
    strength: NonNegative | None = None


class RenderConfig(StrictModel):
    """Cycles settings and output encoding."""

    samples: int = Field(default=64, gt=0, le=65536)
    noise_threshold: float = Field(default=0.05, ge=0, description="adaptive sampling; 0 disables it")
    denoiser: Literal["none", "oidn"] = "oidn"
    max_bounces: int = Field(default=4, ge=0)
    pass_alpha_threshold: float = Field(default=0.5, gt=0, le=1)
    exposure_ev: float = 0.0
    image_format: Literal["png", "jpg"] = "png"
    jpeg_quality: int = Field(default=95, ge=1, le=100)


class Scenario(StrictModel):
    """One scenario: a scene, the objects placed in it, lights, camera and render settings."""

    version: Literal[1] = 1
    scene: str
    views_per_scene: int = Field(default=1, gt=0, le=1000)
    camera: CameraConfig
    objects: list[ObjectGroup] = Field(min_length=1)
    lights: list[LightGroup] = []
    world: WorldConfig = WorldConfig()
    sensor: SensorConfig | None = None
    lens: LensEffects | None = None
    placement: PlacementConfig = PlacementConfig()
    render: RenderConfig = RenderConfig()
    categories: dict[str, Annotated[int, Field(gt=0)]] | None = Field(
        default=None, description="fixed category ids; default: 1..K in sorted name order")

    @field_validator("scene")
    @classmethod
    def _scene_exists(cls, value: str, info: ValidationInfo) -> str:
        if not value.endswith(".blend"):
            raise ValueError(f"scene must be a .blend file, got '{value}'")
        return _existing(value, info, "scene file")

    @field_validator("objects")
    @classmethod
    def _instance_ids_fit(cls, value: list[ObjectGroup]) -> list[ObjectGroup]:
        most = sum(group.count.support()[1] for group in value)
        if most > MAX_INSTANCES_PER_IMAGE:
            raise ValueError(f"up to {most:g} objects per image; at most {MAX_INSTANCES_PER_IMAGE} "
                             "fit the annotation id scheme")
        return value

    @field_validator("categories")
    @classmethod
    def _unique_ids(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is not None and len(set(value.values())) != len(value):
            raise ValueError("category ids must be unique")
        return value
