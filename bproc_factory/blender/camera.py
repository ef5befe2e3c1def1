"""The view plans' camera: one plain factory camera, its intrinsics set from a view's render canvas."""
from __future__ import annotations

import bpy

from bproc_factory.blender.bootstrap import api
from bproc_factory.config import CameraConfig
from bproc_factory.plan import ViewPlan


def factory_camera() -> bpy.types.Object:
    """Render through a new plain perspective camera: a designer's camera may carry a parent,
    constraints, depth of field or another rotation mode, any of which would break K and pose."""
    scene = bpy.context.scene
    cam = bpy.data.objects.new("bpf_camera", bpy.data.cameras.new("bpf_camera"))
    cam.data.sensor_fit = "HORIZONTAL"
    scene.collection.objects.link(cam)
    scene.camera = cam
    return cam


def set_intrinsics(camera: bpy.types.Object, camera_cfg: CameraConfig, views: list[ViewPlan], label: bool) -> None:
    """K and size of the views' render canvas (the label canvas for label passes)."""
    canvas = views[0].canvas()
    K, width, height = canvas.label_intrinsics() if label else (canvas.K, canvas.width, canvas.height)
    # BlenderProc derives the lens (mm) from the sensor width and the rendered width: scale the
    # sensor with the canvas so the lens, and so the depth of field, stays the real one.
    camera.data.sensor_width = camera_cfg.sensor_width_mm * width / views[0].width
    api().camera.set_intrinsics_from_K_matrix(K, width, height, *camera_cfg.clip_m)
