"""Keyframes that put a scene's views into one Cycles call: view ``k`` is frame ``2k`` (in the
amodal pass, frame ``2k`` is the ``k``-th (view, shown instances) pair).

At frame ``2k`` the camera has view ``k``'s pose (and depth of field); with motion blur the camera
and the objects also get keys half a frame either side, displaced by their motion over half the
shutter time, so a shutter of one frame spans exactly the exposure.
"""
from __future__ import annotations

import bpy
import numpy as np
from mathutils import Matrix

from bproc_factory.plan import ObjectPlan, ViewPlan
from bproc_factory.sensor import opencv_to_blender

FRAME_STRIDE = 2


def frame_of(k: int) -> int:
    """The frame of a render call's ``k``-th view."""
    return FRAME_STRIDE * k


def _rotation(axis: list[float], degrees: float) -> np.ndarray:
    return np.asarray(Matrix.Rotation(np.radians(degrees), 4, axis))


def _key(obj: bpy.types.Object, matrix: np.ndarray, frame: float) -> None:
    """Key location and rotation at ``frame``; Euler angles stay continuous with the previous key.
    (Setting ``matrix_world`` instead would leave the unkeyed scale a few ulps off 1 after the last
    pose, making a view's pixels depend on the other views in its render call.)"""
    mat = Matrix(matrix.tolist())
    previous = obj.rotation_euler.copy()
    obj.location = mat.to_translation()
    obj.rotation_euler = mat.to_euler("XYZ", previous)
    obj.keyframe_insert("location", frame=frame)
    obj.keyframe_insert("rotation_euler", frame=frame)


def key_views(camera: bpy.types.Object, views: list[ViewPlan]) -> None:
    """Camera poses (and depth of field, motion) for the views, at frames 0, 2, 4..."""
    camera.rotation_mode = "XYZ"
    for k, view in enumerate(views):
        frame = frame_of(k)
        pose = opencv_to_blender(view.cam_to_world)
        motion = view.motion
        if motion:
            t = motion["shutter_s"] / 2
            shift = np.asarray(motion["camera_velocity_mps"]) * t
            for sign in (-1, 1):
                moved = _rotation(motion["camera_rotation_axis"], sign * motion["camera_rotation_dps"] * t) @ pose
                moved[:3, 3] = pose[:3, 3] + sign * shift
                _key(camera, moved, frame + sign * 0.5)
        _key(camera, pose, frame)
        if view.dof:
            dof = camera.data.dof
            dof.focus_distance = view.dof["focus_distance_m"]
            dof.aperture_fstop = view.dof["f_stop"]
            for f in ((frame - 0.5, frame, frame + 0.5) if motion else (frame,)):
                dof.keyframe_insert("focus_distance", frame=f)
                dof.keyframe_insert("aperture_fstop", frame=f)
    _linear(camera.animation_data)
    if camera.data.animation_data:
        _linear(camera.data.animation_data)
    scene = bpy.context.scene
    scene.frame_start = 0
    scene.frame_end = frame_of(len(views) - 1) + 1  # BlenderProc renders [start, end - 1]
    scene.frame_step = FRAME_STRIDE


def key_amodal_frames(camera: bpy.types.Object, objects: dict[int, bpy.types.Object],
                      frames: list[tuple[ViewPlan, list[int]]]) -> None:
    """Frame ``k`` of the amodal pass: the camera at its view's pose, only its instances shown."""
    camera.rotation_mode = "XYZ"
    for k, (view, shown) in enumerate(frames):
        _key(camera, opencv_to_blender(view.cam_to_world), frame_of(k))
        for inst, obj in objects.items():
            obj.hide_render = inst not in shown
            obj.keyframe_insert("hide_render", frame=frame_of(k))
    scene = bpy.context.scene
    scene.frame_start = 0
    scene.frame_end = frame_of(len(frames) - 1) + 1
    scene.frame_step = FRAME_STRIDE


def key_object_motion(objects: dict[int, bpy.types.Object], plans: tuple[ObjectPlan, ...],
                      views: list[ViewPlan]) -> None:
    """Objects moving with the views' object velocity during each exposure (if any)."""
    if not any(v.motion and any(v.motion["object_velocity_mps"]) for v in views):
        return
    for plan in plans:
        obj = objects[plan.instance_id]
        for k, view in enumerate(views):
            velocity = np.asarray(view.motion["object_velocity_mps"] if view.motion else [0.0, 0.0, 0.0])
            t = view.motion["shutter_s"] / 2 if view.motion else 0.0
            for sign in (-1, 0, 1):
                moved = plan.obj_to_world.copy()
                moved[:3, 3] += sign * velocity * t
                obj.matrix_world = Matrix(moved.tolist())
                obj.keyframe_insert("location", frame=frame_of(k) + sign * 0.5)
        _linear(obj.animation_data)


def _linear(animation_data: bpy.types.AnimData | None) -> None:
    if animation_data is None or animation_data.action is None:
        return
    for fcurve in animation_data.action.fcurves:
        for key in fcurve.keyframe_points:
            key.interpolation = "LINEAR"


def clear_keys(camera: bpy.types.Object, objects: list[bpy.types.Object]) -> None:
    """Forget the keys of the previous render call, and the camera's rotation: the next keys'
    Euler angles are made continuous from zero, not from whatever was rendered before."""
    for obj in [camera, camera.data, *objects]:
        obj.animation_data_clear()
    camera.rotation_euler = (0.0, 0.0, 0.0)
    bpy.context.scene.frame_start = 0
    bpy.context.scene.frame_end = 0
