"""Camera maths (pure): intrinsics from config, look-at poses, OpenCV <-> Blender camera frames."""
from __future__ import annotations

import numpy as np

from bproc_factory.config import CameraConfig

# Blender cameras look down -Z with +Y up; OpenCV cameras look down +Z with +Y down.
OPENCV_TO_BLENDER_CAMERA = np.diag([1.0, -1.0, -1.0, 1.0])


def intrinsics(cam: CameraConfig) -> np.ndarray:
    """The 3x3 K matrix (pixels, OpenCV convention: pixel centres at integer coordinates)."""
    w, h = cam.resolution
    if cam.K is not None:
        fx, fy, cx, cy = cam.K.fx, cam.K.fy, cam.K.cx, cam.K.cy
    else:
        fx = fy = cam.focal_length_mm / cam.sensor_width_mm * w
        cx, cy = (w - 1) / 2, (h - 1) / 2
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def rot_z(deg: float) -> np.ndarray:
    """3x3 rotation by ``deg`` about +Z (counter-clockwise seen from above)."""
    r = np.radians(deg)
    return np.array([[np.cos(r), -np.sin(r), 0.0], [np.sin(r), np.cos(r), 0.0], [0.0, 0.0, 1.0]])


def spherical_offset(distance: float, elevation_deg: float, azimuth_deg: float) -> np.ndarray:
    """A point at ``distance`` seen from the origin at the given elevation and azimuth (world Z up)."""
    el, az = np.radians(elevation_deg), np.radians(azimuth_deg)
    return distance * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])


def look_at(eye: np.ndarray, target: np.ndarray, roll_deg: float = 0.0) -> np.ndarray:
    """Camera-to-world 4x4 in OpenCV convention (x right, y down, z forward) looking at ``target``.

    The image's horizontal axis stays level with the world (Z up) before ``roll_deg`` is applied.
    """
    eye, target = np.asarray(eye, float), np.asarray(target, float)
    z = target - eye
    norm = np.linalg.norm(z)
    if norm < 1e-9:
        raise ValueError("camera position coincides with its target")
    z /= norm
    x = np.cross(z, [0.0, 0.0, 1.0])
    if np.linalg.norm(x) < 1e-6:  # looking straight up or down: keep image x along world x
        x = np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, y, z], axis=1) @ rot_z(roll_deg)  # roll about the optical axis
    pose[:3, 3] = eye
    return pose


def opencv_to_blender(cam_to_world_cv: np.ndarray) -> np.ndarray:
    """Convert an OpenCV-convention camera-to-world matrix into Blender's camera convention."""
    return np.asarray(cam_to_world_cv) @ OPENCV_TO_BLENDER_CAMERA


def project(points_world: np.ndarray, K: np.ndarray, cam_to_world_cv: np.ndarray) -> np.ndarray:
    """Pixel coordinates (N, 2) of world points under a pinhole camera (no distortion)."""
    world_to_cam = np.linalg.inv(cam_to_world_cv)
    pts = np.asarray(points_world, float) @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
    uvw = pts @ np.asarray(K).T
    return uvw[:, :2] / uvw[:, 2:3]
