"""Pick the Cycles device: ``auto`` prefers OptiX, then CUDA, then the CPU; a GPU kind that was
asked for by name and is missing is an error."""
from __future__ import annotations

import bpy

from bproc_factory.config import ConfigError

GPU_KINDS = ("OPTIX", "CUDA")


def _gpus(kind: str) -> list[bpy.types.bpy_struct]:
    """The devices of ``kind`` Cycles can use here (none when the build or machine lacks it)."""
    prefs = bpy.context.preferences.addons["cycles"].preferences
    try:
        prefs.compute_device_type = kind
    except TypeError:  # this Blender build does not know the kind
        return []
    prefs.refresh_devices()
    return [d for d in prefs.devices if d.type == kind]


def use_device(requested: str) -> str:
    """Set the scene to render on ``requested`` (auto, cpu, cuda or optix); returns the device
    used, in words."""
    scene = bpy.context.scene
    kinds = GPU_KINDS if requested == "auto" else () if requested == "cpu" else (requested.upper(),)
    for kind in kinds:
        devices = _gpus(kind)
        if devices:
            for d in bpy.context.preferences.addons["cycles"].preferences.devices:
                d.use = d.type == kind
            scene.cycles.device = "GPU"
            return f"{kind} ({', '.join(d.name for d in devices)})"
    if requested not in ("auto", "cpu"):
        raise ConfigError(f"--device {requested}: no {requested.upper()} device found by Cycles on this "
                          "machine (driver missing, or no such GPU); use --device auto to fall back to the CPU")
    bpy.context.preferences.addons["cycles"].preferences.compute_device_type = "NONE"
    scene.cycles.device = "CPU"
    return "CPU"
