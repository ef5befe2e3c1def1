"""Turntable cameras without markers, by structure-from-motion (``pycolmap``, CPU).

A fixed camera films an object turning on a turntable; in the object's frame that is a camera
circling the object. Features are taken only inside the object masks (the static background would
pull every frame to the same pose), matched between frames at most a quarter turn apart (wider
pairs on symmetric objects verify as false matches half a turn apart) and reconstructed with one
shared pinhole camera. A final bundle adjustment under the turntable model (one fixed camera, one
axis, one angle per frame) starts from the SfM solution and from its depth-reversed twin, which
weak perspective allows on a small object; the twin whose upright camera looks down wins.

Poses come out in an object frame: z along the turntable axis (up), origin on the axis at the
height of the lowest sparse points, x towards the first frame's camera, in SfM units (the caller
scales them to metres). Measured on a 480x360, 60-frame synthetic capture (shared notes):
0.40 deg mean / 1.41 deg max angle error in 29 s; 30 or fewer frames, or 240x180 frames, are not
reliable. COLMAP keeps the focal length fixed (too weakly observed between neighbouring frames);
the turntable fit frees it, where the whole turn observes it: from the assumed 64 degree field of
view, 11 % short, it comes to within 1-3 % (benchmark), and the object's proportions with it.
"""
from __future__ import annotations

import math
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

MIN_REGISTERED = 3
MIN_POINTS = 50
MAX_FIT_POINTS = 1000
WORK_SIZE = 640  # frames are matched at most this wide: larger ones cost time, not accuracy
MAX_FOCAL_CHANGE = 1.5  # a turntable fit that moves the focal length further than this did not observe it
SIGHTING_MAX_ERROR_PX = 2.0  # observations reprojecting closer than this (at the working size) are sightings


class SfmFailed(Exception):
    """No usable reconstruction; the message says why in the user's terms."""


@dataclass
class SfmView:
    object_to_camera: np.ndarray  # 4 x 4, OpenCV camera; object frame in SfM units
    angle_deg: float  # turntable turn since the first registered frame (counter-clockwise seen from +z)
    residual_mean_px: float
    residual_max_px: float
    points: int  # observations of sparse points
    seen: np.ndarray = field(default_factory=lambda: np.zeros(0, int))  # indices into SfmCameras.points
    # of the points this frame saw (within SIGHTING_MAX_ERROR_PX): the space between them and the camera is empty


@dataclass
class SfmCameras:
    K: np.ndarray  # 3 x 3, OpenCV pixel convention
    views: dict[int, SfmView]  # keyed by the caller's frame keys
    unregistered: list[int]
    points: np.ndarray  # N x 3 sparse points in the object frame (SfM units)
    depth_reversed: bool  # SfM gave the mirrored twin and the turntable fit corrected it
    seconds: float = 0.0
    strays: list[int] = field(default_factory=list)  # registered, but off the camera's path: left out
    warnings: list[str] = field(default_factory=list)


def turntable_cameras(images: list[np.ndarray], masks: list[np.ndarray], keys: list[int], focal_px: float,
                      *, refine_focal: bool = False, threads: int = 2, seed: int = 0) -> SfmCameras:
    """Cameras for turntable frames (BGR, one size, in capture order) from their object masks
    (True = object and anything turning with it). ``focal_px`` is held fixed unless
    ``refine_focal``, when the turntable fit estimates it from there. Raises SfmFailed."""
    t0 = time.perf_counter()
    solved = _colmap(images, masks, focal_px, window_pairs(len(images)), threads, seed)
    tracks = solved.tracks.longest(MAX_FIT_POINTS)
    cameras = _turntable_fit(tracks, solved.focal, solved.principal, solved.err / 2, refine_focal)
    if refine_focal and abs(math.log(cameras.K[0, 0] / solved.focal)) > math.log(MAX_FOCAL_CHANGE):
        drifted = cameras.K[0, 0] / solved.focal
        cameras = _turntable_fit(tracks, solved.focal, solved.principal, solved.err / 2)
        cameras.warnings.append(f"the turntable fit could not measure the focal length (it drifted to {drifted:.2f}x "
                                "the starting guess); the guess is kept: pass --focal-px")
    return _in_frame_pixels(cameras, solved, keys, len(images), t0)


