"""A texture for the carved mesh: a UV atlas (xatlas) holding the object's colour without the capture's
light. On a turntable the lamps stay with the camera while the object turns, so a face darkens as it
turns away; the bake models each observation as albedo x shading, the shading a second-order
spherical-harmonic function of the surface normal in the camera's frame (one light for the whole
capture), and solves both by alternating least squares. The held-out figure renders the textured
mesh under that light into views the bake did not use and compares them with the frames (PSNR)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import trimesh
import xatlas
from PIL import Image

from bproc_factory.ingest.hull import Camera, project, sample
from bproc_factory.sensor import srgb_decode, srgb_encode

DEPTH_TOLERANCE_M = 0.004  # a texel is visible when no surface lies this much in front of it
EDGE_PX = 2.0  # observations within this of the silhouette's edge count less (they mix in background)
MIN_FACING = 0.05  # cosine below which a view sees a surface too obliquely to use
LIGHT_ROUNDS = 6
LIGHT_SAMPLES_PER_VIEW = 4000
BAKE_VIEWS = 36  # views baked from, spread over the capture: 50 views scored 0.04 dB more, for 1.4x the time
GUTTER_TEXELS = 4


@dataclass(frozen=True)
class BakedTexture:
    """The mesh with UVs and its texture (trimesh TextureVisuals), the albedo atlas (linear RGB
    floats, and sRGB bytes as written), the capture's light and how much of the surface was seen."""

    mesh: trimesh.Trimesh
    albedo: np.ndarray
    atlas: np.ndarray
    light: np.ndarray  # 9 x 3 spherical-harmonic coefficients over camera-frame normals
    coverage: float


@dataclass(frozen=True)
class _Observations:
    """What the views saw of the atlas, one row per (view, texel): texel index, weight, linear RGB
    and the spherical-harmonic basis of the camera-frame normal; ``view`` says whose row it is."""

    texels: np.ndarray
    weight: np.ndarray
    rgb: np.ndarray
    basis: np.ndarray
    view: np.ndarray | None = None  # filled in when views are concatenated


def bake(mesh: trimesh.Trimesh, cameras: list[Camera], size: int = 1024, camera_light: bool = True) -> BakedTexture:
    """Unwrap ``mesh`` and bake its albedo from ``cameras`` (metric, in the mesh's frame), fitting
    out a light that moves with the camera when ``camera_light`` (a turntable; when the light
    stays put, as walking around, it is in every view alike and stays in the texture). Vertices
    are split along UV seams (as glTF stores them); their normals stay the smooth ones. At most
    BAKE_VIEWS views are used, evenly spread over ``cameras`` (in capture order)."""
    if len(cameras) > BAKE_VIEWS:
        cameras = [cameras[k] for k in np.unique(np.round(np.linspace(0, len(cameras) - 1, BAKE_VIEWS)).astype(int))]
    vmap, faces, uvs = xatlas.parametrize(np.asarray(mesh.vertices, np.float32), np.asarray(mesh.faces, np.uint32))
    verts, normals = np.asarray(mesh.vertices)[vmap], np.asarray(mesh.vertex_normals)[vmap]
    faces = faces.astype(np.int64)
    uv_triangles = uvs_to_pixels(uvs, size)[faces]
    texel_face = face_ids(uv_triangles, (size, size), np.arange(len(faces)))
    ys, xs = np.nonzero(texel_face >= 0)
    face_of = texel_face[ys, xs]
    w = barycentric(uv_triangles[face_of], np.stack([xs, ys], axis=1).astype(np.float64))
    points = np.einsum("nk,nkd->nd", w, verts[faces[face_of]])
    texel_normals = _unit(np.einsum("nk,nkd->nd", w, normals[faces[face_of]]))
    face_normals = trimesh.Trimesh(verts, faces, process=False).face_normals
    seen_by = _concatenate([_observe(cam, verts, faces, face_normals, points, texel_normals) for cam in cameras])
    light = _even_light()
    albedo = _albedo(seen_by, len(points), light)
    rng = np.random.default_rng(0)
    for _ in range(LIGHT_ROUNDS if camera_light else 0):
        light = _fit_light(seen_by, albedo, rng)
        albedo = _albedo(seen_by, len(points), light)
    seen = np.zeros(len(points), bool)
    seen[seen_by.texels] = True
    grid, filled = np.zeros((size, size, 3)), np.zeros((size, size), bool)
    grid[ys[seen], xs[seen]] = albedo[seen]
    filled[ys[seen], xs[seen]] = True
    grid = _pad(grid, filled, fallback=albedo[seen].mean(axis=0) if seen.any() else np.full(3, 0.5))
    atlas = np.round(srgb_encode(np.clip(grid, 0, 1)) * 255).astype(np.uint8)
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=Image.fromarray(atlas), metallicFactor=0.0,
                                                   roughnessFactor=0.8)
    textured = trimesh.Trimesh(verts, faces, vertex_normals=normals, process=False,
                               visual=trimesh.visual.TextureVisuals(uv=uvs, material=material))
    return BakedTexture(textured, grid.astype(np.float32), atlas, light, float(seen.mean()) if len(seen) else 0.0)


