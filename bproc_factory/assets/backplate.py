"""Photo backplates (pure): a photo of the real site with an annotation becomes a scene.

The annotation gives the placement polygon in pixels and the camera: intrinsics (K, or a
horizontal field of view) and either its height and tilt over the ground, or four or more ground
points with metric coordinates (solved with ``cv2.solvePnP``). The ground is the plane z = 0; the
polygon is cast onto it to give the placement area. The world light is matched to the photo's
mean colour and brightness unless the annotation (or the scenario's ``world``) says otherwise.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
from pydantic import Field, model_validator

from bproc_factory.assets.asset import tree_sha256
from bproc_factory.assets.environment import FixedCamera, PlacementArea, SceneInfo
from bproc_factory.config import ConfigError, Intrinsics, StrictModel, read_yaml, validate
from bproc_factory.sensor import LUMA, look_at, srgb_decode

MEAN_ALBEDO = 0.3  # assumed average reflectance of a photographed scene, to infer its light


class GroundPoint(StrictModel):
    pixel: tuple[float, float]
    world: tuple[float, float]  # metres on the ground plane


class BackplateCamera(StrictModel):
    K: Intrinsics | None = None
    hfov_deg: float | None = Field(default=None, gt=1, lt=179)
    height_m: float | None = Field(default=None, gt=0)
    tilt_deg: float | None = Field(default=None, gt=0, le=90, description="downward pitch of the optical axis")
    roll_deg: float = 0.0
    ground_points: list[GroundPoint] | None = None

    @model_validator(mode="after")
    def _complete(self) -> "BackplateCamera":
        if (self.K is None) == (self.hfov_deg is None):
            raise ValueError("give exactly one of 'K' or 'hfov_deg'")
        pose_by_height = self.height_m is not None and self.tilt_deg is not None
        if pose_by_height == (self.ground_points is not None):
            raise ValueError("give either 'height_m' and 'tilt_deg', or 'ground_points' (at least 4)")
        if self.ground_points is not None and len(self.ground_points) < 4:
            raise ValueError(f"ground_points: need at least 4, got {len(self.ground_points)}")
        return self


class BackplateSun(StrictModel):
    elevation_deg: float = Field(ge=0, le=90)
    azimuth_deg: float
    strength: float = Field(gt=0, description="W/m²")


class BackplateLight(StrictModel):
    strength_scale: float = Field(default=1.0, gt=0)
    sun: BackplateSun | None = None


class BackplateSpec(StrictModel):
    """The annotation file of a photo backplate."""

    photo: str
    source: str | None = None
    license: str | None = None
    placement_polygon: Annotated[list[tuple[float, float]], Field(min_length=3)]
    camera: BackplateCamera
    light: BackplateLight = BackplateLight()


def _intrinsics(spec: BackplateCamera, width: int, height: int) -> np.ndarray:
    if spec.K is not None:
        return np.array([[spec.K.fx, 0, spec.K.cx], [0, spec.K.fy, spec.K.cy], [0, 0, 1.0]])
    f = (width / 2) / np.tan(np.radians(spec.hfov_deg) / 2)
    return np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1.0]])


def _pose(spec: BackplateCamera, K: np.ndarray, path: Path) -> np.ndarray:
    """Camera-to-world (OpenCV convention), ground at z = 0."""
    if spec.ground_points is None:
        t = np.radians(spec.tilt_deg)
        eye = np.array([0.0, 0.0, spec.height_m])
        return look_at(eye, eye + np.array([0.0, np.cos(t), -np.sin(t)]), spec.roll_deg)
    obj = np.array([[p.world[0], p.world[1], 0.0] for p in spec.ground_points])
    img = np.array([p.pixel for p in spec.ground_points], float)
    spread = np.linalg.svd(obj[:, :2] - obj[:, :2].mean(axis=0), compute_uv=False)
    if spread[1] < 1e-3 * max(spread[0], 1e-9):
        raise ConfigError(f"{path}: camera.ground_points: the points' metric coordinates lie on one "
                          "line; mark at least 4 points spread over the ground (e.g. a rectangle's corners)")
    try:
        ok, rvec, tvec = cv2.solvePnP(obj, img, K, None, flags=cv2.SOLVEPNP_ITERATIVE)
    except cv2.error:
        ok = False
    if not ok:
        raise ConfigError(f"{path}: camera.ground_points: solvePnP found no camera pose")
    R, _ = cv2.Rodrigues(rvec)
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = R.T, (-R.T @ tvec).ravel()
    error = np.abs(cv2.projectPoints(obj, rvec, tvec, K, None)[0].reshape(-1, 2) - img).max()
    if pose[2, 3] <= 0 or error > 10:
        raise ConfigError(f"{path}: camera.ground_points: no consistent camera above the ground "
                          f"(reprojection off by {error:.1f} px); check the points' pixels and metres")
    return pose


def ground_point(pixel: tuple[float, float], K: np.ndarray, pose: np.ndarray) -> np.ndarray | None:
    """Where the ray through ``pixel`` meets the ground (z = 0), or None above the horizon."""
    ray = pose[:3, :3] @ (np.linalg.inv(K) @ np.array([pixel[0], pixel[1], 1.0]))
    if ray[2] >= -1e-9:
        return None
    return pose[:3, 3] + ray * (-pose[2, 3] / ray[2])


def is_backplate(path: Path) -> bool:
    """A scene path names a photo backplate (its annotation YAML) rather than a designer .blend."""
    return path.suffix.lower() in (".yaml", ".yml")


def scene_sha256(path: Path) -> str:
    """SHA-256 of a scene: the .blend's bytes, or a backplate annotation's bytes and its photo's."""
    if not is_backplate(path):
        return tree_sha256(path)
    digest = hashlib.sha256(path.read_bytes())
    photo = read_yaml(path).get("photo") if isinstance(read_yaml(path), dict) else None
    if isinstance(photo, str) and (path.parent / photo).is_file():
        digest.update((path.parent / photo).read_bytes())
    return digest.hexdigest()


