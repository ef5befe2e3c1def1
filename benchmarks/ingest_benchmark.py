"""Ingest quality and speed against synthetic turntable and walk-around captures with ground truth.

1. Renders 60-frame 480x360 turntable captures (``examples/turntable/make_capture.py``: uneven
   speed, cast shadow, noise, MPEG-4), one per kind: on the ArUco sheet; without it on a plain grey,
   a white and a cork-textured plate (which saliency takes with the object); a mug (handle hole) on
   the grey plate; the grey plate with an object of plain checker squares (little texture); and a
   walk-around (the camera carried twice round the still object, at 20 and 45 deg, on a cork
   floor). Each is ingested (marker-less ones with ``--height-m``, the walk-around with
   ``--walk-around``) and compared with the truth: mask IoU, view-angle error (marker-less: after
   the one rotation about the axis that aligns the object frames; walk-around: camera rotation
   error after that alignment), focal-length error, mesh Chamfer
   distance (percent of the bounding-box diagonal), the texture's PSNR on views the bake left out
   (with and without the light fitted to the capture) and the billboard cards' silhouette IoU.
2. Speed: a 10 s 1280x720 30 fps video (300 frames) made from the sheet capture and from the grey
   plate capture (each frame upscaled, five frames per rendered frame with a little camera shake),
   ingested end to end.

Usage: ``python benchmarks/ingest_benchmark.py [--frames 60] [--size 480x360] [--samples 4] [--cases ...]``
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import trimesh
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bproc_factory.ingest import hull  # noqa: E402
from bproc_factory.ingest.billboard import TEXEL_CENTRE, card_plane_to_image  # noqa: E402
from bproc_factory.ingest.pipeline import Y_UP  # noqa: E402

CASES = {  # column -> make_capture.py options
    "sheet": [],
    "grey plate": ["--no-markers", "--texture", "speckled"],
    "white plate": ["--no-markers", "--texture", "speckled", "--plate", "white"],
    "cork plate": ["--no-markers", "--texture", "speckled", "--plate", "cork"],
    "mug, grey": ["--no-markers", "--texture", "speckled", "--object", "mug"],
    "grey, checker": ["--no-markers"],
    "walk-around": ["--no-markers", "--texture", "speckled", "--orbit", "20,45"],
}


def _ingest(video: Path, assets: Path, height_m: float | None, walk_around: bool = False) -> float:
    """Seconds to ingest ``video``; marker-less captures get the object's true height, as a user
    would measure it."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bproc_factory", "ingest", str(video), "--name", "house",
                    "--category", "toy", "-o", str(assets), "-q", "--force"]
                   + (["--height-m", f"{height_m:.4f}"] if height_m else [])
                   + (["--walk-around"] if walk_around else []), check=True, capture_output=True)
    return time.perf_counter() - t


