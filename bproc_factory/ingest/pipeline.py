"""``bproc-factory ingest``: a turntable video (or a folder of photos) becomes an asset folder.

Steps: decode and pick frames -> turntable cameras (the marker sheet's, else structure-from-motion
on the object, else constant speed) -> views covering the revolution evenly -> masks -> (with
metric cameras) visual-hull mesh, the masks cut to its silhouettes, its texture and quality figures
-> the asset folder, written beside its final name and renamed into place only when whole.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import trimesh
import yaml

from bproc_factory.assets import tree_sha256
from bproc_factory.errors import IngestError
from bproc_factory.ingest import billboard, hull, texture
from bproc_factory.ingest.frames import Frame, drop_blurred, drop_near_duplicates, focus_measure, read_frames
from bproc_factory.ingest.markerless import markerless_cameras, salient_frames
from bproc_factory.ingest.markers import SheetLayout, sheet_like
from bproc_factory.ingest.segment import MaskResult, clean_mask, make_segmenter, sanity_check
from bproc_factory.ingest.sfm import SfmFailed
from bproc_factory.ingest.turntable import TurntableGeometry, constant_speed, marker_geometry

MIN_FRAMES = 8
MIN_VIEWS = 6
ELEVATION_BAND_DEG = 15.0  # views this far apart in elevation are kept as separate rings
TEXTURE_HOLD_OUT = 6  # every 6th view is left out of the texture bake and scores it (PSNR)
Y_UP = np.array([[1.0, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]])  # z-up -> glTF's y-up

Progress = Callable[[str, int, int], None]


@dataclass
class IngestOptions:
    name: str
    category: str
    assets_dir: Path
    height_m: float | None = None
    focal_px: float | None = None  # without markers: the camera's focal length in pixels, if known
    segmenter: str = "u2netp"
    max_views: int = 72
    mesh_resolution: int = 96
    walk_around: bool = False  # the camera was carried around the still object (not a turntable)
    max_faces: int = 10000  # face budget of the decimated mesh
    texture_size: int | None = None  # texels per side of the texture atlas (None: from the masks' size)
    min_mesh_iou: float = 0.90  # mean reprojected-silhouette IoU a mesh must reach
    refine: bool = True
    force: bool = False


@dataclass
class IngestSummary:
    folder: Path
    source_frames: int
    views: int
    dropped: dict[str, str] = field(default_factory=dict)  # frame name -> reason
    mask_confidence: float = 0.0
    geometry: dict = field(default_factory=dict)
    mesh: dict | None = None
    render_modes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def ingest(source: Path, opts: IngestOptions, progress: Progress = lambda *_: None) -> IngestSummary:
    """Turn one capture into ``opts.assets_dir / opts.name``; raises IngestError naming the file
    and frames at fault, leaving nothing behind."""
    t0 = time.perf_counter()
    final = opts.assets_dir / opts.name
    if final.exists() and not opts.force:
        raise IngestError(f"{final}: already exists (pass --force to replace it)")
    segmenter = make_segmenter(opts.segmenter)
    layout = SheetLayout()

    progress("reading frames", 0, 1)
    frame_set = read_frames(source)
    if len(frame_set.frames) < MIN_FRAMES:
        raise IngestError(f"{source}: only {len(frame_set.frames)} frames; need at least {MIN_FRAMES} "
                          "around the object")
    drop_blurred(frame_set)
    drop_near_duplicates(frame_set)
    dropped = dict(frame_set.rejected)
    frames = frame_set.frames
    if len(frames) < MIN_FRAMES:
        raise IngestError(f"{source}: only {len(frames)} usable frames after dropping blurred and "
                          f"duplicate ones; need {MIN_FRAMES}. Dropped: {_listing(dropped)}")

    progress("turntable cameras", 0, 1)
    geometry = marker_geometry(frames, layout)
    known: dict[int, MaskResult] = {}
    sightings: dict[int, np.ndarray] = {}  # SfM: the sparse points each frame saw
    radius, top = layout.free_radius_m, 3 * layout.free_radius_m  # where the object can be
    if geometry is None:
        if opts.height_m is None:
            raise IngestError(f"{source}: the object's size is unknown: no turntable markers were found, so pass "
                              "--height-m (the object's real height in metres)")
        progress("segmenting for structure from motion", 0, 1)
        salient = salient_frames(frames, segmenter, opts.refine)
        progress("structure from motion", 0, 1)
        try:
            found = markerless_cameras(salient, opts.height_m, opts.focal_px, opts.walk_around)
        except SfmFailed as exc:
            known = {s.frame.index: s.mask for s in salient}  # saliency alone: the plate may be in it
            advice = ("walk round the object twice (low, then high) in 60 frames or more, keeping it a third of "
                      "the frame, standing on a textured table that stays in view" if opts.walk_around else
                      "film the object filling a third of the frame with texture on every side over one full turn "
                      "of 60 frames or more")
            geometry = constant_speed(frames, note=f"no turntable markers found, and {exc}; for measured angles and "
                                      f"a mesh, {advice}, or print the marker sheet (bproc-factory turntable-sheet)")
        else:
            geometry, known, sightings = found.geometry, found.masks, found.sightings
            radius, top = found.cylinder.radius_m, found.cylinder.height_m
    dropped.update({_frame_name(frames, i): r for i, r in geometry.rejected.items()})
    candidates = [f for f in frames if f.index in geometry.views and (not known or f.index in known)]
    chosen = choose_views(candidates, geometry, opts.max_views)

    masks, confidence, names = {}, {}, {}
    for k, frame in enumerate(chosen):
        progress("segmenting", k, len(chosen))
        if frame.index in known:
            result = known[frame.index]
        else:
            allowed = _allowed_region(frame, geometry, layout)
            sheet = (sheet_like(frame.image, geometry.views[frame.index].sheet_to_camera, geometry.K, layout)
                     if geometry.method == "aruco" else None)
            result = clean_mask(frame.image, segmenter.probability(frame.image), allowed, sheet, refine=opts.refine)
        masks[frame.index], confidence[frame.index], names[frame.index] = result.mask, result.confidence, frame.name
    progress("segmenting", len(chosen), len(chosen))
    bad = sanity_check(masks)
    dropped.update({names[i]: r for i, r in bad.items()})
    views = [f for f in chosen if f.index not in bad]
    if len(views) < MIN_VIEWS:
        raise IngestError(f"{source}: only {len(views)} frames have a usable object mask (need {MIN_VIEWS}); "
                          f"dropped: {_listing(dropped)}")

    summary = IngestSummary(final, frame_set.source_frames, len(views), dropped, geometry=geometry.summary(),
                            warnings=list(geometry.warnings))
    summary.mask_confidence = float(np.mean([confidence[f.index] for f in views]))
    mesh, quality, carved = None, None, None
    scale, measured = 1.0, None
    if geometry.metric:
        progress("carving the mesh", 0, 1)
        cams = [hull.Camera(geometry.K, geometry.views[f.index].sheet_to_camera, masks[f.index], f.image,
                            sightings.get(f.index)) for f in views]
        built = _mesh(cams, radius, top, opts)
        mesh, quality, carved = built.mesh, built.quality, built.mesh
        if built.masks is not None:
            masks.update({f.index: m for f, m in zip(views, built.masks)})
        measured = float(mesh.bounds[1][2]) if mesh is not None else None
        if geometry.method == "sfm" and measured:
            # SfM cameras were scaled so the sparse points stood --height-m tall; the hull's height
            # is the object's, so cameras and hull are rescaled until the hull stands that tall
            scale = opts.height_m / measured
            geometry = geometry.rescaled(scale)
            radius *= scale
            mesh.apply_scale(scale)
            quality["height_m"] = {"given": opts.height_m, "scale_correction": round(scale, 4)}
            measured, scale = opts.height_m, 1.0
        elif opts.height_m and measured:
            scale = opts.height_m / measured
            quality["height_m"] = {"from_markers": round(measured, 4), "given": opts.height_m}
            if abs(scale - 1) > 0.1:
                summary.warnings.append(f"--height-m {opts.height_m} differs from the marker-measured "
                                        f"{measured:.3f} m by {abs(scale - 1):.0%}; using --height-m")
        summary.geometry = geometry.summary()
        summary.mesh = quality
        if quality["passed"]:
            summary.render_modes.append("mesh")
        else:
            mesh = None
    height = opts.height_m or measured
    if height is None:
        raise IngestError(f"{source}: the object's size is unknown: no turntable markers were measured, "
                          "so pass --height-m (the object's real height in metres)")

    progress("billboard cards", 0, 1)
    if geometry.metric:
        cards, half_w, card_h, ppm = billboard.metric_cards(
            [(f.image, masks[f.index], geometry.views[f.index].sheet_to_camera, geometry.views[f.index].azimuth_deg,
              geometry.views[f.index].elevation_deg) for f in views], geometry.K, radius,
            None if carved is None else np.asarray(carved.vertices)[:, :2])
        half_w, card_h, ppm = half_w * scale, card_h * scale, ppm / scale
        for card in cards:
            card.offset_m *= scale
    else:
        cards, half_w, card_h, ppm = billboard.plain_cards(
            [(f.image, masks[f.index], geometry.views[f.index].azimuth_deg) for f in views], height)
    summary.render_modes.append("billboard")

    progress("writing the asset", 0, 1)
    board = {"half_width_m": round(half_w, 5), "height_m": round(card_h, 5), "px_per_m": round(ppm, 3), "cards": cards}
    write_asset(final, source, opts, geometry, views, masks, confidence, mesh, scale, quality, height, board, summary)
    summary.seconds = time.perf_counter() - t0
    return summary


def choose_views(frames: list[Frame], geometry: TurntableGeometry, max_views: int) -> list[Frame]:
    """All frames, or at most ``max_views`` spread evenly over the views' directions: the sharpest frame of
    each equal azimuth bin (a slow part of a hand-spun turn gives many frames for one angle), per
    band of ELEVATION_BAND_DEG (a walk-around's rings at different heights all stay)."""
    if len(frames) <= max_views:
        return list(frames)

    def band(f: Frame) -> int:
        elevation = geometry.views[f.index].elevation_deg
        return 0 if elevation is None else round(elevation / ELEVATION_BAND_DEG)
    per_band = max(1, max_views // len({band(f) for f in frames}))
    bins: dict[tuple[int, int], Frame] = {}
    score = {f.index: focus_measure(f) for f in frames}
    for f in frames:
        b = (band(f), int(geometry.views[f.index].azimuth_deg / (360.0 / per_band)) % per_band)
        if b not in bins or score[f.index] > score[bins[b].index]:
            bins[b] = f
    return sorted(bins.values(), key=lambda f: f.index)


def _allowed_region(frame: Frame, geometry: TurntableGeometry, layout: SheetLayout) -> np.ndarray | None:
    """Where the object can appear: inside the projected cylinder over the sheet's free circle, minus
    the markers (which make saliency models take the sheet)."""
    h, w = frame.image.shape[:2]
    if geometry.method != "aruco":
        return None
    view = geometry.views[frame.index]
    allowed = np.zeros((h, w), np.uint8)
    r = layout.free_radius_m
    ring = np.array([[r * math.cos(a), r * math.sin(a)] for a in np.linspace(0, 2 * math.pi, 72, endpoint=False)])
    top = 3 * r
    pts = np.concatenate([np.c_[ring, np.zeros(len(ring))], np.c_[ring, np.full(len(ring), top)]])
    uv, depth = hull.project(geometry.K, view.sheet_to_camera, pts)
    if (depth > 0).all():
        cv2.fillConvexPoly(allowed, cv2.convexHull(np.round(uv).astype(np.int32)), 1)
    else:
        allowed[:] = 1
    markers = np.zeros((h, w), np.uint8)
    for quad in geometry.markers.get(frame.index, {}).values():
        cv2.fillConvexPoly(markers, np.round(quad).astype(np.int32), 1)
    markers = cv2.dilate(markers, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    return (allowed == 1) & (markers == 0)


@dataclass
class _Built:
    """The mesh (textured once it passed the bar), its quality figures and, when it passed, each
    view's mask cut to the mesh's silhouette."""

    mesh: trimesh.Trimesh | None
    quality: dict
    masks: list[np.ndarray] | None = None


def _mesh(cams: list[hull.Camera], radius_m: float, top_m: float, opts: IngestOptions) -> _Built:
    try:
        mesh = hull.decimate(hull.reconstruct(cams, radius_m, top_m, opts.mesh_resolution), opts.max_faces)
    except ValueError as exc:
        return _Built(None, {"passed": False, "reason": str(exc)})
    silhouettes = [hull.silhouette(mesh, c) for c in cams]
    ious = [hull.iou(s, c.mask) for s, c in zip(silhouettes, cams)]
    quality = {
        "silhouette_iou": {"mean": round(float(np.mean(ious)), 4), "min": round(float(np.min(ious)), 4),
                           "per_view": [round(v, 4) for v in ious]},
        "watertight": bool(mesh.is_watertight),
        "faces": int(len(mesh.faces)),
        "face_budget": opts.max_faces,
        "bar": {"silhouette_iou_mean": opts.min_mesh_iou, "watertight": True},
    }
    reasons = []
    if np.mean(ious) < opts.min_mesh_iou:
        reasons.append(f"mean reprojected-silhouette IoU {np.mean(ious):.3f} < {opts.min_mesh_iou}")
    if not mesh.is_watertight:
        reasons.append("mesh is not watertight")
    quality["passed"] = not reasons
    if reasons:
        quality["reason"] = "; ".join(reasons)
        return _Built(mesh, quality)
    # what no other view sees as object (a cast shadow one view took for it) leaves that view's mask
    trimmed = [hull.trim_to_silhouette(c.mask, s) for c, s in zip(cams, silhouettes)]
    removed = [1 - t.sum() / max(c.mask.sum(), 1) for c, t in zip(cams, trimmed)]
    quality["masks_cut_to_mesh"] = {"views_changed": int(sum(r > 0.01 for r in removed)),
                                    "share_removed_max": round(float(max(removed)), 4)}
    cams = [replace(c, mask=t) for c, t in zip(cams, trimmed)]
    held_out = list(range(TEXTURE_HOLD_OUT // 2, len(cams), TEXTURE_HOLD_OUT))
    size = opts.texture_size or texture.atlas_size(max(int(c.mask.sum()) for c in cams))
    # a turntable's lamps stay with the camera while the object turns; walking around, they stay put
    baked = texture.bake(mesh, [c for k, c in enumerate(cams) if k not in held_out], size,
                         camera_light=not opts.walk_around)
    lit = [texture.psnr(baked, cams[k]) for k in held_out]
    bare = [texture.psnr(baked, cams[k], lit=False) for k in held_out]
    quality["texture"] = {
        "size": size, "coverage": round(baked.coverage, 4), "held_out_views": held_out,
        "psnr_db": {"mean": round(float(np.mean(lit)), 2), "min": round(float(np.min(lit)), 2),
                    "per_view": [round(v, 2) for v in lit]},
        "psnr_db_without_capture_light": round(float(np.mean(bare)), 2),
        # 9 x 3: second-order spherical harmonics (texture.sh_basis) over camera-frame normals, per RGB
        "capture_light": np.round(baked.light, 5).tolist(), "capture_light_fitted": not opts.walk_around}
    return _Built(baked.mesh, quality, trimmed)


def write_asset(final: Path, source: Path, opts: IngestOptions, geometry: TurntableGeometry,
                views: list[Frame], masks: dict, confidence: dict, mesh, scale: float,
                quality: dict | None, height: float, board: dict, summary: IngestSummary) -> None:
    """The asset folder, built beside ``final`` and renamed into place only when whole."""
    opts.assets_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{opts.name}.partial-", dir=opts.assets_dir))
    try:
        (tmp / "views").mkdir()
        (tmp / "masks").mkdir()
        records = []
        for k, f in enumerate(views):
            mask = masks[f.index]
            ys, xs = np.nonzero(mask)
            pad = 4
            x0, y0 = max(int(xs.min()) - pad, 0), max(int(ys.min()) - pad, 0)
            x1, y1 = min(int(xs.max()) + pad + 1, mask.shape[1]), min(int(ys.max()) + pad + 1, mask.shape[0])
            rgba = np.dstack([f.image, mask.astype(np.uint8) * 255])[y0:y1, x0:x1]
            _write_png(tmp / "views" / f"{k:03d}.png", rgba)
            _write_png(tmp / "masks" / f"{k:03d}.png", mask.astype(np.uint8) * 255)
            view = geometry.views[f.index]
            rec = {"file": f"views/{k:03d}.png", "mask": f"masks/{k:03d}.png", "frame": f.index, "source": f.name,
                   "angle_deg": round(view.azimuth_deg, 3), "mask_confidence": round(confidence[f.index], 4),
                   "crop_box": [x0, y0, x1 - x0, y1 - y0]}
            if view.sheet_to_camera is not None:
                rec["elevation_deg"] = round(view.elevation_deg, 3)
                rec["sheet_to_camera"] = np.round(view.sheet_to_camera, 6).tolist()
                rec["marker_residual_px" if geometry.method == "aruco" else "reprojection_px"] = \
                    round(view.residual_px, 3)
            records.append(rec)
        (tmp / "billboard").mkdir()
        card_records = []
        for k, card in enumerate(board["cards"]):
            _write_png(tmp / "billboard" / f"{k:03d}.png", card.rgba)
            rec = {"file": f"billboard/{k:03d}.png", "angle_deg": round(card.angle_deg, 3),
                   "offset_m": round(card.offset_m, 5)}
            if card.elevation_deg is not None:
                rec["elevation_deg"] = round(card.elevation_deg, 3)
            card_records.append(rec)
        _write_png(tmp / "preview.png", contact_sheet([np.dstack([f.image, masks[f.index].astype(np.uint8) * 255])
                                                        for f in views]))
        spec: dict = {"name": opts.name, "category": opts.category}
        if mesh is not None:
            out = mesh.copy()
            out.apply_scale(scale)
            out.apply_transform(Y_UP)
            (tmp / "mesh.glb").write_bytes(out.export(file_type="glb"))
            spec.update({"mesh": "mesh.glb", "up_axis": "y", "scale": 1.0})
        if quality is not None:
            (tmp / "quality.json").write_text(json.dumps(quality, indent=1))
        spec["capture"] = {
            "source": source.name, "source_sha256": tree_sha256(source), "segmenter": opts.segmenter,
            "height_m": round(height, 4), "render_modes": summary.render_modes,
            "cameras": geometry.summary(), "views": records,
            "billboard": {k: v for k, v in board.items() if k != "cards"} | {"cards": card_records},
            "dropped_frames": summary.dropped,
            "mask_confidence_mean": round(summary.mask_confidence, 4),
            "mesh_quality": None if quality is None else {k: v for k, v in quality.items() if k != "silhouette_iou"}
            | ({"silhouette_iou_mean": quality["silhouette_iou"]["mean"]} if "silhouette_iou" in quality else {}),
        }
        spec["source"] = f"bproc-factory ingest of {source.name}"
        (tmp / "asset.yaml").write_text(yaml.safe_dump(spec, sort_keys=False, width=120))
        os.chmod(tmp, 0o755)
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def contact_sheet(rgba_images: list[np.ndarray], cell: int = 128, columns: int = 8) -> np.ndarray:
    """The cut-outs over a checkerboard, ``columns`` per row (BGR)."""
    rows = math.ceil(len(rgba_images) / columns)
    sheet = np.zeros((rows * cell, columns * cell, 3), np.uint8)
    yy, xx = np.mgrid[:cell, :cell]
    checker = np.where(((yy // 16 + xx // 16) % 2)[..., None] == 0, 200, 150).astype(np.uint8).repeat(3, axis=2)
    for k, img in enumerate(rgba_images):
        ys, xs = np.nonzero(img[..., 3])
        crop = img[ys.min():ys.max() + 1, xs.min():xs.max() + 1] if len(ys) else img
        s = cell / max(crop.shape[:2])
        small = cv2.resize(crop, (max(1, int(crop.shape[1] * s)), max(1, int(crop.shape[0] * s))),
                           interpolation=cv2.INTER_AREA)
        tile = checker.copy()
        oy, ox = (cell - small.shape[0]) // 2, (cell - small.shape[1]) // 2
        a = small[..., 3:4].astype(np.float32) / 255
        region = tile[oy:oy + small.shape[0], ox:ox + small.shape[1]]
        region[:] = (a * small[..., :3] + (1 - a) * region).astype(np.uint8)
        r, c = divmod(k, columns)
        sheet[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell] = tile
    return sheet


def _write_png(path: Path, image: np.ndarray) -> None:
    if not cv2.imwrite(str(path), image):
        raise IngestError(f"{path}: cannot write")


def _frame_name(frames: list[Frame], index: int) -> str:
    return next((f.name for f in frames if f.index == index), f"frame {index}")


def _listing(dropped: dict[str, str], limit: int = 6) -> str:
    """Dropped frames grouped by reason (the reasons' variable numbers aside), most frequent first."""
    if not dropped:
        return "none"
    groups: dict[str, list[str]] = {}
    for frame, reason in dropped.items():
        groups.setdefault(re.sub(r"\d+(\.\d+)?", "N", reason) if "jumps" in reason or "only" in reason
                          or "focus" in reason else reason, []).append(frame)
    parts = []
    for reason, frames in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        shown = ", ".join(frames[:limit]) + (f" and {len(frames) - limit} more" if len(frames) > limit else "")
        parts.append(f"{len(frames)} x {reason} ({shown})")
    return "; ".join(parts)
