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

    assets: list[str] = Field(min_length=1, description="asset folders, or folders of asset folders, relative "
                              "to the config; each instance picks one uniformly")
    count: Count = Field(default=1, description="instances per scene, whole number 0..9999; sampled per scene")
    scale: Positive = Field(default=1.0, description="factor on the asset's real size, > 0; sampled per instance")
    yaw_deg: Angle = Field(default=Uniform(uniform=(0.0, 360.0)), description="rotation about the vertical axis "
                           "in degrees; sampled per instance")
    pose: Literal["upright", "stable", "drop"] = Field(
        default="upright", description="upright; stable: resting on a face of its convex hull; drop: "
                                       "dropped in a random orientation and settled by physics (piles)")
    placement_area: str | None = Field(default=None, description="name of the scene's placement area to use; "
                                       "null: the only one, or one at random per instance")
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

    min_gap_m: float = Field(default=0.005, ge=0, description="smallest gap between object footprints in "
                             "metres, >= 0")
    max_tries: int = Field(default=300, gt=0, description="random positions tried per object before the scene "
                           "fails, > 0")


class LabelsConfig(StrictModel):
    """Amodal masks and which instances become COCO annotations."""

    amodal: bool = Field(default=True, description="amodal masks, visib_fract, bbox_amodal and truncated")
    amodal_margin: float = Field(default=0.5, ge=0, le=2, description="the amodal canvas extends past "
                                 "each image edge by this share of the image size (for `truncated`)")
    min_visible_px: int = Field(default=1, ge=1, description="fewest visible mask pixels an annotated instance "
                                "needs, >= 1")
    min_visib_fract: float = Field(default=0.0, ge=0, le=1, description="smallest visible fraction (visible / "
                                   "amodal pixels), 0..1, an annotated instance needs")
    below_threshold: Literal["drop", "ignore"] = Field(
        default="drop", description="an instance under a minimum is left out of COCO (drop) or kept "
                                    "with iscrowd 1 (ignore)")


class OcclusionTarget(StrictModel):
    """What every image must show: at least ``min_instances`` target instances whose visible
    fraction lies in ``visib_fract``."""

    visib_fract: tuple[float, float] = Field(default=(0.3, 0.7), description="[low, high] visible fraction, "
                                             "0 <= low <= high <= 1, that counts as occluded enough")
    min_instances: int = Field(default=1, ge=1, description="target instances per image that must have a "
                               "visible fraction in range, >= 1")
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

    target: OcclusionTarget = Field(default=OcclusionTarget(), description="what every image must show")
    occluder_groups: list[int] = Field(default=[], description="object groups whose instances are "
                                       "placed in front of a target, as seen from the scene's first view")
    max_attempts: int = Field(default=8, ge=1, le=100, description="object layouts drawn per scene, 1..100; "
                              "the one meeting the target in most views is kept")


class LightGroup(StrictModel):
    """Lights placed on a sphere around the camera target and aimed at it; ``aim: glare`` puts
    each light where the placement surface mirrors the camera (of the scene's first view), so its
    highlight glints towards the lens."""

    type: Literal["point", "area", "spot", "sun"] = Field(description="Blender light type")
    aim: Literal["target", "glare"] = Field(
        default="target", description="target: placed by elevation_deg and azimuth_deg; glare: where the surface "
                                      "mirrors the camera (elevation_deg and azimuth_deg unused)")
    glare_jitter_deg: NonNegative = Field(default=2.0, description="aim: glare only: offset from the exact mirror "
                                          "direction in degrees, >= 0")
    count: Count = Field(default=1, description="lights of this group per scene, whole number 0..9999")
    energy_w: NonNegative = Field(default=100.0, description="power in watts (sun: irradiance in W/m²), >= 0")
    temperature_k: Annotated[Distribution, bounded(ge=1667, le=25000)] = Field(
        default=6500.0, description="black-body colour temperature in kelvin, 1667..25000")
    distance_m: Positive = Field(default=2.0, description="distance from the camera target in metres, > 0")
    elevation_deg: Annotated[Distribution, bounded(ge=-90, le=90)] = Field(
        default=Uniform(uniform=(30.0, 80.0)), description="angle above the horizontal plane through the camera "
                                                           "target in degrees, -90..90")
    azimuth_deg: Angle = Field(default=Uniform(uniform=(0.0, 360.0)), description="direction around the vertical "
                               "axis in degrees from world +X towards +Y")
    size_m: Positive = Field(default=0.3, description="area: edge length; point and spot: radius; in metres, > 0 "
                             "(not used by sun)")
    sun_angle_deg: Annotated[Distribution, bounded(ge=0, le=180)] = Field(
        default=1.0, description="sun only: angular diameter of the sun in degrees, 0..180 (larger: softer shadows)")
    spot_angle_deg: Annotated[Distribution, bounded(gt=0, le=180)] = Field(
        default=45.0, description="spot only: cone angle in degrees, > 0 and <= 180")


