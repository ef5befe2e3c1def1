"""What the factory needs to know about an environment scene, as plain data (no Blender)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
class SceneInfo:
    """The marked parts of a scene: placement areas and the camera target (world metres)."""

    placement_areas: tuple[PlacementArea, ...]
    camera_target: tuple[float, float, float]