def orbit_cameras(images: list[np.ndarray], keys: list[int], focal_px: float, *, refine_focal: bool = False,
                  threads: int = 2, seed: int = 0) -> SfmCameras:
    """Cameras for a walk-around (a camera carried around a still object, at one or more heights):
    full frames, since everything is still, every pair of frames matched (rings at different heights
    see the same side far apart in the clip), and a free pose per frame. Raises SfmFailed."""
    t0 = time.perf_counter()
    n = len(images)
    solved = _colmap(images, None, focal_px, [(a, b) for a in range(n) for b in range(a + 1, n)], threads, seed,
                     refine_focal)
    cameras = _orbit_frame(solved.tracks, solved.focal, solved.principal)
    return _in_frame_pixels(cameras, solved, keys, n, t0)


@dataclass
class _Solved:
    """A COLMAP reconstruction as arrays, at the working size (``shrink`` x the frames')."""

    tracks: _Tracks
    focal: float
    principal: tuple[float, float]
    err: float  # the pixel threshold used
    shrink: float


def _colmap(images: list[np.ndarray], masks: list[np.ndarray] | None, focal_px: float,
            pairs: list[tuple[int, int]], threads: int, seed: int, refine_focal: bool = False) -> _Solved:
    """COLMAP on the frames (features only inside ``masks`` when given), matching ``pairs``, with
    one pinhole camera whose focal length starts at ``focal_px`` and stays fixed unless
    ``refine_focal``; then a robust bundle adjustment."""
    import pycolmap

    pycolmap.logging.minloglevel = 2  # glog: errors only
    pycolmap.logging.stderrthreshold = 2
    pycolmap.set_random_seed(seed)
    shrink = min(1.0, WORK_SIZE / max(images[0].shape[:2]))
    if shrink < 1.0:
        images = [cv2.resize(im, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA) for im in images]
        if masks is not None:
            masks = [cv2.resize(np.asarray(m, np.uint8), (images[0].shape[1], images[0].shape[0]),
                                interpolation=cv2.INTER_NEAREST) for m in masks]
        focal_px *= shrink
    h, w = images[0].shape[:2]
    # COLMAP's pixel thresholds suit megapixel photos; scaled down so small frames still tell depth
    err = 4.0 * min(1.0, max(0.25, max(w, h) / 1000.0))
    tmp = Path(tempfile.mkdtemp(prefix="bproc_sfm_"))
    try:
        names = [f"{k:05d}.png" for k in range(len(images))]
        for d in ("images", "masks", "sparse"):
            (tmp / d).mkdir()
        for k, (name, image) in enumerate(zip(names, images)):
            cv2.imwrite(str(tmp / "images" / name), image)
            if masks is not None:  # 0 = no keypoints
                cv2.imwrite(str(tmp / "masks" / f"{name}.png"), np.asarray(masks[k], np.uint8) * 255)
        db = tmp / "database.db"
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = "SIMPLE_PINHOLE"
        if masks is not None:
            reader.mask_path = str(tmp / "masks")
        reader.camera_params = f"{focal_px},{w / 2},{h / 2}"  # COLMAP: pixel centres at +0.5
        extraction = pycolmap.FeatureExtractionOptions()
        extraction.num_threads = threads
        extraction.use_gpu = False
        extraction.sift.max_num_features = 4096
        extraction.sift.domain_size_pooling = True  # DSP-SIFT + affine shape halved the angle error
        extraction.sift.estimate_affine_shape = True
        pycolmap.extract_features(db, tmp / "images", image_names=names, camera_mode=pycolmap.CameraMode.SINGLE,
                                  reader_options=reader, extraction_options=extraction, device=pycolmap.Device.cpu)
        matching = pycolmap.FeatureMatchingOptions()
        matching.num_threads = threads
        matching.use_gpu = False
        verify = pycolmap.TwoViewGeometryOptions()
        # a small, distant object moves almost like a plane: by default COLMAP labels neighbouring
        # frames planar and will not start from them; let E win unless H explains strictly more
        verify.max_H_inlier_ratio = 1.0
        verify.ransac.max_error = err
        verify.ransac.random_seed = seed
        (tmp / "pairs.txt").write_text("".join(f"{names[a]} {names[b]}\n" for a, b in pairs))
        pairing = pycolmap.ImportedPairingOptions()
        pairing.match_list_path = str(tmp / "pairs.txt")
        pycolmap.match_image_pairs(db, matching_options=matching, pairing_options=pairing,
                                   verification_options=verify, device=pycolmap.Device.cpu)
        opts = pycolmap.IncrementalPipelineOptions()
        opts.num_threads = threads
        opts.random_seed = seed
        opts.multiple_models = False
        opts.extract_colors = False
        opts.min_model_size = MIN_REGISTERED
        opts.min_num_matches = 10
        opts.ba_refine_focal_length = refine_focal
        opts.ba_refine_principal_point = False
        opts.ba_refine_extra_params = False
        opts.mapper.abs_pose_refine_focal_length = refine_focal
        opts.mapper.init_min_num_inliers = 20
        opts.mapper.init_min_tri_angle = 8.0  # default 16: a quarter-turn window rarely gives that much parallax
        opts.mapper.abs_pose_min_num_inliers = 10
        opts.mapper.init_max_error = err
        opts.mapper.abs_pose_max_error = 3 * err
        opts.mapper.filter_max_reproj_error = err
        opts.triangulation.merge_max_reproj_error = err
        opts.triangulation.complete_max_reproj_error = err
        reconstructions = pycolmap.incremental_mapping(db, tmp / "images", tmp / "sparse", options=opts)
    except (RuntimeError, ValueError) as exc:  # COLMAP's checks surface as these
        raise SfmFailed(f"structure-from-motion failed ({exc})") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    where = "on the object " if masks is not None else ""
    if not reconstructions:
        raise SfmFailed(f"structure-from-motion matched too few features {where}between frames")
    rec = max(reconstructions.values(), key=lambda r: r.num_reg_images())
    if rec.num_reg_images() < MIN_REGISTERED:
        raise SfmFailed(f"structure-from-motion registered only {rec.num_reg_images()} frames")
    ba = pycolmap.BundleAdjustmentOptions()
    ba.print_summary = False
    ba.refine_focal_length = refine_focal
    ba.refine_principal_point = False
    ba.refine_extra_params = False
    ba.ceres.loss_function_type = pycolmap.LossFunctionType.CAUCHY
    ba.ceres.loss_function_scale = err / 2
    ba.ceres.solver_options.num_threads = threads
    pycolmap.bundle_adjustment(rec, ba)
    tracks = _Tracks.of(rec)
    if len(tracks.points) < MIN_POINTS:
        raise SfmFailed(f"structure-from-motion triangulated only {len(tracks.points)} points {where}".rstrip())
    camera = next(iter(rec.cameras.values()))
    return _Solved(tracks, float(camera.params[0]), (w / 2, h / 2), err, shrink)


