"""Camera maths: intrinsics, look-at poses in OpenCV convention, projection."""
import numpy as np

from bproc_factory.config.camera import CameraConfig
from bproc_factory.sensor import camera


def test_focal_length_in_mm_gives_pixels_and_centred_principal_point():
    K = camera.intrinsics(CameraConfig(resolution=(640, 480), focal_length_mm=35, sensor_width_mm=36))
    assert np.isclose(K[0, 0], 35 / 36 * 640) and K[0, 0] == K[1, 1]
    assert (K[0, 2], K[1, 2]) == (319.5, 239.5)


def test_look_at_puts_the_target_on_the_optical_axis_with_level_horizon():
    eye, target = np.array([1.0, -2.0, 1.5]), np.array([0.0, 0.0, 0.5])
    pose = camera.look_at(eye, target)
    R = pose[:3, :3]
    assert np.allclose(R.T @ R, np.eye(3)) and np.isclose(np.linalg.det(R), 1.0)
    forward = (target - eye) / np.linalg.norm(target - eye)
    assert np.allclose(R[:, 2], forward)
    assert np.isclose(R[2, 0], 0.0)  # image x axis is horizontal
    assert R[2, 1] < 0  # image y axis points down in the world


def test_target_projects_to_the_principal_point_and_up_is_up_in_the_image():
    K = np.array([[100.0, 0, 31.5], [0, 100.0, 23.5], [0, 0, 1]])
    target = np.array([0.2, 0.1, 0.0])
    pose = camera.look_at(target + camera.spherical_offset(2.0, 30.0, 200.0), target)
    uv = camera.project(np.array([target, target + [0, 0, 0.1]]), K, pose)
    assert np.allclose(uv[0], (31.5, 23.5))
    assert uv[1, 1] < uv[0, 1]


def test_roll_rotates_the_image_about_the_optical_axis():
    pose = camera.look_at(np.array([0.0, -2.0, 0.0]), np.zeros(3), roll_deg=90)
    assert np.allclose(pose[:3, 2], [0, 1, 0])
    assert np.allclose(pose[:3, 0], [0, 0, -1], atol=1e-9)


def test_opencv_and_blender_camera_frames_differ_by_a_flip_of_y_and_z():
    pose = camera.look_at(np.array([0.0, -2.0, 1.0]), np.zeros(3))
    blender = camera.opencv_to_blender(pose)
    assert np.allclose(blender[:3, 2], -pose[:3, 2]) and np.allclose(blender[:3, 1], -pose[:3, 1])
