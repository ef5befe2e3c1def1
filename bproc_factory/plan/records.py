"""The plan of one scene as plain data: its objects, lights, world and views (what the
renderer mirrors; ``blender/`` has one module per kind)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bproc_factory.assets import Asset
from bproc_factory.sensor import Canvas, cached_canvas


@dataclass(frozen=True)
class ObjectPlan:
    instance_id: int
    asset: Asset = field(repr=False)
    obj_to_world: np.ndarray = field(repr=False)  # 4x4: mesh-file coordinates -> world metres
    sampled: dict[str, Any]
    category: str = ""
    label: str = "category"  # category | background | ignore (the group's `label`)
    material: dict[str, Any] | None = None  # a drawn library material replacing the asset's own
    finish: dict[str, float] | None = None  # drawn optical values laid over the asset's own materials

    @property
    def hull_world(self) -> np.ndarray:
        """The convex-hull points of the placed object, world metres (N x 3)."""
        world_from_canonical = self.obj_to_world @ np.linalg.inv(self.asset.canonical_from_file)
        return self.asset.hull_canonical @ world_from_canonical[:3, :3].T + world_from_canonical[:3, 3]


@dataclass(frozen=True)
class LightPlan:
    type: str
    energy_w: float
    color_rgb: tuple[float, float, float]
    light_to_world: np.ndarray = field(repr=False)  # 4x4, Blender convention (emits along -Z)
    sampled: dict[str, Any]


@dataclass(frozen=True)
class ViewPlan:
    image_index: int
    view_index: int
    image_seed: int
    K: np.ndarray = field(repr=False)
    width: int
    height: int
    cam_to_world: np.ndarray = field(repr=False)  # 4x4 OpenCV convention
    sampled: dict[str, Any]
    distortion: dict[str, Any] | None = None  # {"model", "coeffs"} in OpenCV order
    dof: dict[str, float] | None = None  # {"f_stop", "focus_distance_m"}
    motion: dict[str, Any] | None = None  # shutter and velocities, see plan_motion
    sensor: dict[str, Any] = field(default_factory=dict)  # sensor.sample.sample_sensor
    lens: dict[str, Any] = field(default_factory=dict)  # sensor.sample.sample_lens

    def canvas(self) -> Canvas:
        """The pinhole image Blender renders for this view (larger than the output under distortion)."""
        if self.distortion is None:
            return Canvas(K=self.K, width=self.width, height=self.height)
        return cached_canvas(tuple(map(tuple, self.K.tolist())), self.width, self.height,
                             tuple(self.distortion["coeffs"]), self.distortion["model"])


@dataclass(frozen=True)
class ScenePlan:
    scene_index: int
    scene_seed: int
    cycles_seed: int
    objects: tuple[ObjectPlan, ...]
    lights: tuple[LightPlan, ...]
    world: dict[str, Any]
    views: tuple[ViewPlan, ...]
    surfaces: dict[str, dict[str, Any]] = field(default_factory=dict)  # object -> drawn material
    scene_lights: dict[str, dict[str, Any]] = field(default_factory=dict)  # light -> energy scale, colour
    attempt: int = 0  # which draw of the object layout (occlusion targets re-draw it)