def _in_frame_pixels(cameras: SfmCameras, solved: _Solved, keys: list[int], n: int, t0: float) -> SfmCameras:
    """Cameras back at the frames' size (pixel centres at +0.5 in both) and keyed by frame."""
    if solved.shrink < 1.0:
        cameras.K = np.diag([1 / solved.shrink, 1 / solved.shrink, 1.0]) @ (cameras.K + _HALF) - _HALF
        for v in cameras.views.values():
            v.residual_mean_px /= solved.shrink
            v.residual_max_px /= solved.shrink
    cameras.unregistered = [keys[i] for i in range(n) if i not in cameras.views and i not in cameras.strays]
    cameras.strays = [keys[i] for i in cameras.strays]
    cameras.views = {keys[i]: v for i, v in cameras.views.items()}
    cameras.seconds = time.perf_counter() - t0
    return cameras


def check_turning(cameras: SfmCameras, spread: float = 10.0, noise_deg: float = 5.0) -> None:
    """A turntable turns one way at a speed that changes gradually: no step between registered
    frames may go back (beyond ``noise_deg``; a pause is fine) or jump ahead by more than
    ``spread`` times the median step per frame. A repetitive or symmetric pattern matched to the
    wrong side breaks this. Views are keyed by frame number, so steps over skipped frames count
    for as many frames."""
    order = sorted(cameras.views)
    angles = np.radians([cameras.views[i].angle_deg for i in order])
    steps = np.degrees(np.angle(np.exp(1j * np.diff(angles))))
    gaps = np.diff(order)
    median = float(np.median(steps / gaps))
    ahead = steps * np.sign(median) if median else np.abs(steps)  # degrees in the turning direction
    limit = spread * abs(median) * gaps + noise_deg
    wrong = [order[k + 1] for k in np.nonzero((ahead < -noise_deg) | (ahead > limit))[0]]
    if wrong:
        raise SfmFailed(f"the registered views are not in turning order at {len(wrong)} of {len(order)} frames "
                        "(a repetitive or symmetric pattern was matched to the wrong side)")


