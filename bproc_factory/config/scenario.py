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
    pose: Literal["upright", "stable", "drop"] = Field(
        default="upright", description="upright; stable: resting on a face of its convex hull; drop: "
                                       "dropped in a random orientation and settled by physics (piles)")
    placement_area: str | None = None
    render_mode: Literal["mesh", "billboard"] = Field(
        default="mesh", description="mesh; billboard: an ingested asset as an upright card turned to each "
                                    "camera, showing the captured view nearest the camera's azimuth")
    size_m: tuple[Positive, Positive, Positive] | None = Field(
        default=None, description="stretch each instance to this width, depth and height (metres) "
                                  "instead of its real size times `scale`: for distractor shapes")
    materials: list[str] | None = Field(
        default=None, min_length=1, description="give each instance a library material (materials/) "
                                                "drawn per instance, instead of its own")
    label: Literal["category", "background", "ignore"] = Field(
        default="category", description="category: annotated; background: id 0 in the masks, not "
                                        "annotated; ignore: annotated with iscrowd 1 (evaluators ignore it)")
    category: str | None = Field(default=None, description="category name for every instance (for "
                                                           "example foreign_object) instead of the assets'")

    @field_validator("assets")
    @classmethod
    def _assets_exist(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for path in value:
            _existing(path, info, "asset folder")
        return value

    @model_validator(mode="after")
    def _billboards_stand(self) -> "ObjectGroup":
        if self.render_mode == "billboard" and (self.pose != "upright" or self.size_m is not None):
            raise ValueError("render_mode: billboard: cards stand upright at their captured size; use "
                             "pose: upright (the default), scale, and no size_m")
        return self


class PlacementConfig(StrictModel):
    """How objects are laid out on the placement area."""

    min_gap_m: float = Field(default=0.005, ge=0)
    max_tries: int = Field(default=300, gt=0)


class LabelsConfig(StrictModel):
    """Amodal masks and which instances become COCO annotations."""

    amodal: bool = Field(default=True, description="amodal masks, visib_fract, bbox_amodal and truncated")
    amodal_margin: float = Field(default=0.5, ge=0, le=2, description="the amodal canvas extends past "
                                 "each image edge by this share of the image size (for `truncated`)")
    min_visible_px: int = Field(default=1, ge=1)
    min_visib_fract: float = Field(default=0.0, ge=0, le=1)
    below_threshold: Literal["drop", "ignore"] = Field(
        default="drop", description="an instance under a minimum is left out of COCO (drop) or kept "
                                    "with iscrowd 1 (ignore)")


class OcclusionTarget(StrictModel):
    """What every image must show: at least ``min_instances`` target instances whose visible
    fraction lies in ``visib_fract``."""

    visib_fract: tuple[float, float] = (0.3, 0.7)
    min_instances: int = Field(default=1, ge=1)
    groups: list[int] | None = Field(default=None, description="object groups whose instances count "
                                                               "(default: every group labelled by category)")

    @field_validator("visib_fract")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= value[0] <= value[1] <= 1:
            raise ValueError(f"need 0 <= low <= high <= 1, got {list(value)}")
        return value


class OcclusionConfig(StrictModel):
    """Occlusion on demand: occluders are placed between the camera and target instances, the
    result is measured from the rendered masks, and the scene's objects are re-drawn (at most
    ``max_attempts`` times) until every view meets the target."""

    target: OcclusionTarget = OcclusionTarget()
    occluder_groups: list[int] = Field(default=[], description="object groups whose instances are "
                                       "placed in front of a target, as seen from the scene's first view")
    max_attempts: int = Field(default=8, ge=1, le=100)


class LightGroup(StrictModel):
    """Lights placed on a sphere around the camera target and aimed at it; ``aim: glare`` puts
    each light where the placement surface mirrors the camera (of the scene's first view), so its
    highlight glints towards the lens."""

    type: Literal["point", "area", "spot", "sun"]
    aim: Literal["target", "glare"] = "target"
    glare_jitter_deg: NonNegative = 2.0  # random offset from the exact mirror direction
    count: Count = 1
    energy_w: NonNegative = 100.0
    temperature_k: Annotated[Distribution, bounded(ge=1667, le=25000)] = 6500.0
    distance_m: Positive = 2.0
    elevation_deg: Annotated[Distribution, bounded(ge=-90, le=90)] = Uniform(uniform=(30.0, 80.0))
    azimuth_deg: Angle = Uniform(uniform=(0.0, 360.0))
    size_m: Positive = 0.3
    sun_angle_deg: Annotated[Distribution, bounded(ge=0, le=180)] = 1.0
    spot_angle_deg: Annotated[Distribution, bounded(gt=0, le=180)] = 45.0


class SurfaceMaterials(StrictModel):
    """Swap the materials of the scene's ``bpf_materials`` surfaces for library materials."""

    materials: list[str] = Field(min_length=1, description="library names (materials/) or YAML paths")
    probability: float = Field(default=1.0, ge=0, le=1, description="chance each surface is swapped")


class SceneLights(StrictModel):
    """Randomise the scene's own ``bpf_lights`` lights (restored after each scene)."""

    energy_scale: NonNegative = 1.0
    temperature_k: Annotated[Distribution, bounded(ge=1667, le=25000)] | None = None


class WorldConfig(StrictModel):
    """World (environment) light; left as the scene has it when omitted."""

    color: tuple[float, float, float] | None = None
    strength: NonNegative | None = None


class LightingPreset(StrictModel):
    """A named lighting condition: lights and world settings a scenario can start from."""

    name: str | None = None
    description: str | None = None
    lights: list[LightGroup] = []
    world: WorldConfig | None = None


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
    scene: str = Field(description="a designer .blend, or a photo backplate's annotation YAML")
    scene_reload: bool = Field(default=False, description="reopen the .blend for every scene instead "
                                                          "of resetting it")
    views_per_scene: int = Field(default=1, gt=0, le=1000)
    camera: CameraConfig | None = Field(default=None, description="required for .blend scenes; a photo "
                                        "backplate brings its own camera (then only clip, depth of field and "
                                        "motion blur apply)")
    objects: list[ObjectGroup] = Field(min_length=1)
    lighting: str | None = Field(default=None, description="a lighting preset YAML (configs/lighting/) "
                                 "whose lights come before these and whose world these settings override")
    lights: list[LightGroup] = []
    world: WorldConfig = WorldConfig()
    surfaces: SurfaceMaterials | None = None
    scene_lights: SceneLights | None = None
    sensor: SensorConfig | None = None
    lens: LensEffects | None = None
    placement: PlacementConfig = PlacementConfig()
    labels: LabelsConfig = LabelsConfig()
    occlusion: OcclusionConfig | None = None
    render: RenderConfig = RenderConfig()
    categories: dict[str, Annotated[int, Field(gt=0)]] | None = Field(
        default=None, description="fixed category ids; default: 1..K in sorted name order")

    @field_validator("scene")
    @classmethod
    def _scene_exists(cls, value: str, info: ValidationInfo) -> str:
        if not value.endswith((".blend", ".yaml", ".yml")):
            raise ValueError(f"scene must be a .blend file or a backplate .yaml, got '{value}'")
        return _existing(value, info, "scene file")

    @field_validator("objects")
    @classmethod
    def _instance_ids_fit(cls, value: list[ObjectGroup]) -> list[ObjectGroup]:
        most = sum(group.count.support()[1] for group in value)
        if most > MAX_INSTANCES_PER_IMAGE:
            raise ValueError(f"up to {most:g} objects per image; at most {MAX_INSTANCES_PER_IMAGE} "
                             "fit the annotation id scheme")
        return value

    @model_validator(mode="after")
    def _occlusion_groups(self) -> "Scenario":
        if self.occlusion is None:
            return self
        if not self.labels.amodal:
            raise ValueError("occlusion: needs labels.amodal (visibility is measured from amodal masks)")
        n = len(self.objects)
        for key, groups in (("occluder_groups", self.occlusion.occluder_groups),
                            ("target.groups", self.occlusion.target.groups or [])):
            bad = [g for g in groups if not 0 <= g < n]
            if bad:
                raise ValueError(f"occlusion.{key}: no object group {bad[0]} (there are {n})")
        targets = self.occlusion_target_groups()
        if not targets:
            raise ValueError("occlusion.target: no target group (every group is an occluder or unlabelled)")
        return self

    def occlusion_target_groups(self) -> list[int]:
        """The object groups whose instances count towards the occlusion target."""
        occ = self.occlusion
        if occ is None:
            return []
        if occ.target.groups is not None:
            return list(occ.target.groups)
        return [g for g, group in enumerate(self.objects)
                if group.label == "category" and g not in occ.occluder_groups]

    @model_validator(mode="after")
    def _camera_for_blend_scenes(self) -> "Scenario":
        if self.camera is None and self.scene.endswith(".blend"):
            raise ValueError("camera: required for a .blend scene")
        return self

    @property
    def camera_or_default(self) -> CameraConfig:
        """The camera section, or defaults for a backplate (whose photo fixes size, K and pose)."""
        return self.camera or CameraConfig(resolution=(640, 480), focal_length_mm=35.0)

    @field_validator("categories")
    @classmethod
    def _unique_ids(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is not None and len(set(value.values())) != len(value):
            raise ValueError("category ids must be unique")
        return value
