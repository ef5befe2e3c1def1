"""Import camera profiles from calibration files: OpenCV (YAML/XML/JSON) and COLMAP ``cameras.txt``.

The result is a camera profile (``config.camera.CameraProfile``) in OpenCV conventions: pixel
centres at integer coordinates (COLMAP puts the first pixel's centre at 0.5, so its principal
point moves by half a pixel) and distortion ``[k1, k2, p1, p2, k3]`` or fisheye ``[k1..k4]``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from bproc_factory.config import CameraProfile, ConfigError, validate
from bproc_factory.sensor.distortion import DistortionError, make_canvas

_MATRIX_KEYS = ("camera_matrix", "cameraMatrix", "K", "intrinsics")
_DIST_KEYS = ("dist_coeffs", "distortion_coefficients", "distCoeffs", "D", "dist")
_SIZE_KEYS = (("image_width", "image_height"), ("width", "height"), ("imageWidth", "imageHeight"))


def _profile(path: Path, width: int, height: int, K: np.ndarray, dist: list[float], model: str,
             name: str, sensor_width_mm: float | None) -> dict[str, Any]:
    """A validated camera profile dict from its parts; errors name ``path``."""
    if K.shape != (3, 3) or not np.allclose(K[2], [0, 0, 1]) or abs(K[1, 0]) > 1e-9:
        raise ConfigError(f"{path}: camera matrix {K.tolist()} is not [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]")
    if abs(K[0, 1]) > 1e-9:
        raise ConfigError(f"{path}: camera matrix has skew {K[0, 1]}; Blender cannot render skewed pixels")
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ConfigError(f"{path}: focal lengths must be positive, got fx={K[0, 0]}, fy={K[1, 1]}")
    if model == "brown_conrady":
        if len(dist) not in (0, 4, 5, 8, 12, 14):
            raise ConfigError(f"{path}: distortion has {len(dist)} coefficients; expected 4, 5 or 8 (OpenCV)")
        extra = dist[5:]
        if any(abs(v) > 0 for v in extra):
            raise ConfigError(f"{path}: rational/thin-prism distortion terms {extra} are not supported; "
                              "recalibrate with the 5-coefficient model")
        dist = (list(dist[:5]) + [0.0] * 5)[:5]
    profile: dict[str, Any] = {
        "name": name, "resolution": [int(width), int(height)],
        "K": {"fx": float(K[0, 0]), "fy": float(K[1, 1]), "cx": float(K[0, 2]), "cy": float(K[1, 2])}}
    if sensor_width_mm is not None:
        profile["sensor_width_mm"] = float(sensor_width_mm)
    if any(abs(v) > 0 for v in dist):
        profile["distortion"] = {"model": model, "coeffs": [float(v) for v in dist]}
        try:
            make_canvas(K, int(width), int(height), [float(v) for v in dist], model)
        except DistortionError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    validate(CameraProfile, profile, path)
    return profile


def read_opencv(path: Path, sensor_width_mm: float | None = None) -> dict[str, Any]:
    """A camera profile from an OpenCV calibration file: YAML (as written by cv2.FileStorage, or
    plain YAML such as ROS camera_info), XML, or JSON."""
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    data = _read_structured(path)
    K = _numbers(_first(data, _MATRIX_KEYS, path, "camera matrix"), path, "camera_matrix")
    if K.size != 9:
        raise ConfigError(f"{path}: camera_matrix must be 3x3, got {K.size} values")
    dist = _numbers(_first(data, _DIST_KEYS, path, "distortion coefficients", default=[]), path,
                    "dist_coeffs").tolist()
    width, height = _size(data, path)
    model = "fisheye" if str(data.get("distortion_model", data.get("model", ""))).lower() in (
        "fisheye", "equidistant", "opencv_fisheye") else "brown_conrady"
    if model == "fisheye" and len(dist) != 4:
        raise ConfigError(f"{path}: a fisheye calibration needs 4 coefficients, got {len(dist)}")
    return _profile(path, width, height, K.reshape(3, 3), dist, model, path.stem, sensor_width_mm)


_OPENCV_HEADER = re.compile(r"^%YAML[^\n]*\n(---[^\n]*\n)?")
_OPENCV_TAG = re.compile(r"!!opencv-(matrix|nd-matrix)")


def _read_structured(path: Path) -> dict[str, Any]:
    """The file's top-level mapping: JSON, plain YAML (OpenCV's header and tags tolerated), or XML."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(_OPENCV_TAG.sub("", _OPENCV_HEADER.sub("", text)))
        else:
            data = _read_filestorage(path)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not a readable OpenCV calibration file ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with camera_matrix and dist_coeffs")
    return data