def _angle_errors(spec: dict, truth: dict, per_rendered: int = 1) -> tuple[np.ndarray, float]:
    """Each view's azimuth error (deg) and the frame offset used. SfM's object frame has its own zero
    azimuth (towards the first camera): it is compared after the one rotation about the axis that
    best aligns it with the sheet frame. ``per_rendered``: video frames per rendered frame."""
    diff = np.array([view["angle_deg"] - (-90.0 - truth["turntable_angle_deg"][view["frame"] // per_rendered])
                     for view in spec["views"]])
    offset = 0.0 if spec["cameras"]["method"] == "aruco" else \
        float(np.degrees(np.angle(np.mean(np.exp(1j * np.radians(diff))))))
    return np.abs((diff - offset + 180) % 360 - 180), offset


def _rotation_errors(spec: dict, truth: dict) -> tuple[np.ndarray, float]:
    """A walk-around's per-view camera rotation error (deg) after the one turn about the vertical
    that best aligns the SfM object frame with the truth's, and that turn (deg)."""
    est = [np.array(v["sheet_to_camera"])[:3, :3] for v in spec["views"]]
    true = [np.array(truth["sheet_to_camera"][v["frame"]])[:3, :3] for v in spec["views"]]
    turn = float(np.angle(np.mean([np.exp(1j * np.arctan2(q[1, 0], q[0, 0])) for q in (t.T @ e for e, t in
                                                                                      zip(est, true))])))
    rz = trimesh.transformations.rotation_matrix(turn, [0, 0, 1])[:3, :3]
    cos = [(np.trace((t @ rz).T @ e) - 1) / 2 for e, t in zip(est, true)]
    return np.degrees(np.arccos(np.clip(cos, -1, 1))), -float(np.degrees(turn))


def _quality(capture: Path, asset: Path) -> dict:
    truth = json.loads((capture / "truth.json").read_text())
    spec = yaml.safe_load((asset / "asset.yaml").read_text())["capture"]
    w, h = truth["size"]
    ious, card_ious = [], []
    K = np.array(spec["cameras"]["K"])
    board = spec["billboard"]
    walk = truth.get("walk_around", False)
    angle_err, offset = _rotation_errors(spec, truth) if walk else _angle_errors(spec, truth)
    for view, card in zip(spec["views"], board["cards"]):
        gt = cv2.imread(str(capture / "masks" / f"{view['frame']:04d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        ious.append(hull.iou(gt, cv2.imread(str(asset / view["mask"]), cv2.IMREAD_GRAYSCALE) > 127))
        alpha = cv2.imread(str(asset / card["file"]), cv2.IMREAD_UNCHANGED)[..., 3]
        plane = card_plane_to_image(K, np.array(view["sheet_to_camera"]), card["angle_deg"], card["offset_m"])
        ppm = alpha.shape[1] / (2 * board["half_width_m"])
        to_plane = np.array([[1 / ppm, 0, -board["half_width_m"]], [0, -1 / ppm, board["height_m"]], [0, 0, 1]])
        shown = cv2.warpPerspective(alpha, plane @ to_plane @ TEXEL_CENTRE, (w, h), flags=cv2.INTER_NEAREST) > 0
        card_ious.append(hull.iou(shown, gt))
    out = {"views": len(ious), "mask_iou_mean": float(np.mean(ious)), "mask_iou_min": float(np.min(ious)),
           ("rotation_err_mean" if walk else "angle_err_mean"): float(np.mean(angle_err)),
           ("rotation_err_max" if walk else "angle_err_max"): float(np.max(angle_err)),
           "focal_err": abs(K[0, 0] - truth["K"][0][0]) / truth["K"][0][0],
           "card_iou_mean": float(np.mean(card_ious))}
    if (asset / "mesh.glb").is_file():
        mesh = trimesh.load(asset / "mesh.glb", force="mesh")
        mesh.apply_transform(np.linalg.inv(Y_UP))
        mesh.apply_transform(trimesh.transformations.rotation_matrix(np.radians(-offset), [0, 0, 1]))
        gt_mesh = trimesh.load(capture / "object.ply")
        diagonal = float(np.linalg.norm(gt_mesh.bounds[1] - gt_mesh.bounds[0]))
        out["chamfer_pct"] = 100 * hull.chamfer(mesh, gt_mesh) / diagonal
        out["height_err"] = abs(mesh.bounds[1][2] - gt_mesh.bounds[1][2]) / gt_mesh.bounds[1][2]
        out["faces"] = len(mesh.faces)
        tex = json.loads((asset / "quality.json").read_text())["texture"]
        out["texture_psnr"], out["texture_psnr_min"] = tex["psnr_db"]["mean"], tex["psnr_db"]["min"]
        out["texture_psnr_bare"], out["atlas"] = tex["psnr_db_without_capture_light"], tex["size"]
    return out


def _video_720p(capture: Path, out: Path, seconds: float = 10.0, fps: int = 30) -> Path:
    """A 1280x720 video of ``seconds`` from the capture's frames: upscaled, padded to 16:9, each
    frame shown several times with a small random camera shake."""
    cap = cv2.VideoCapture(str(capture / "capture.mp4"))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    total = int(seconds * fps)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (1280, 720))
    rng = np.random.default_rng(0)
    for k in range(total):
        src = frames[k * len(frames) // total]
        scale = 720 / src.shape[0]
        big = cv2.resize(src, (round(src.shape[1] * scale), 720), interpolation=cv2.INTER_CUBIC)
        pad = (1280 - big.shape[1]) // 2
        big = cv2.copyMakeBorder(big, 0, 0, pad, 1280 - big.shape[1] - pad, cv2.BORDER_REPLICATE)
        dx, dy = rng.normal(0, 1.5, 2)
        writer.write(cv2.warpAffine(big, np.float32([[1, 0, dx], [0, 1, dy]]), (1280, 720),
                                    borderMode=cv2.BORDER_REPLICATE))
    writer.release()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--size", default="480x360")
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES), metavar="CASE",
                        help=f"captures to run (default all: {', '.join(CASES)})")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bpf_ingest_bench_"))
    results: dict[str, dict] = {}
    try:
        for k, case in enumerate(args.cases):
            options = CASES[case]
            capture, assets = work / f"capture{k}", work / f"assets{k}"
            subprocess.run([sys.executable, str(REPO / "examples" / "turntable" / "make_capture.py"), str(capture),
                            "--frames", str(args.frames), "--size", args.size, "--samples", str(args.samples),
                            *options], check=True, capture_output=True)
            truth = json.loads((capture / "truth.json").read_text())
            height = truth["object_height_m"] if "--no-markers" in options else None
            seconds = _ingest(capture / "capture.mp4", assets, height, "--orbit" in options)
            q = _quality(capture, assets / "house")
            q["seconds"] = seconds
            spec = yaml.safe_load((assets / "house" / "asset.yaml").read_text())["capture"]
            q["method"] = spec["cameras"]["method"]
            q["mesh_kept"] = "mesh" in spec["render_modes"]
            if case in ("sheet", "grey plate"):
                video = _video_720p(capture, work / f"video720_{k}.mp4")
                q["seconds_720"] = _ingest(video, work / f"assets720_{k}", height)
                spec720 = yaml.safe_load((work / f"assets720_{k}" / "house" / "asset.yaml").read_text())["capture"]
                q["views_720"] = len(spec720["views"])
                q["method_720"] = spec720["cameras"]["method"]
                q["angle_err_max_720"] = float(_angle_errors(spec720, truth, 300 // args.frames)[0].max())
            results[case] = q
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"synthetic turntables: {args.frames} frames {args.size}, {args.samples} samples, uneven speed (+-5 deg "
          f"wobble), cast shadow, MPEG-4; {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    cases = list(results)

    def cell(case: str, key: str, fmt: str) -> str:
        value = results[case].get(key)
        return "-" if value is None else format(value, fmt)
    rows = [("cameras by", "method", "s", ""),
            ("mask IoU vs truth, mean", "mask_iou_mean", ".3f", ">= 0.95"),
            ("mask IoU vs truth, worst view", "mask_iou_min", ".3f", ""),
            ("view angle error, mean (deg)", "angle_err_mean", ".2f", ""),
            ("view angle error, max (deg)", "angle_err_max", ".2f", "<= 2"),
            ("camera rotation error, mean (deg)", "rotation_err_mean", ".2f", ""),
            ("camera rotation error, max (deg)", "rotation_err_max", ".2f", "<= 2"),
            ("focal length error", "focal_err", ".1%", ""),
            ("mesh kept", "mesh_kept", "", ""),
            ("mesh Chamfer / bbox diagonal (%)", "chamfer_pct", ".2f", "<= 1.5"),
            ("mesh height error", "height_err", ".1%", ""),
            ("mesh faces", "faces", "", ""),
            ("texture PSNR, held-out views, mean (dB)", "texture_psnr", ".1f", ">= 25"),
            ("texture PSNR, worst held-out view (dB)", "texture_psnr_min", ".1f", ""),
            ("  without the fitted capture light (dB)", "texture_psnr_bare", ".1f", ""),
            ("  atlas size (texels per side)", "atlas", "", ""),
            ("billboard card silhouette IoU, mean", "card_iou_mean", ".3f", ""),
            (f"ingest time, {args.frames} frames {args.size} (s)", "seconds", ".1f", ""),
            ("ingest time, 10 s 720p video (s)", "seconds_720", ".1f", "<= 90"),
            ("  views kept from the 720p video", "views_720", "", ""),
            ("  cameras by, 720p", "method_720", "s", ""),
            ("  view angle error, max, 720p (deg)", "angle_err_max_720", ".2f", "")]
    width = max(14, *(len(c) + 2 for c in cases))
    print(f"{'figure':<44}" + "".join(f"{c:>{width}}" for c in cases) + f"{'target':>10}")
    for name, key, fmt, target in rows:
        print(f"{name:<44}" + "".join(f"{cell(c, key, fmt):>{width}}" for c in cases) + f"{target:>10}")


if __name__ == "__main__":
    main()
