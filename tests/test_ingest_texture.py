"""Texture baking (no bpy): each face of a coloured cube gets its colour from the views that see
it, on the right side; the textured mesh reproduces views the bake did not use; a light that turns
with the camera (a turntable's lamps) stays out of the texture; decimation keeps the mesh closed."""

import cv2
import numpy as np
import pytest
import trimesh
from conftest import look_at

from bproc_factory.ingest.hull import Camera, decimate
from bproc_factory.ingest.texture import atlas_size, bake, psnr, render
from bproc_factory.sensor import srgb_encode

HALF = 0.04
# outward normal -> colour (BGR, as frames are)
FACES = {(1, 0, 0): (40, 40, 220), (-1, 0, 0): (220, 60, 40), (0, 1, 0): (40, 200, 60),
         (0, -1, 0): (30, 210, 230), (0, 0, 1): (200, 60, 200), (0, 0, -1): (90, 90, 90)}
K = np.array([[260.0, 0, 95.5], [0, 260.0, 71.5], [0, 0, 1]])


def draw_cube(T: np.ndarray, shape=(144, 192)) -> tuple[np.ndarray, np.ndarray]:
    """The cube seen through K and T, each face flat in its colour (back faces culled), on grey."""
    image = np.full((*shape, 3), 128, np.uint8)
    mask = np.zeros(shape, np.uint8)
    centre = -T[:3, :3].T @ T[:3, 3]
    for normal, colour in FACES.items():
        n = np.array(normal, float)
        if n @ (centre - n * HALF) <= 0:
            continue
        u, v = [np.roll(n, k) for k in (1, 2)]
        corners = [n * HALF + (su * u + sv * v) * HALF for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        cam = np.array(corners) @ T[:3, :3].T + T[:3, 3]
        px = np.round((cam @ K.T)[:, :2] / cam[:, 2:3] * 16).astype(np.int32)
        cv2.fillConvexPoly(image, px, colour, shift=4)
        cv2.fillConvexPoly(mask, px, 1, shift=4)
    return image, mask.astype(bool)


def camera(azimuth: float, elevation: float) -> Camera:
    T = look_at(azimuth, elevation)
    image, mask = draw_cube(T)
    return Camera(K, T, mask, image)


@pytest.fixture(scope="module")
def baked():
    box = trimesh.creation.box(extents=(2 * HALF,) * 3).subdivide().subdivide()
    cams = [camera(az, el) for el in (25, 55) for az in range(0, 360, 30)]
    return box, bake(box, cams, size=256)


def test_each_face_of_a_coloured_cube_is_baked_in_its_own_colour_on_its_own_side(baked):
    box, result = baked
    mesh = result.mesh
    normals = mesh.face_normals
    centres = mesh.triangles_center
    atlas = result.atlas
    for normal, bgr in FACES.items():
        if normal == (0, 0, -1):
            continue  # the underside: no view sees it
        faces = np.nonzero(normals @ np.array(normal, float) > 0.99)[0]
        uv = np.asarray(mesh.visual.uv)[mesh.faces[faces]].mean(axis=1)  # each triangle's UV centre
        x = np.clip((uv[:, 0] * 256).astype(int), 0, 255)
        y = np.clip(((1 - uv[:, 1]) * 256).astype(int), 0, 255)
        got = np.median(atlas[y, x].astype(float), axis=0)
        assert np.abs(got - np.array(bgr[::-1])).max() <= 12, (normal, got, bgr[::-1])
        assert len(faces) and np.allclose(centres[faces] @ np.array(normal, float), HALF)
    assert result.coverage > 0.8  # everything but the underside was seen


def test_the_textured_cube_reproduces_views_the_bake_did_not_use(baked):
    _, result = baked
    for az, el in ((15, 40), (200, 35)):
        held_out = camera(az, el)
        assert psnr(result, held_out) > 20  # the whole silhouette: hard 200-level colour edges on a tiny image
        rgb, covered = render(result, held_out)
        assert (covered & held_out.mask).sum() / held_out.mask.sum() > 0.97
        # away from the cube's edges (where the two rasterisers round differently) it is exact
        edges = cv2.dilate(cv2.Canny(held_out.image, 10, 30), np.ones((3, 3), np.uint8)) > 0
        interior = covered & held_out.mask & ~edges
        error = np.abs(rgb[interior].astype(float) - held_out.image[..., ::-1][interior].astype(float))
        assert interior.sum() > 1000 and error.mean() < 1.0


LAMP = -np.array([0.6, 0.5, 0.62]) / np.linalg.norm([0.6, 0.5, 0.62])  # camera frame: from the upper left
RADIUS = 0.04
ALBEDO = 0.45  # linear


def lit_sphere(azimuth: float, elevation: float) -> Camera:
    """A sphere of one albedo on the turntable's axis, lit by a lamp that stays with the camera:
    linear albedo x (0.2 + 0.8 max(0, n.lamp)), sRGB-encoded like a camera's frame."""
    T = look_at(azimuth, elevation)
    h, w = 144, 192
    xs, ys = np.meshgrid(np.arange(w), np.arange(h))
    rays = np.stack([xs, ys, np.ones_like(xs)], axis=-1).reshape(-1, 3) @ np.linalg.inv(K).T
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    centre = T[:3, 3]  # the sphere's centre is the object frame's origin
    along = rays @ centre
    disc = along ** 2 - (centre @ centre - RADIUS ** 2)
    hit = disc > 0
    normal = rays * (along - np.sqrt(np.maximum(disc, 0)))[:, None] - centre
    normal /= RADIUS
    linear = ALBEDO * (0.2 + 0.8 * np.clip(normal @ LAMP, 0, None))
    grey = np.where(hit, srgb_encode(linear) * 255, 128.0)
    image = np.repeat(np.round(grey).reshape(h, w, 1), 3, axis=2).astype(np.uint8)
    return Camera(K, T, hit.reshape(h, w), image)


def test_a_lamp_that_turns_with_the_camera_stays_out_of_the_texture():
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=RADIUS)
    cams = [lit_sphere(az, el) for el in (20, 45) for az in range(0, 360, 20)]
    bright = [np.percentile(c.image[c.mask][:, 0], q) for c in cams[:1] for q in (5, 95)]
    assert bright[1] > 2 * bright[0]  # each frame shows the sphere from lit to shaded
    result = bake(sphere, cams, size=256)
    texels = result.albedo[..., 0][_baked_texels(result)]
    low, high = np.percentile(texels, [5, 95])
    # one albedo all over, within what second-order harmonics can follow of the lamp's hard terminator
    # (the frames span 5x; a plain average of the views leaves 2.2x between the 5th and 95th percentile)
    assert high / low < 1.35, (low, high)
    held_out = lit_sphere(50, 30)
    assert psnr(result, held_out) > psnr(result, held_out, lit=False) + 10
    assert psnr(result, held_out) > 33