def _read_filestorage(path: Path) -> dict[str, Any]:
    try:
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError) as exc:  # OpenCV's parser errors surface as either
        raise ValueError(str(exc).strip()[:200]) from None
    if not fs.isOpened():
        raise ValueError("OpenCV cannot open it")
    data: dict[str, Any] = {}
    for key in fs.root().keys():
        node = fs.getNode(key)
        if node.isMap():  # an opencv-matrix
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


def _numbers(value: Any, path: Path, key: str) -> np.ndarray:
    """A flat float array from a list, nested lists, or an OpenCV/ROS ``{rows, cols, data}`` map."""
    if isinstance(value, dict) and "data" in value:
        value = value["data"]
    try:
        array = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: {key}: expected numbers, got {str(value)[:80]}") from None
    if not np.all(np.isfinite(array)):
        raise ConfigError(f"{path}: {key}: values must be finite numbers")
    return array


def _first(data: dict[str, Any], keys: tuple[str, ...], path: Path, what: str, default: Any = None) -> Any:
    """The value of the first of ``keys`` present (calibration tools name things differently)."""
    for key in keys:
        if key in data:
            return data[key]
    if default is not None:
        return default
    raise ConfigError(f"{path}: no {what} (looked for {', '.join(keys)})")


def _size(data: dict[str, Any], path: Path) -> tuple[int, int]:
    """Image width and height under any of the usual key names."""
    for wk, hk in _SIZE_KEYS:
        if wk in data and hk in data:
            size = _numbers([data[wk], data[hk]], path, f"{wk}/{hk}")
            break
    else:
        key = next((k for k in ("image_size", "imageSize", "resolution") if k in data), None)
        if key is None:
            raise ConfigError(f"{path}: no image size (give image_width and image_height)")
        size = _numbers(data[key], path, key)[:2]
    if len(size) != 2 or np.any(size <= 0) or np.any(size != np.round(size)):
        raise ConfigError(f"{path}: image size {size.tolist()} is not two positive whole numbers")
    return int(size[0]), int(size[1])


_COLMAP = {  # model -> parameter names
    "SIMPLE_PINHOLE": ("f", "cx", "cy"),
    "PINHOLE": ("fx", "fy", "cx", "cy"),
    "SIMPLE_RADIAL": ("f", "cx", "cy", "k1"),
    "RADIAL": ("f", "cx", "cy", "k1", "k2"),
    "OPENCV": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2"),
    "OPENCV_FISHEYE": ("fx", "fy", "cx", "cy", "k1", "k2", "k3", "k4"),
    "FULL_OPENCV": ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6"),
}


def read_colmap(path: Path, camera_id: int | None = None, sensor_width_mm: float | None = None) -> dict[str, Any]:
    """A camera profile from COLMAP's ``cameras.txt`` (the given camera, or the only one)."""
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    cameras = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 5 or not parts[0].isdigit():
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
    try:
        p = dict(zip(names, map(float, values)))
        width, height = int(width), int(height)
    except ValueError:
        raise ConfigError(f"{path}: line {n}: width, height and parameters must be numbers") from None
    fx, fy = p.get("fx", p.get("f")), p.get("fy", p.get("f"))
    K = np.array([[fx, 0.0, p["cx"] - 0.5], [0.0, fy, p["cy"] - 0.5], [0.0, 0.0, 1.0]])
    if model == "OPENCV_FISHEYE":
        dist, kind = [p["k1"], p["k2"], p["k3"], p["k4"]], "fisheye"
    else:
        dist = [p.get("k1", 0.0), p.get("k2", 0.0), p.get("p1", 0.0), p.get("p2", 0.0), p.get("k3", 0.0),
                p.get("k4", 0.0), p.get("k5", 0.0), p.get("k6", 0.0)]
        kind = "brown_conrady"
    return _profile(path, width, height, K, dist, kind, f"{path.parent.name}_camera{camera_id}", sensor_width_mm)


def read_calibration(path: Path, camera_id: int | None = None,
                     sensor_width_mm: float | None = None) -> dict[str, Any]:
    """Dispatch on the file: COLMAP ``cameras.txt`` or an OpenCV calibration file."""
    if path.suffix.lower() == ".txt":
        return read_colmap(path, camera_id, sensor_width_mm)
    return read_opencv(path, sensor_width_mm)


def import_calibration(calibration: Path, output: Path, camera_id: int | None = None,
                       sensor_width_mm: float | None = None) -> dict[str, Any]:
    """Write the camera profile YAML read from ``calibration`` to ``output``; returns the profile."""
    profile = read_calibration(calibration, camera_id, sensor_width_mm)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(f"# imported from {calibration} by bproc-factory camera import\n"
                      + yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
    return profile
