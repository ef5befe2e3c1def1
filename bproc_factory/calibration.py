"""Import camera profiles from calibration files: OpenCV (YAML/XML/JSON) and COLMAP ``cameras.txt``.

The result is a camera profile (``config.camera.CameraProfile``) in OpenCV conventions: pixel
centres at integer coordinates (COLMAP puts the first pixel's centre at 0.5, so its principal
point moves by half a pixel) and distortion ``[k1, k2, p1, p2, k3]`` or fisheye ``[k1..k4]``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bproc_factory.config.camera import CameraProfile
from bproc_factory.config.loader import ConfigError, validate
from bproc_factory.distortion import DistortionError, make_canvas

_MATRIX_KEYS = ("camera_matrix", "cameraMatrix", "K", "intrinsics")
_DIST_KEYS = ("dist_coeffs", "distortion_coefficients", "distCoeffs", "D", "dist")
_SIZE_KEYS = (("image_width", "image_height"), ("width", "height"), ("imageWidth", "imageHeight"))


def _profile(path: Path, width: int, height: int, K: np.ndarray, dist: list[float], model: str,
             name: str) -> dict[str, Any]:
    """A validated camera profile dict from its parts; errors name ``path``."""
    if model == "brown_conrady":
        if len(dist) not in (0, 4, 5, 8, 12, 14):
            raise ConfigError(f"{path}: distortion has {len(dist)} coefficients; expected 4, 5 or 8 (OpenCV)")
        extra = dist[5:]
        if any(abs(v) > 0 for v in extra):
            raise ConfigError(f"{path}: rational/thin-prism distortion terms {extra} are not supported; "
                              "recalibrate with the 5-coefficient model")
        dist = (list(dist[:5]) + [0.0] * 5)[:5]
    profile = {"name": name, "resolution": [int(width), int(height)],
               "K": {"fx": float(K[0, 0]), "fy": float(K[1, 1]), "cx": float(K[0, 2]), "cy": float(K[1, 2])}}
    if abs(K[0, 1]) > 1e-9:
        raise ConfigError(f"{path}: camera matrix has skew {K[0, 1]}; Blender cannot render skewed pixels")
    if any(abs(v) > 0 for v in dist):
        profile["distortion"] = {"model": model, "coeffs": [float(v) for v in dist]}
        try:
            make_canvas(K, int(width), int(height), [float(v) for v in dist], model)
        except DistortionError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    validate(CameraProfile, profile, path)
    return profile


def read_opencv(path: Path) -> dict[str, Any]:
    """A camera profile from an OpenCV calibration file (cv2.FileStorage YAML/XML, or JSON)."""
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    data = _read_json(path) if path.suffix.lower() == ".json" else _read_filestorage(path)
    K = _first(data, _MATRIX_KEYS, path, "camera matrix")
    K = np.asarray(K, float).reshape(-1)
    if K.size != 9:
        raise ConfigError(f"{path}: camera_matrix must be 3x3, got {K.size} values")
    dist = np.asarray(_first(data, _DIST_KEYS, path, "distortion coefficients", default=[]), float).ravel().tolist()
    width, height = _size(data, path)
    model = "fisheye" if str(data.get("distortion_model", data.get("model", ""))).lower() in (
        "fisheye", "equidistant", "opencv_fisheye") else "brown_conrady"
    if model == "fisheye" and len(dist) != 4:
        raise ConfigError(f"{path}: a fisheye calibration needs 4 coefficients, got {len(dist)}")
    return _profile(path, width, height, K.reshape(3, 3), dist, model, path.stem)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{path}: invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object with camera_matrix and dist_coeffs")
    return data


def _read_filestorage(path: Path) -> dict[str, Any]:
    try:
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError) as exc:  # OpenCV's parser errors surface as either
        raise ConfigError(f"{path}: not a readable OpenCV calibration file ({str(exc).strip()[:200]})") from None
    if not fs.isOpened():
        raise ConfigError(f"{path}: not a readable OpenCV calibration file")
    data: dict[str, Any] = {}
    root = fs.root()
    for key in root.keys():
        node = fs.getNode(key)
        if node.isMap():  # an !!opencv-matrix
            matrix = node.mat()
            if matrix is not None:
                data[key] = matrix.tolist()
        elif node.isSeq():
            data[key] = [node.at(i).real() for i in range(node.size())]
        elif node.isString():
            data[key] = node.string()
        elif node.isReal() or node.isInt():
            data[key] = node.real()
    fs.release()
    return data


def _first(data: dict[str, Any], keys: tuple[str, ...], path: Path, what: str, default: Any = None) -> Any:
    for key in keys:
        if key in data:
            return data[key]
    if default is not None:
        return default
    raise ConfigError(f"{path}: no {what} (looked for {', '.join(keys)})")


def _size(data: dict[str, Any], path: Path) -> tuple[int, int]:
    for wk, hk in _SIZE_KEYS:
        if wk in data and hk in data:
            return int(data[wk]), int(data[hk])
    for key in ("image_size", "imageSize", "resolution"):
        if key in data:
            w, h = np.asarray(data[key], float).ravel()[:2]
            return int(w), int(h)
    raise ConfigError(f"{path}: no image size (give image_width and image_height)")


_COLMAP = {  # model -> parameter names
    "SIMPLE_PINHOLE": ("f", "cx", "cy"),
    "PINHOLE": ("fx", "fy", "cx", "cy"),
    "SIMPLE_RADIAL": ("f", "cx", "cy", "k1"),
    "RADIAL": ("f", "cx", "cy", "k1", "k2"),
    "OPENCV": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2"),
    "OPENCV_FISHEYE": ("fx", "fy", "cx", "cy", "k1", "k2", "k3", "k4"),
    "FULL_OPENCV": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6"),
}


def read_colmap(path: Path, camera_id: int | None = None) -> dict[str, Any]:
    """A camera profile from COLMAP's ``cameras.txt`` (the given camera, or the only one)."""
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    cameras = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 5:
            raise ConfigError(f"{path}: line {n}: expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS...")
        cameras[int(parts[0])] = (n, parts)
    if not cameras:
        raise ConfigError(f"{path}: no cameras")
    if camera_id is None:
        if len(cameras) > 1:
            raise ConfigError(f"{path}: {len(cameras)} cameras ({sorted(cameras)}); choose one with --camera-id")
        camera_id = next(iter(cameras))
    if camera_id not in cameras:
        raise ConfigError(f"{path}: no camera {camera_id} (found {sorted(cameras)})")
    n, (_, model, width, height, *values) = cameras[camera_id]
    if model not in _COLMAP:
        raise ConfigError(f"{path}: line {n}: camera model {model} is not supported "
                          f"(supported: {', '.join(_COLMAP)})")
    names = _COLMAP[model]
    if len(values) != len(names):
        raise ConfigError(f"{path}: line {n}: {model} takes {len(names)} parameters, got {len(values)}")
    p = dict(zip(names, map(float, values)))
    fx, fy = p.get("fx", p.get("f")), p.get("fy", p.get("f"))
    K = np.array([[fx, 0.0, p["cx"] - 0.5], [0.0, fy, p["cy"] - 0.5], [0.0, 0.0, 1.0]])
    if model == "OPENCV_FISHEYE":
        dist, kind = [p["k1"], p["k2"], p["k3"], p["k4"]], "fisheye"
    else:
        dist = [p.get("k1", 0.0), p.get("k2", 0.0), p.get("p1", 0.0), p.get("p2", 0.0), p.get("k3", 0.0),
                p.get("k4", 0.0), p.get("k5", 0.0), p.get("k6", 0.0)]
        kind = "brown_conrady"
    return _profile(path, int(width), int(height), K, dist, kind, f"{path.parent.name}_camera{camera_id}")


def read_calibration(path: Path, camera_id: int | None = None) -> dict[str, Any]:
    """Dispatch on the file: COLMAP ``cameras.txt`` or an OpenCV calibration file."""
    if path.suffix.lower() == ".txt":
        return read_colmap(path, camera_id)
    return read_opencv(path)
