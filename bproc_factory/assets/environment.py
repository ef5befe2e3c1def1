"""What the factory needs to know about an environment scene, as plain data (no Blender)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

Point3 = tuple[float, float, float]


@dataclass(frozen=True)
class PlacementArea:
    """A horizontal region objects may stand on: a polygon in world XY at height ``z`` (metres)."""

    name: str
    polygon_xy: tuple[tuple[float, float], ...]
    z: float

    @property
    def size_xy(self) -> tuple[float, float]:
        pts = np.asarray(self.polygon_xy)
        return tuple(float(v) for v in pts.max(axis=0) - pts.min(axis=0))  # type: ignore[return-value]


@dataclass(frozen=True)
class FixedCamera:
    """A camera the scene dictates (a photo backplate's): intrinsics, size and pose (OpenCV)."""

    K: tuple[tuple[float, ...], ...]
    width: int
    height: int
    cam_to_world: tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class SceneInfo:
    """The marked parts of a scene (world metres), by the designer conventions in scenes/README.md."""

    placement_areas: tuple[PlacementArea, ...]
    camera_target: Point3
    camera_regions: tuple[tuple[Point3, ...], ...] = ()  # convex hulls the camera must stay inside
    occluders: tuple[str, ...] = ()
    props: tuple[str, ...] = ()
    lights: tuple[str, ...] = ()  # lights the factory may randomise
    surfaces: tuple[str, ...] = ()  # objects whose materials may be swapped
    fixed_camera: FixedCamera | None = None
    backplate: dict[str, Any] | None = field(default=None, compare=False)  # photo, world light (backplates)


@dataclass
class Survey:
    """What a scene's marks are, and what is wrong or missing (``errors`` stop a render)."""

    info: SceneInfo | None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