def load_backplate(path: Path) -> SceneInfo:
    """The scene described by a backplate annotation; errors name the file and key."""
    spec: BackplateSpec = validate(BackplateSpec, read_yaml(path), path)
    photo_path = (path.parent / spec.photo).resolve()
    if not photo_path.is_file():  # checked first: OpenCV would print its own warning
        raise ConfigError(f"{path}: photo: '{spec.photo}' not found (looked for {photo_path})")
    photo = cv2.imread(str(photo_path), cv2.IMREAD_COLOR)
    if photo is None:
        raise ConfigError(f"{path}: photo: '{spec.photo}' is not a readable image")
    height, width = photo.shape[:2]
    K = _intrinsics(spec.camera, width, height)
    pose = _pose(spec.camera, K, path)
    ground = []
    for k, pixel in enumerate(spec.placement_polygon):
        if not (0 <= pixel[0] < width and 0 <= pixel[1] < height):
            raise ConfigError(f"{path}: placement_polygon[{k}]: {list(pixel)} lies outside the {width}x{height} photo")
        point = ground_point(pixel, K, pose)
        if point is None:
            raise ConfigError(f"{path}: placement_polygon[{k}]: {list(pixel)} lies above the horizon")
        ground.append((float(point[0]), float(point[1])))
    area = PlacementArea(name="ground", polygon_xy=tuple(ground), z=0.0)
    linear = srgb_decode(photo[..., ::-1].reshape(-1, 3).astype(np.float64) / 255).mean(axis=0)
    world = {"color": (linear / linear.max()).tolist(),
             "strength": float(linear @ LUMA / MEAN_ALBEDO * spec.light.strength_scale)}
    centroid = np.asarray(ground).mean(axis=0)
    return SceneInfo(
        placement_areas=(area,), camera_target=(float(centroid[0]), float(centroid[1]), 0.0),
        fixed_camera=FixedCamera(K=tuple(map(tuple, K.tolist())), width=width, height=height,
                                 cam_to_world=tuple(map(tuple, pose.tolist()))),
        backplate={"photo": str(photo_path), "world": world,
                   "sun": spec.light.sun.model_dump() if spec.light.sun else None})