def atlas_size(largest_mask_px: int) -> int:
    """Texels per side that hold the surface at about twice the frames' linear resolution: a view
    shows roughly a quarter of the surface and xatlas fills about 60 % of the atlas (a power of two,
    256 to 4096; 512 for a 480x360 capture of a 15 cm object, where 1024 scored the same PSNR)."""
    side = 2.0 * math.sqrt(4.0 * largest_mask_px / 0.6)
    return int(min(4096, max(256, 2 ** math.ceil(math.log2(max(side, 1.0))))))


def sh_basis(n: np.ndarray) -> np.ndarray:
    """The nine real spherical-harmonic functions up to order 2 (unnormalised) at unit vectors."""
    x, y, z = n[:, 0], n[:, 1], n[:, 2]
    return np.stack([np.ones_like(x), x, y, z, x * y, y * z, 3 * z * z - 1, x * z, x * x - y * y], axis=1)


def uvs_to_pixels(uvs: np.ndarray, size: int) -> np.ndarray:
    """Atlas pixel coordinates of UVs (origin bottom-left, as trimesh and Blender hold them)."""
    return np.stack([uvs[:, 0] * size - 0.5, (1.0 - uvs[:, 1]) * size - 0.5], axis=1)


def face_ids(triangles: np.ndarray, shape: tuple[int, int], order: np.ndarray) -> np.ndarray:
    """Which triangle covers each pixel centre (-1: none), drawn in ``order`` (later ones win);
    ``triangles`` is F x 3 x 2 in pixel coordinates."""
    ids = np.zeros(shape, np.int32)
    fixed = np.round(triangles * 16).astype(np.int32)  # 4 bits of sub-pixel precision
    for f in order:
        cv2.fillConvexPoly(ids, fixed[f], int(f) + 1, lineType=cv2.LINE_8, shift=4)
    return ids - 1


