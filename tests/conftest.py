"""Shared test helpers: tiny scenario configs and running the real CLI in a subprocess.

Anything that renders runs ``bproc-factory`` as a child process with the real ``bpy`` wheel, the
way users run it; the pytest process itself never imports ``bpy``.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DEMO_ASSETS = REPO / "assets" / "demo"
TABLETOP = REPO / "scenes" / "tabletop.blend"
CAPTURES = Path(__file__).resolve().parent / "data" / "captures"  # made by tests/data/make_captures.py
NO_BPY = Path(__file__).resolve().parent / "no_bpy"  # stand-ins for bpy and blenderproc that refuse to import
RENDER_COMMANDS = ("render", "preview", "farm")

_running: dict[str, pytest.Item | None] = {"item": None}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """Remember the running test (set before its fixtures, session-scoped ones included)."""
    _running["item"] = item
    try:
        return (yield)
    finally:
        _running["item"] = None


def _render_marked() -> bool:
    item = _running["item"]
    return item is None or item.get_closest_marker("render") is not None


def look_at(azimuth_deg: float, elevation_deg: float, distance: float = 0.4,
            target: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """Object-to-camera transform (OpenCV camera, image-up towards +z) of a camera at that azimuth,
    elevation and distance from ``target``, looking at it."""
    a, e = math.radians(azimuth_deg), math.radians(elevation_deg)
    eye = np.asarray(target) + distance * np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])
    forward = (np.asarray(target) - eye) / distance
    right = np.cross(forward, [0, 0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    R = np.stack([right, down, forward])
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, -R @ eye
    return T


def tiny_config(**changes: Any) -> dict[str, Any]:
    """A scenario rendering 64x48 images at 8 samples (adaptive, denoised) with the demo assets."""
    config: dict[str, Any] = {
        "scene": str(TABLETOP),
        "views_per_scene": 2,
        "camera": {"resolution": [64, 48], "K": {"fx": 70.0, "fy": 70.0, "cx": 31.5, "cy": 23.5},
                   "distance_m": {"uniform": [0.9, 1.1]}, "elevation_deg": {"uniform": [40, 70]},
                   "azimuth_deg": {"uniform": [-150, -30]}},
        "objects": [{"assets": [str(DEMO_ASSETS / "soda_can"), str(DEMO_ASSETS / "bottle")],
                     "count": {"uniform": [2, 3]}},
                    {"assets": [str(DEMO_ASSETS / "cereal_box")], "count": 1, "pose": "stable"}],
        "lights": [{"type": "area", "energy_w": {"uniform": [30, 60]}, "size_m": 0.5}],
        "render": {"samples": 8, "noise_threshold": 0.05, "denoiser": "oidn"},
    }
    config.update(changes)
    return config


def committed_capture(name: str, folder: Path) -> Path:
    """A copy in ``folder`` of the synthetic capture ``name`` (tests/data/make_captures.py renders them
    with examples/turntable/make_capture.py; rendering them took five minutes of every run)."""
    shutil.copytree(CAPTURES / name, folder, dirs_exist_ok=True)
    return folder


def write_config(folder: Path, config: dict[str, Any], name: str = "scenario.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def cli(*args: str | Path, check: bool = False, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``bproc-factory ARGS`` in a child process; returns its exit code and output.

    In a test without the ``render`` marker, render/preview/farm are refused and the child cannot
    import bpy (so ``-m "not render"`` stays fast and a missing marker shows up at once)."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    if not _render_marked():
        if args and str(args[0]) in RENDER_COMMANDS:
            raise AssertionError(f"{_running['item'].nodeid} runs `bproc-factory {args[0]}`: mark it "
                                 "@pytest.mark.render")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NO_BPY), env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-m", "bproc_factory", *map(str, args)], env=env,
                            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise AssertionError(f"bproc-factory {' '.join(map(str, args))} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


PEDESTAL_SCRIPT = """
import bpy, sys, os
bpy.ops.wm.read_factory_settings(use_empty=True)
placement = bpy.data.collections.new("bpf_placement")
bpy.context.scene.collection.children.link(placement)
bpy.ops.mesh.primitive_plane_add(size=4.0)
bpy.ops.mesh.primitive_cube_add(size=1.0, location=(0, 0, 0.1))
top = bpy.context.active_object
top.scale = (0.4, 0.4, 0.2)
placement.objects.link(top)
bpy.ops.object.light_add(type="SUN")
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])
os._exit(0)
"""


@pytest.fixture(scope="session")
def pedestal_scene(tmp_path_factory) -> Path:
    """A 40 cm pedestal (top at z = 0.2 m) on a floor: objects on it stay near the camera target."""
    path = tmp_path_factory.mktemp("scenes") / "pedestal.blend"
    subprocess.run([sys.executable, "-c", PEDESTAL_SCRIPT, str(path)], check=True, capture_output=True)
    return path


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> Path:
    """One small dataset (4 images, 2 scenes) rendered once for the label-checking tests."""
    root = tmp_path_factory.mktemp("rendered")
    config = write_config(root, tiny_config())
    cli("render", config, "-o", root / "out", "-n", "4", "--seed", "7", "-q", check=True)
    return root / "out"