class SurfaceMaterials(StrictModel):
    """Swap the materials of the scene's ``bpf_materials`` surfaces for library materials."""

    materials: list[str] = Field(min_length=1, description="library names (materials/) or YAML paths")
    probability: float = Field(default=1.0, ge=0, le=1, description="chance each surface is swapped")


class SceneLights(StrictModel):
    """Randomise the scene's own ``bpf_lights`` lights (restored after each scene)."""

    energy_scale: NonNegative = Field(default=1.0, description="factor on each scene light's energy, >= 0; "
                                      "sampled per scene and light")
    temperature_k: Annotated[Distribution, bounded(ge=1667, le=25000)] | None = Field(
        default=None, description="new black-body colour in kelvin, 1667..25000, sampled per scene and light; "
                                  "null: keep the lights' colours")


Density = Annotated[Distribution, bounded(ge=0, le=10)]


class SkyConfig(StrictModel):
    """Blender's physical (Nishita) daylight sky, with a sun lamp in the sun's direction for crisp
    shadows (the sky's own sun disc is off, so the sun is not counted twice)."""

    sun_elevation_deg: Annotated[Distribution, bounded(ge=0, le=90)] = Field(
        default=Uniform(uniform=(15.0, 60.0)), description="sun above the horizon in degrees, 0..90")
    sun_azimuth_deg: Angle = Field(default=Uniform(uniform=(0.0, 360.0)), description="sun direction around the "
                                   "vertical axis in degrees from world +X towards +Y")
    air: Density = Field(default=1.0, description="air density (1 = Earth at sea level; more: bluer, "
                         "dimmer near the horizon), 0..10")
    dust: Density = Field(default=1.0, description="dust and haze density (more: whiter, hazier sky), 0..10")
    ozone: Density = Field(default=1.0, description="ozone density (more: deeper blue), 0..10")
    strength: NonNegative = Field(default=Uniform(uniform=(0.1, 0.3)), description="sky light strength (Blender "
                                  "background strength), >= 0")
    sun_strength: NonNegative = Field(default=Uniform(uniform=(3.0, 6.0)), description="the sun lamp's irradiance "
                                      "in W/m², >= 0 (0: sky light only, as under an overcast)")
    sun_angle_deg: Annotated[Distribution, bounded(ge=0, le=180)] = Field(
        default=0.53, description="angular diameter of the sun in degrees (0.53: the real sun, hard shadows)")


HDRI_SIGNATURES = (b"#?RADIANCE", b"#?RGBE", b"\x76\x2f\x31\x01")  # Radiance .hdr, OpenEXR


class HdriConfig(StrictModel):
    """An equirectangular HDR image lighting the scene and seen in reflections."""

    file: str = Field(description="a .hdr or .exr equirectangular image, relative to the config (shipped ones: "
                      "the factory's assets/hdri/)")
    strength: NonNegative = Field(default=1.0, description="multiplier on the image's light, >= 0")
    rotation_deg: Angle = Field(default=Uniform(uniform=(0.0, 360.0)), description="turn of the image about the "
                                "vertical axis in degrees, sampled per scene")

    @field_validator("file")
    @classmethod
    def _hdri_exists(cls, value: str, info: ValidationInfo) -> str:
        if Path(value).suffix.lower() not in (".hdr", ".exr"):
            raise ValueError(f"file: an HDRI is a .hdr or .exr image, got '{value}'")
        _existing(value, info, "HDRI file")
        base = (info.context or {}).get("base_dir")
        if base is not None:
            with open(Path(base) / value, "rb") as fh:
                head = fh.read(10)
            if not head.startswith(HDRI_SIGNATURES):
                raise ValueError(f"file: '{value}' is not a Radiance .hdr or OpenEXR image (its first bytes say so)")
        return value