def barycentric(tri: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Barycentric weights (N x 3) of points ``p`` (N x 2) in triangles ``tri`` (N x 3 x 2), clipped
    to the triangle (a pixel centre just outside a drawn edge counts as on it)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    v0, v1, v2 = b - a, c - a, p - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    den = np.where(np.abs(den) < 1e-12, 1e-12, den)
    wb = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
    wc = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
    w = np.clip(np.stack([1 - wb - wc, wb, wc], axis=1), 0, None)
    return w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class _Surface:
    """A view of the mesh: the front face seen at each pixel (-1: none) and the projected vertices."""

    ids: np.ndarray
    uv: np.ndarray
    plane_normal: np.ndarray  # per face, camera frame
    plane_offset: np.ndarray

    def depth(self, K: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Depth of the seen surface along the rays through pixels (x, y) (inf where none)."""
        f = np.maximum(self.ids[y, x], 0)
        rays = np.stack([x, y, np.ones_like(x)], axis=1).astype(np.float64) @ np.linalg.inv(K).T
        along = np.sum(self.plane_normal[f] * rays, axis=1)
        z = self.plane_offset[f] / np.where(np.abs(along) < 1e-9, 1e-9, along)
        return np.where(self.ids[y, x] >= 0, z, np.inf)


def _surface(cam: Camera, verts: np.ndarray, faces: np.ndarray, face_normals: np.ndarray) -> _Surface:
    """Front faces drawn far to near (a closed mesh's back faces are hidden anyway)."""
    R, t = cam.sheet_to_camera[:3, :3], cam.sheet_to_camera[:3, 3]
    in_cam = verts @ R.T + t
    uv, _ = project(cam.K, cam.sheet_to_camera, verts)
    n_cam = face_normals @ R.T
    centroid = in_cam[faces].mean(axis=1)
    front = np.nonzero((np.sum(n_cam * centroid, axis=1) < 0) & (in_cam[faces][:, :, 2] > 0).all(axis=1))[0]
    ids = face_ids(uv[faces], cam.mask.shape, front[np.argsort(-centroid[front, 2])])
    return _Surface(ids, uv, n_cam, np.sum(n_cam * in_cam[faces[:, 0]], axis=1))


def _observe(cam: Camera, verts: np.ndarray, faces: np.ndarray, face_normals: np.ndarray, points: np.ndarray,
             normals: np.ndarray) -> _Observations:
    """The texels this view sees (in frame, unoccluded, inside the silhouette and facing it),
    weighted by how squarely it sees them and how far they lie inside the silhouette."""
    R = cam.sheet_to_camera[:3, :3]
    facing = np.sum(normals * _unit(-R.T @ cam.sheet_to_camera[:3, 3] - points), axis=1)
    k = np.nonzero(facing > MIN_FACING)[0]  # the back half of the surface is not projected at all
    uv, depth = project(cam.K, cam.sheet_to_camera, points[k])
    h, w = cam.mask.shape
    x, y = np.round(uv[:, 0]).astype(int), np.round(uv[:, 1]).astype(int)
    j = np.nonzero((x >= 0) & (x < w) & (y >= 0) & (y < h) & (depth > 0))[0]
    j = j[cam.mask[y[j], x[j]]]
    surface = _surface(cam, verts, faces, face_normals)
    j = j[depth[j] <= surface.depth(cam.K, x[j], y[j]) + DEPTH_TOLERANCE_M]
    inside = cv2.distanceTransform(cam.mask.astype(np.uint8), cv2.DIST_L2, 3)[y[j], x[j]]
    weight = facing[k[j]] * np.clip((inside - 0.5) / EDGE_PX, 0, 1)
    j = j[weight > 0]
    rgb = srgb_decode(sample(cam.image, uv[j], outside=None)[:, ::-1].astype(np.float64) / 255.0)
    return _Observations(k[j], weight[weight > 0].astype(np.float32), rgb.astype(np.float32),
                         sh_basis(normals[k[j]] @ R.T).astype(np.float32))


def _concatenate(views: list[_Observations]) -> _Observations:
    """All views' observations as one set of rows (the solver's sums become bincounts)."""
    return _Observations(*(np.concatenate([getattr(o, f) for o in views]) for f in ("texels", "weight", "rgb", "basis")),
                         np.repeat(np.arange(len(views), dtype=np.int32), [len(o.texels) for o in views]))


def _albedo(obs: _Observations, n: int, light: np.ndarray) -> np.ndarray:
    """Each texel's albedo given the light: the weighted least-squares ratio of seen to shading."""
    shading = obs.basis @ light.astype(np.float32)
    num = np.stack([np.bincount(obs.texels, obs.weight * obs.rgb[:, c] * shading[:, c], n) for c in range(3)], axis=1)
    den = np.stack([np.bincount(obs.texels, obs.weight * shading[:, c] ** 2, n) for c in range(3)], axis=1)
    return np.where(den > 1e-12, num / np.maximum(den, 1e-12), 0.0)


def _fit_light(obs: _Observations, albedo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The light (per colour channel) that best explains a sample of observations (as many from each
    view) given the albedo, scaled so that the shading averages 1 (the albedo keeps the capture's
    brightness)."""
    if not len(obs.view):
        return _even_light()
    _, starts, counts = np.unique(obs.view, return_index=True, return_counts=True)
    pick = np.concatenate([s + rng.choice(c, min(LIGHT_SAMPLES_PER_VIEW, c), replace=False)
                           for s, c in zip(starts, counts)])
    B, A, Y, W = obs.basis[pick].astype(np.float64), albedo[obs.texels[pick]], obs.rgb[pick], obs.weight[pick]
    root = np.sqrt(W)[:, None]
    light = np.stack([np.linalg.lstsq(B * A[:, c:c + 1] * root, Y[:, c] * root[:, 0], rcond=None)[0]
                      for c in range(3)], axis=1)
    mean_shading = float((B @ light).mean())
    return light / mean_shading if mean_shading > 1e-9 else _even_light()


def _even_light() -> np.ndarray:
    """Shading 1 from every direction."""
    light = np.zeros((9, 3))
    light[0] = 1.0
    return light


def _pad(atlas: np.ndarray, filled: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Grow the baked colours a few texels into the gaps between charts (no black bleeds in at seams
    when the texture is filtered); texels no view saw take their neighbours' colour or the mean."""
    out, known = atlas.copy(), filled.copy()
    kernel = np.ones((3, 3), np.float64)
    for _ in range(GUTTER_TEXELS * 4):
        if known.all():
            break
        total = cv2.filter2D(out * known[..., None], -1, kernel, borderType=cv2.BORDER_CONSTANT)
        count = cv2.filter2D(known.astype(np.float64), -1, kernel, borderType=cv2.BORDER_CONSTANT)
        grow = (~known) & (count > 0)
        out[grow] = total[grow] / count[grow, None]
        known |= grow
    out[~known] = fallback
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def render(baked: BakedTexture, cam: Camera, lit: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The textured mesh seen by ``cam`` (RGB uint8) under the capture's light (or its bare albedo),
    and where the mesh covers the frame."""
    mesh = baked.mesh
    verts, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    surface = _surface(cam, verts, faces, mesh.face_normals)
    ys, xs = np.nonzero(surface.ids >= 0)
    tri = faces[surface.ids[ys, xs]]
    w = barycentric(surface.uv[tri], np.stack([xs, ys], axis=1).astype(np.float64))
    size = baked.albedo.shape[0]
    colour = sample(baked.albedo, np.einsum("nk,nkd->nd", w, uvs_to_pixels(np.asarray(mesh.visual.uv), size)[tri]),
                    outside=None).astype(np.float64)
    if lit:
        normals = _unit(np.einsum("nk,nkd->nd", w, np.asarray(mesh.vertex_normals)[tri]))
        colour = colour * (sh_basis(normals @ cam.sheet_to_camera[:3, :3].T) @ baked.light)
    out = np.zeros((*surface.ids.shape, 3), np.uint8)
    out[ys, xs] = np.round(srgb_encode(np.clip(colour, 0, 1)) * 255)
    return out, surface.ids >= 0


def psnr(baked: BakedTexture, cam: Camera, lit: bool = True) -> float:
    """PSNR (dB) of the textured mesh rendered into ``cam`` against its frame, where both the mask
    and the mesh cover it."""
    rgb, covered = render(baked, cam, lit)
    inside = covered & cam.mask
    if not inside.any():
        return 0.0
    diff = rgb[inside].astype(np.float64) - cam.image[..., ::-1][inside].astype(np.float64)
    mse = float(np.mean(diff ** 2))
    return 99.0 if mse == 0 else 10.0 * float(np.log10(255.0 ** 2 / mse))