def window_pairs(n: int, window: float = 0.25) -> list[tuple[int, int]]:
    """Frame pairs at most ``window`` of the sequence apart, circularly (the clip is about one turn)."""
    gap = max(2, round(window * n))
    return [(a, (a + d) % n) for a in range(n) for d in range(1, gap + 1)
            if d < n - d or (d == n - d and a < n // 2)]


@dataclass
class _Tracks:
    """The SfM solution as plain arrays: poses per registered frame and point observations."""

    registered: list[int]  # positions in the input lists, sorted
    world_to_camera: dict[int, np.ndarray]  # 3 x 4
    points: np.ndarray  # P x 3, SfM world
    obs_frame: np.ndarray  # M: position in ``registered``
    obs_point: np.ndarray  # M
    obs_uv: np.ndarray  # M x 2, COLMAP pixel convention

    @classmethod
    def of(cls, rec) -> _Tracks:
        images = {int(Path(img.name).stem): img for img in rec.images.values() if img.has_pose}
        registered = sorted(images)
        row: dict[int, int] = {}
        points, obs_f, obs_p, obs_uv = [], [], [], []
        for j, k in enumerate(registered):
            for p2 in images[k].points2D:
                if p2.has_point3D():
                    if p2.point3D_id not in row:
                        row[p2.point3D_id] = len(points)
                        points.append(rec.points3D[p2.point3D_id].xyz)
                    obs_f.append(j)
                    obs_p.append(row[p2.point3D_id])
                    obs_uv.append(p2.xy)
        return cls(registered, {k: images[k].cam_from_world().matrix() for k in registered},
                   np.array(points).reshape(-1, 3), np.array(obs_f, int), np.array(obs_p, int),
                   np.array(obs_uv).reshape(-1, 2))

    def longest(self, n: int) -> _Tracks:
        """The ``n`` points seen in the most frames (they carry the angles; the turntable fit's time
        grows with the point count)."""
        if len(self.points) <= n:
            return self
        keep = np.argsort(-np.bincount(self.obs_point, minlength=len(self.points)), kind="stable")[:n]
        new = np.full(len(self.points), -1)
        new[keep] = np.arange(n)
        sel = new[self.obs_point] >= 0
        return _Tracks(self.registered, self.world_to_camera, self.points[keep], self.obs_frame[sel],
                       new[self.obs_point[sel]], self.obs_uv[sel])


_HALF = np.array([[0, 0, 0.5], [0, 0, 0.5], [0, 0, 0]])


def _rotz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def _initial_turntable(tracks: _Tracks) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Turntable model (camera rotation, translation, angles, points in the object frame) read off
    the free SfM poses: axis = normal of the plane through the camera centres, signed so the
    cameras' image-up points along it; origin on the axis, x towards the first camera."""
    R = [tracks.world_to_camera[k][:, :3] for k in tracks.registered]
    t = [tracks.world_to_camera[k][:, 3] for k in tracks.registered]
    C = np.array([-r.T @ tt for r, tt in zip(R, t)])
    mean = C.mean(0)
    axis = np.linalg.svd(C - mean)[2][2]
    if sum(r.T @ np.array([0, -1.0, 0]) for r in R) @ axis < 0:
        axis = -axis
    e1 = C[0] - mean
    e1 -= (e1 @ axis) * axis
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(axis, e1)
    uv = np.c_[(C - mean) @ e1, (C - mean) @ e2]
    sol = np.linalg.lstsq(np.c_[2 * uv, np.ones(len(uv))], (uv ** 2).sum(1), rcond=None)[0]  # circle fit
    centre = mean + sol[0] * e1 + sol[1] * e2
    x = C[0] - centre - ((C[0] - centre) @ axis) * axis
    x /= np.linalg.norm(x)
    obj_from_world = np.stack([x, np.cross(axis, x), axis])  # rows: object axes in SfM world
    points = (tracks.points - centre) @ obj_from_world.T
    cam_rot = R[0] @ obj_from_world.T  # object -> camera for the first frame
    angles = []
    for r in R:  # R_k = R_0 Rz(a_k) in the object frame
        q = cam_rot.T @ (r @ obj_from_world.T)
        angles.append(math.atan2(q[1, 0], q[0, 0]))
    cam_t = np.mean([r @ centre + tt for r, tt in zip(R, t)], axis=0)
    return cam_rot, cam_t, np.unwrap(angles), points


def _turntable_fit(tracks: _Tracks, focal: float, principal: tuple[float, float], loss_scale: float,
                   refine_focal: bool = False) -> SfmCameras:
    """Bundle adjustment under the turntable model, camera_from_object_k = [Rc Rz(a_k) | tc], with
    the focal length as a last parameter (its log ratio to ``focal``) when ``refine_focal``."""
    from scipy.optimize import least_squares
    from scipy.sparse import lil_matrix

    cx, cy = principal
    nf = len(tracks.registered)
    of, op, uv = tracks.obs_frame, tracks.obs_point, tracks.obs_uv
    m, npts = len(of), len(tracks.points)
    extra = int(refine_focal)

    def unpack(x):
        f = focal * math.exp(x[-1]) if refine_focal else focal
        x = x[:len(x) - extra]
        return cv2.Rodrigues(x[:3])[0], x[3:6], np.r_[0.0, x[6:5 + nf]], x[5 + nf:].reshape(-1, 3), f

    def project(Rc, tc, a, P, f):
        c, s = np.cos(a[of]), np.sin(a[of])
        X = P[op]
        Y = np.c_[c * X[:, 0] - s * X[:, 1], s * X[:, 0] + c * X[:, 1], X[:, 2]] @ Rc.T + tc
        z = np.where(np.abs(Y[:, 2]) < 1e-9, 1e-9, Y[:, 2])
        return np.c_[f * Y[:, 0] / z + cx, f * Y[:, 1] / z + cy], Y[:, 2]

    def residuals(x, d0, z0):
        Rc, tc, a, P, f = unpack(x)
        r = (project(Rc, tc, a, P, f)[0] - uv).ravel()
        # gauge: the model is free in scale and in a shift along the axis; pin both to the start
        return np.r_[r, 1000.0 * (np.linalg.norm(tc) / d0 - 1.0), 1000.0 * (P[0, 2] - z0) / d0]

    sparsity = lil_matrix((2 * m + 2, 5 + nf + 3 * npts + extra), dtype=np.uint8)
    sparsity[:2 * m, 5 + nf + 3 * npts:] = 1  # every observation depends on the focal length
    sparsity[2 * m, 3:6] = 1
    sparsity[2 * m + 1, 5 + nf + 2] = 1
    for r in (2 * np.arange(m), 2 * np.arange(m) + 1):
        sparsity[r[:, None], np.arange(6)] = 1
        turned = of > 0
        sparsity[r[turned], 5 + of[turned]] = 1
        for d in range(3):
            sparsity[r, 5 + nf + 3 * op + d] = 1

    Rc, tc, angles, P = _initial_turntable(tracks)
    D = np.diag([1.0, 1.0, -1.0])
    zbar = float(np.median((P @ Rc.T + tc)[:, 2]))
    starts = {False: (Rc, tc, P), True: (D @ Rc @ D, tc * [1, 1, -1] + [0, 0, 2 * zbar], P @ D)}
    def looks_down(R: np.ndarray) -> bool:  # an upright camera films a turntable from above
        up, forward = R.T @ np.array([0, -1.0, 0]), R.T @ np.array([0, 0, 1.0])
        return bool(forward[2] * np.sign(up[2]) < 0)

    candidates = []
    # the twin that starts looking down first; the other only when that one ends up wrong
    for mirrored in sorted(starts, key=lambda m: not looks_down(starts[m][0])):
        R0, t0, P0 = starts[mirrored]
        x0 = np.r_[cv2.Rodrigues(R0)[0].ravel(), t0, angles[1:], P0.ravel(), np.zeros(extra)]
        sol = least_squares(residuals, x0, jac_sparsity=sparsity, loss="cauchy", f_scale=loss_scale,
                            x_scale="jac", method="trf", xtol=1e-10, max_nfev=300,
                            tr_options={"atol": 1e-12, "btol": 1e-12},  # exact steps: converges in ~100, not 300+
                            args=(float(np.linalg.norm(t0)), float(P0[0, 2])))
        R1, t1, a1, P1, f1 = unpack(sol.x)
        in_front = float(np.mean(project(R1, t1, a1, P1, f1)[1] > 0))
        candidates.append(((not looks_down(R1), in_front < 0.99, sol.cost), mirrored, sol))
        if candidates[-1][0][:2] == (False, False):
            break
    _, mirrored, sol = min(candidates, key=lambda c: c[0])
    Rc, tc, a, P, fitted = unpack(sol.x)
    if (Rc.T @ np.array([0, -1.0, 0]))[2] < 0:  # image up along +z: turn the frame about x
        F = np.diag([1.0, -1.0, -1.0])
        Rc, P, a = Rc @ F, P @ F, -a
    base = float(np.percentile(P[:, 2], 2))
    P = P - [0, 0, base]
    tc = tc + Rc @ np.array([0, 0, base])
    err = np.linalg.norm(project(Rc, tc, a, P, fitted)[0] - uv, axis=1)
    views = {}
    for j, k in enumerate(tracks.registered):
        T = np.eye(4)
        T[:3, :3] = Rc @ _rotz(a[j])
        T[:3, 3] = tc
        e = err[of == j]
        views[k] = SfmView(T, math.degrees(a[j]) % 360.0, float(e.mean()) if len(e) else float("nan"),
                           float(e.max()) if len(e) else float("nan"), int(len(e)),
                           op[(of == j) & (err < SIGHTING_MAX_ERROR_PX)])
    K = np.array([[fitted, 0, cx - 0.5], [0, fitted, cy - 0.5], [0, 0, 1.0]])
    warnings = ["structure-from-motion gave the depth-reversed solution; the turntable fit corrected it"] \
        if mirrored else []
    return SfmCameras(K, views, [], P, bool(mirrored), warnings=warnings)


def _orbit_frame(tracks: _Tracks, focal: float, principal: tuple[float, float]) -> SfmCameras:
    """Free SfM poses of a walk-around put in an object frame: z up, normal to the level surface
    under the object (the plane most sparse points below it lie on: a table, a floor), the axis
    through the point the optical axes pass closest to, origin on it at the object's foot (its
    lowest sparse points: it may stand on a plate or a box), x towards the first camera. The points
    returned are those within the object's reach of the axis, over its foot."""
    R = [tracks.world_to_camera[k][:, :3] for k in tracks.registered]
    t = [tracks.world_to_camera[k][:, 3] for k in tracks.registered]
    C = np.array([-r.T @ tt for r, tt in zip(R, t)])
    rough_up = sum(r.T @ np.array([0, -1.0, 0]) for r in R)  # the cameras' mean image-up
    rough_up /= np.linalg.norm(rough_up)
    forward = np.array([r.T @ np.array([0, 0, 1.0]) for r in R])
    across = np.eye(3)[None] - forward[:, :, None] * forward[:, None, :]  # projects off each optical axis
    target = np.linalg.solve(across.sum(0), np.einsum("nij,nj->i", across, C))
    orbit = float(np.median(np.linalg.norm(C - target, axis=1)))
    rel = tracks.points - target
    under = rel[(np.linalg.norm(rel, axis=1) < 0.7 * orbit) & (rel @ rough_up < 0)]
    if len(under) < MIN_POINTS // 2:
        raise SfmFailed("structure-from-motion found no surface under the object (film it standing on a "
                        "textured table, with the table in view)")
    tolerance = 0.005 * orbit
    up, level = support_plane(under, rough_up, tolerance)
    height = rel @ up
    radial = np.linalg.norm(rel - height[:, None] * up, axis=1)
    over = (height > level + 2 * tolerance) & (radial < 0.35 * orbit)
    if over.sum() < MIN_POINTS:
        raise SfmFailed(f"structure-from-motion found only {int(over.sum())} points on the object")
    reach = float(np.percentile(radial[over], 90))
    foot = float(np.percentile(height[over & (radial < reach)], 2))
    origin = target + foot * up
    x = C[0] - origin - ((C[0] - origin) @ up) * up
    x /= np.linalg.norm(x)
    obj_from_world = np.stack([x, np.cross(up, x), up])
    points = (tracks.points - origin) @ obj_from_world.T
    keep = (np.hypot(points[:, 0], points[:, 1]) < 1.5 * reach) & (points[:, 2] > -tolerance)
    kept_index = np.cumsum(keep) - 1
    cx, cy = principal
    views = {}
    heights = (C - origin) @ up
    stray = stray_views(C, forward, heights, orbit) | (heights < 0)  # off the walk, or under the table
    for j, k in enumerate(tracks.registered):
        if stray[j]:
            continue
        T = np.eye(4)
        T[:3, :3] = R[j] @ obj_from_world.T
        T[:3, 3] = R[j] @ origin + t[j]
        sel = tracks.obs_frame == j
        cam = tracks.points[tracks.obs_point[sel]] @ R[j].T + t[j]
        e = np.linalg.norm(np.c_[focal * cam[:, 0] / cam[:, 2] + cx, focal * cam[:, 1] / cam[:, 2] + cy]
                           - tracks.obs_uv[sel], axis=1)
        centre = -T[:3, :3].T @ T[:3, 3]
        # the turn that would show the object this way on a turntable: minus the camera's azimuth
        seen = tracks.obs_point[sel][(e < SIGHTING_MAX_ERROR_PX) & keep[tracks.obs_point[sel]]]
        views[k] = SfmView(T, -math.degrees(math.atan2(centre[1], centre[0])) % 360.0,
                           float(e.mean()) if len(e) else float("nan"), float(e.max()) if len(e) else float("nan"),
                           int(len(e)), kept_index[seen])
    K = np.array([[focal, 0, cx - 0.5], [0, focal, cy - 0.5], [0, 0, 1.0]])
    return SfmCameras(K, views, [], points[keep], False, strays=[k for j, k in enumerate(tracks.registered) if stray[j]])


def stray_views(centres: np.ndarray, forwards: np.ndarray, heights: np.ndarray, orbit: float, reach: int = 3,
              spread: float = 3.0, rise: float = 0.1) -> np.ndarray:
    """Views (in capture order) that stray from the walk, a hand-held camera that moves and turns
    smoothly: a centre or viewing direction farther than ``spread`` median steps from the median of
    its ``reach`` kept neighbours on each side, or a height more than ``rise`` x the orbit's radius
    from the median height of the neighbours on either side (agreeing with one side is enough: the
    step up to the next ring). The worst is taken out and the rest measured again, since strays
    come in runs that pull their neighbours' median."""
    n = len(centres)
    steps = [float(np.median(np.linalg.norm(np.diff(v, axis=0), axis=1))) if n > 1 else 0.0
             for v in (centres, forwards)]
    out = np.zeros(n, bool)
    for _ in range(n // 2):
        kept = np.nonzero(~out)[0]
        deviation = np.zeros(len(kept))
        for pos, j in enumerate(kept):
            before, after = kept[max(0, pos - reach):pos], kept[pos + 1:pos + 1 + reach]
            around = np.r_[before, after]
            if not len(around):
                continue
            deviation[pos] = max(np.linalg.norm(v[j] - np.median(v[around], axis=0)) / max(step, 1e-12)
                                 for v, step in zip((centres, forwards), steps)) / spread
            off = min(abs(heights[j] - np.median(heights[side])) for side in (before, after) if len(side))
            deviation[pos] = max(deviation[pos], off / (rise * orbit))
        if deviation.max(initial=0.0) <= 1.0:
            break
        out[kept[int(np.argmax(deviation))]] = True
    return out


def support_plane(points: np.ndarray, rough_up: np.ndarray, tolerance: float,
                   tries: int = 500) -> tuple[np.ndarray, float]:
    """The plane most ``points`` lie on (within ``tolerance``) among those within 5 deg of the
    cameras' mean image-up: its upward unit normal and its signed offset along it (RANSAC, then
    least squares on the inliers)."""
    rng = np.random.default_rng(0)
    best = np.zeros(len(points), bool)
    for _ in range(tries):
        a, b, c = points[rng.choice(len(points), 3, replace=False)]
        n = np.cross(b - a, c - a)
        if np.linalg.norm(n) < 1e-12:
            continue
        n /= np.linalg.norm(n)
        if abs(n @ rough_up) < math.cos(math.radians(5)):
            continue
        inliers = np.abs((points - a) @ n) < tolerance
        if inliers.sum() > best.sum():
            best = inliers
    if best.sum() < 3:
        raise SfmFailed("structure-from-motion found no level surface under the object")
    centre = points[best].mean(axis=0)
    n = np.linalg.svd(points[best] - centre)[2][2]
    n = n if n @ rough_up > 0 else -n
    return n, float(centre @ n)
