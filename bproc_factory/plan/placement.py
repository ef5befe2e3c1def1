"""Non-overlapping placement of upright or stable-resting objects on placement areas (pure).

Objects resting on the same plane whose convex footprints keep ``min_gap`` apart cannot
interpenetrate, so placement is a 2-D problem: rejection-sample translations per object.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import shapely
import shapely.affinity
import trimesh
from shapely.geometry import MultiPoint, Polygon

from bproc_factory.assets import Asset, PlacementArea
from bproc_factory.errors import FactoryError


class PlacementError(FactoryError, RuntimeError):
    """Objects could not be placed without overlap; the message names what and where."""


@dataclass(frozen=True)
class Footprint:
    """An oriented object: its hull points after rotation/scale (object at the origin), metres."""

    hull_points: np.ndarray  # (N, 3)

    @property
    def z_min(self) -> float:
        return float(self.hull_points[:, 2].min())

    def polygon(self) -> Polygon:
        return MultiPoint(self.hull_points[:, :2]).convex_hull


@functools.lru_cache(maxsize=256)
def stable_rotations(asset: Asset) -> tuple[np.ndarray, np.ndarray]:
    """Resting orientations of the asset's convex hull (3x3 each) and their probabilities."""
    return stable_rotations_of(asset.hull_canonical)


def stable_rotations_of(hull_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Resting orientations (3x3 each) and probabilities of a point set's convex hull."""
    hull = trimesh.Trimesh(hull_points).convex_hull
    transforms, probs = trimesh.poses.compute_stable_poses(hull, seed=0)
    return np.asarray([t[:3, :3] for t in transforms]), np.asarray(probs) / np.sum(probs)


def min_footprint_area(asset: Asset, pose: str) -> float:
    """The smallest floor area (m²) the asset can cover at scale 1 in the given pose mode."""
    rotations = stable_rotations(asset)[0] if pose == "stable" else [np.eye(3)]
    return min(Footprint(asset.hull_canonical @ r.T).polygon().area for r in rotations)


def place(footprint: Footprint, area: PlacementArea, placed: list[Polygon], min_gap: float,
          rng: np.random.Generator, max_tries: int) -> tuple[float, float] | None:
    """Sample an XY translation putting ``footprint`` inside ``area`` and ``min_gap`` clear of
    ``placed``; return it (and append the placed polygon) or ``None`` after ``max_tries``."""
    region = Polygon(area.polygon_xy)
    shape = footprint.polygon()
    sx0, sy0, sx1, sy1 = shape.bounds
    rx0, ry0, rx1, ry1 = region.bounds
    lo = np.array([rx0 - sx0, ry0 - sy0])
    hi = np.array([rx1 - sx1, ry1 - sy1])
    if np.any(hi < lo):
        return None
    shapely.prepare(region)
    return _first_fit((rng.uniform(lo, hi) for _ in range(max_tries)), shape, region, placed, min_gap)


def place_in_front(footprint: Footprint, area: PlacementArea, placed: list[Polygon], target: Polygon,
                   eye_xy: np.ndarray, min_gap: float, rng: np.random.Generator,
                   max_tries: int) -> tuple[float, float] | None:
    """Like ``place``, but between ``target`` and the camera (ground position ``eye_xy``): just in
    front of the target along the line of sight, shifted sideways so that it hides part of it."""
    region = Polygon(area.polygon_xy)
    shape = footprint.polygon()
    centre = np.asarray(target.centroid.coords[0])
    towards = np.asarray(eye_xy, float) - centre
    if np.linalg.norm(towards) < 1e-9:
        return None
    towards /= np.linalg.norm(towards)
    side = np.array([-towards[1], towards[0]])
    own = np.asarray(shape.centroid.coords[0])
    r_target = _radius(target, centre)
    r_own = _radius(shape, own)

    def candidates() -> Iterator[np.ndarray]:
        for _ in range(max_tries):
            ahead = r_target + r_own + min_gap + rng.uniform(0.0, r_target + r_own)
            offset = rng.uniform(-1.0, 1.0) * (r_target + r_own)
            yield centre + towards * ahead + side * offset - own

    return _first_fit(candidates(), shape, region, placed, min_gap)


def _first_fit(translations: Iterable[np.ndarray], shape: Polygon, region: Polygon, placed: list[Polygon],
               min_gap: float) -> tuple[float, float] | None:
    """The first translation that puts ``shape`` inside ``region`` and ``min_gap`` clear of
    ``placed`` (the moved shape is appended to ``placed``), or ``None``."""
    for t in translations:
        moved = shapely.affinity.translate(shape, float(t[0]), float(t[1]))
        if region.contains(moved) and not any(moved.distance(other) < min_gap for other in placed):
            placed.append(moved)
            return float(t[0]), float(t[1])
    return None


def _radius(shape: Polygon, centre: np.ndarray) -> float:
    """Largest distance from ``centre`` to the polygon's outline."""
    return float(np.max(np.linalg.norm(np.asarray(shape.exterior.coords) - centre, axis=1)))
