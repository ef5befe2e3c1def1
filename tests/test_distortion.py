"""Distortion canvas (pure): the warp reproduces OpenCV's forward model and never blends labels."""
import cv2
import numpy as np
import pytest

from bproc_factory.sensor.distortion import DistortionError, distort_pixels, make_canvas, warp_image, warp_labels

K = np.array([[300.0, 0, 159.5], [0, 300.0, 119.5], [0, 0, 1]])
STRONG = [-0.32, 0.12, 0.0008, -0.0005, -0.02]


def test_no_distortion_is_the_identity():
    canvas = make_canvas(K, 320, 240, [0, 0, 0, 0, 0])
    assert canvas.map_x is None and (canvas.width, canvas.height) == (320, 240)
    img = np.random.default_rng(0).random((240, 320, 3)).astype(np.float32)
    assert warp_image(canvas, img) is img


@pytest.mark.parametrize("coeffs, model", [(STRONG, "brown_conrady"), ([0.15, 0.05, 0, 0, 0], "brown_conrady"),
                                           ([0.05, 0.01, 0.0, 0.0], "fisheye")])
def test_each_output_pixel_samples_where_opencv_projects_its_ray(coeffs, model):
    canvas = make_canvas(K, 320, 240, coeffs, model)
    # a canvas pixel (u, v) is the pinhole ray ((u - cx') / fx, (v - cy') / fy)
    u, v = canvas.map_x.ravel(), canvas.map_y.ravel()
    rays = np.stack([(u - canvas.K[0, 2]) / canvas.K[0, 0], (v - canvas.K[1, 2]) / canvas.K[1, 1]], axis=1)
    back = distort_pixels(rays.astype(np.float64), K, coeffs, model)
    grid = np.stack(np.meshgrid(np.arange(320), np.arange(240)), axis=-1).reshape(-1, 2)
    assert np.abs(back - grid).max() < 0.02


def test_a_barrel_lens_needs_a_larger_canvas_and_the_label_pass_a_finer_one():
    canvas = make_canvas(K, 320, 240, STRONG)
    assert canvas.width > 320 and canvas.height > 240
    K2, w2, h2 = canvas.label_intrinsics()
    assert (w2, h2) == (2 * canvas.width, 2 * canvas.height) and K2[0, 0] == 2 * canvas.K[0, 0]
    assert K2[0, 2] == (canvas.K[0, 2] + 0.5) * 2 - 0.5


def test_warped_labels_keep_ids_exact():
    canvas = make_canvas(K, 320, 240, STRONG)
    _, w2, h2 = canvas.label_intrinsics()
    labels = np.zeros((h2, w2), np.uint16)
    cv2.circle(labels, (w2 // 2, h2 // 2), 200, 7, -1)
    cv2.rectangle(labels, (50, 50), (300, 200), 65000, -1)
    out = warp_labels(canvas, labels)
    assert out.shape == (240, 320) and set(np.unique(out)) <= {0, 7, 65000}


def test_non_invertible_distortion_is_refused():
    with pytest.raises(DistortionError, match="not invertible over the 320x240 image"):
        make_canvas(K, 320, 240, [-1.5, 0.8, 0, 0, 0])