def _baked_texels(result) -> np.ndarray:
    """Texels some view saw (the atlas padding and the underside are excluded)."""
    uv = np.asarray(result.mesh.visual.uv)[result.mesh.faces]
    seen = np.zeros(result.albedo.shape[:2], np.uint8)
    size = result.albedo.shape[0]
    upper = result.mesh.triangles_center[:, 2] > -0.3 * RADIUS  # views from 20 deg up and more see these
    for tri in uv[upper]:
        px = np.round(np.stack([tri[:, 0] * size - 0.5, (1 - tri[:, 1]) * size - 0.5], axis=1) * 16).astype(np.int32)
        cv2.fillConvexPoly(seen, px, 1, shift=4)
    return cv2.erode(seen, np.ones((3, 3), np.uint8)) > 0


def test_decimation_meets_the_face_budget_and_keeps_the_mesh_closed():
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=0.05)  # 20480 faces
    sphere.vertices[:, 2] += 0.05
    small = decimate(sphere, 2000)
    assert len(small.faces) <= 2000 and small.is_watertight and small.is_winding_consistent
    assert abs(small.volume - sphere.volume) / sphere.volume < 0.02
    assert decimate(small, 5000) is small  # already under budget: untouched


def test_atlas_size_follows_how_large_the_object_is_in_the_frames():
    assert atlas_size(8000) == 512  # a 15 cm object in a 480x360 frame
    assert atlas_size(4 * 8000) == 1024  # the same at 720p
    assert atlas_size(10) == 256 and atlas_size(10 ** 8) == 4096