class WorldConfig(StrictModel):
    """World (environment) light: a flat colour, a physical sky, or an HDRI; left as the scene has it
    when omitted."""

    color: tuple[float, float, float] | None = Field(default=None, description="[R, G, B] linear world colour; "
                                                     "null: keep the scene's")
    strength: NonNegative | None = Field(default=None, description="world light strength (Blender background "
                                         "strength), >= 0; sampled per scene; null: keep the scene's")
    sky: SkyConfig | None = Field(default=None, description="a physical daylight sky with a matching sun lamp")
    hdri: HdriConfig | None = Field(default=None, description="an HDR environment image")

    @model_validator(mode="after")
    def _one_kind(self) -> "WorldConfig":
        given = [k for k in ("color", "sky", "hdri") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of color, sky or hdri, not {' and '.join(given)}")
        if self.strength is not None and (self.sky is not None or self.hdri is not None):
            raise ValueError(f"strength: set {'sky' if self.sky else 'hdri'}.strength instead")
        return self


class LightingPreset(StrictModel):
    """A named lighting condition: lights and world settings a scenario can start from."""

    name: str | None = Field(default=None, description="preset name, for people (not used by rendering)")
    description: str | None = Field(default=None, description="free text about the condition (not used by "
                                    "rendering)")
    lights: list[LightGroup] = Field(default=[], description="light groups put before the scenario's own")
    world: WorldConfig | None = Field(default=None, description="world settings the scenario's `world` keys "
                                      "override")


# Blender's view transforms and their looks (lower snake case of the names in Blender's UI).
VIEW_LOOKS: dict[str, tuple[str, ...]] = {
    "agx": ("punchy", "greyscale", "very_high_contrast", "high_contrast", "medium_high_contrast", "base_contrast",
            "medium_low_contrast", "low_contrast", "very_low_contrast"),
    "filmic": ("very_high_contrast", "high_contrast", "medium_high_contrast", "medium_contrast",
               "medium_low_contrast", "low_contrast", "very_low_contrast"),
    "standard": (),
}


class RenderConfig(StrictModel):
    """Cycles settings and output encoding."""

    samples: int = Field(default=128, gt=0, le=65536, description="Cycles' maximum samples per pixel, 1..65536; with "
                         "noise_threshold's default, the best image at 5x BlenderProc's speed (docs/benchmarks.md)")
    noise_threshold: float = Field(default=0.02, ge=0, description="adaptive sampling: a pixel stops once its "
                                   "noise is below this; 0 disables it")
    denoiser: Literal["none", "oidn"] = Field(default="oidn", description="oidn: Intel Open Image Denoise on "
                                              "the beauty pass; none: no denoising")
    denoise_guides: Literal["none", "albedo", "albedo_normal"] = Field(
        default="albedo_normal", description="passes that guide OIDN, so texture is told from noise: none (colour "
                                             "alone), albedo, or albedo and normal")
    denoise_prefilter: Literal["none", "fast", "accurate"] = Field(
        default="accurate", description="OIDN's clean-up of noisy guides: accurate (denoise them first), fast "
                                        "(with the colour) or none (guides taken as noise-free)")
    light_tree: bool = Field(default=True, description="Cycles' light tree: samples the lights that matter at "
                             "each point (faster and less noisy on the demo); off: Cycles' older light sampling")
    path_guiding: bool = Field(default=False, description="Cycles' path guiding (CPU only; ignored on a GPU): "
                               "learns where indirect light comes from")
    noise_pattern: int = Field(default=0, ge=0, description="which of Cycles' independent noise patterns to "
                               "render: 0 derives Cycles' seed from the scene seed; another number renders the same "
                               "scenes with other, independent noise (noisy/clean pairs, measuring render noise)")
    max_bounces: int = Field(default=4, ge=0, description="light bounces (total, and per diffuse, glossy, "
                             "transmission and volume), >= 0")
    pass_alpha_threshold: float = Field(default=0.5, gt=0, le=1, description="surfaces with alpha below this "
                                        "(0..1] are see-through in the masks")
    exposure_ev: float = Field(default=0.0, description="exposure change in EV (stops), added to the sensor's")
    view_transform: Literal["agx", "filmic", "standard"] | None = Field(
        default=None, description="scene-linear -> display: agx or filmic (Blender's, through OpenColorIO: "
                                  "highlights roll off instead of clipping) or standard (the sRGB curve, clipped); "
                                  "default agx, and standard on a photo backplate (already a display image). A "
                                  "sensor profile's own gamma or points tone curve replaces it")
    look: str | None = Field(default=None, description="a look of the view transform: agx: punchy, greyscale, "
                             "very_high_contrast .. base_contrast .. very_low_contrast; filmic: very_high_contrast .. "
                             "medium_contrast .. very_low_contrast; standard has none")
    image_format: Literal["png", "jpg"] = Field(default="png", description="file format of images/")
    jpeg_quality: int = Field(default=95, ge=1, le=100, description="JPEG quality 1..100 (image_format: jpg only)")
    keep_linear: bool = Field(default=False, description="also keep each image's scene-linear render (half-float "
                              "EXR in linear/, before lens and sensor), so `develop` can re-develop it for new "
                              "sensor, lens, exposure, tone or encoding settings without Blender")

    @model_validator(mode="after")
    def _look_of_the_view(self) -> "RenderConfig":
        view = self.view_transform or "agx"
        if self.look is not None and self.look not in VIEW_LOOKS[view]:
            known = ", ".join(VIEW_LOOKS[view]) or "none"
            raise ValueError(f"look: '{self.look}' is not a look of view_transform {view} (its looks: {known})")
        return self


class Scenario(StrictModel):
    """One scenario: a scene, the objects placed in it, lights, camera and render settings."""

    version: Literal[1] = Field(default=1, description="config format version; only 1 exists")
    scene: str = Field(description="a designer .blend, or a photo backplate's annotation YAML")
    scene_reload: bool = Field(default=False, description="reopen the .blend for every scene instead "
                                                          "of resetting it")
    views_per_scene: int = Field(default=1, gt=0, le=1000, description="camera poses rendered per scene "
                                 "(object layout), 1..1000")
    camera: CameraConfig | None = Field(default=None, description="required for .blend scenes; a photo "
                                        "backplate brings its own camera (then only clip, depth of field and "
                                        "motion blur apply)")
    objects: list[ObjectGroup] = Field(min_length=1, description="object groups placed in every scene "
                                       "(at least one)")
    lighting: str | None = Field(default=None, description="a lighting preset YAML (configs/lighting/) "
                                 "whose lights come before these and whose world these settings override")
    lights: list[LightGroup] = Field(default=[], description="light groups placed around the camera target, "
                                     "aimed at it, drawn per scene")
    world: WorldConfig = Field(default=WorldConfig(), description="world (environment) light")
    surfaces: SurfaceMaterials | None = Field(default=None, description="swap the scene's bpf_materials surfaces "
                                              "for library materials; null: keep them")
    scene_lights: SceneLights | None = Field(default=None, description="vary the scene's bpf_lights; null: keep "
                                             "them as saved")
    sensor: SensorConfig | None = Field(default=None, description="sensor pipeline; null: exposure and sRGB "
                                        "encoding only")
    lens: LensEffects | None = Field(default=None, description="lens obstructions; null: none")
    placement: PlacementConfig = Field(default=PlacementConfig(), description="how objects are laid out")
    labels: LabelsConfig = Field(default=LabelsConfig(), description="amodal labels and the label policy")
    occlusion: OcclusionConfig | None = Field(default=None, description="occlusion target; null: occlusion is "
                                              "left to chance")
    render: RenderConfig = Field(default=RenderConfig(), description="Cycles settings and output encoding")
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

    @model_validator(mode="after")
    def _no_view_transform_on_photos(self) -> "Scenario":
        if not self.scene.endswith(".blend") and (self.render.view_transform or "standard") != "standard":
            raise ValueError(f"render.view_transform: {self.render.view_transform} would re-grade the photo backplate, "
                             "which is already a display image; use standard (the default for backplates)")
        return self

    @property
    def view_transform(self) -> str:
        """The view transform in effect: as set, else agx (standard on a photo backplate)."""
        return self.render.view_transform or ("agx" if self.scene.endswith(".blend") else "standard")

    @property
    def camera_or_default(self) -> CameraConfig:
        """The camera section, or defaults for a backplate (whose photo fixes size, K and pose)."""
        return self.camera or CameraConfig(resolution=(640, 480), focal_length_mm=35.0, sensor_width_mm=36.0)

    @field_validator("categories")
    @classmethod
    def _unique_ids(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        if value is not None and len(set(value.values())) != len(value):
            raise ValueError("category ids must be unique")
        return value
