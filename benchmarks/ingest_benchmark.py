"""Ingest quality and speed against a synthetic turntable capture with ground truth.

1. Renders a 60-frame 480x360 turntable capture (``examples/turntable/make_capture.py``: uneven
   speed, cast shadow, ArUco sheet, noise, MPEG-4), ingests it and prints mask IoU against the true
   masks, view-angle error against the true turntable angles, focal-length error, mesh Chamfer
   distance (percent of the bounding-box diagonal) and the billboard cards' silhouette IoU.
2. Speed: a 10 s 1280x720 30 fps video (300 frames) made from the same capture (each frame
   upscaled, five frames per rendered frame with a little camera shake), ingested end to end.

Usage: ``python benchmarks/ingest_benchmark.py [--frames 60] [--size 480x360] [--samples 4]``
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


def _ingest(video: Path, assets: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bproc_factory", "ingest", str(video), "--name", "house",
                    "--category", "toy", "-o", str(assets), "-q", "--force"], check=True, capture_output=True)
    return time.perf_counter() - t


def _quality(capture: Path, asset: Path) -> dict:
    truth = json.loads((capture / "truth.json").read_text())
    spec = yaml.safe_load((asset / "asset.yaml").read_text())["capture"]
    w, h = truth["size"]
    ious, angle_err, card_ious = [], [], []
    K = np.array(spec["cameras"]["K"])
    board = spec["billboard"]
    for view, card in zip(spec["views"], board["cards"]):
        gt = cv2.imread(str(capture / "masks" / f"{view['frame']:04d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        ious.append(hull.iou(gt, cv2.imread(str(asset / view["mask"]), cv2.IMREAD_GRAYSCALE) > 127))
        expected = (-90.0 - truth["turntable_angle_deg"][view["frame"]]) % 360
        angle_err.append(abs((view["angle_deg"] - expected + 180) % 360 - 180))
        alpha = cv2.imread(str(asset / card["file"]), cv2.IMREAD_UNCHANGED)[..., 3]
        plane = card_plane_to_image(K, np.array(view["sheet_to_camera"]), card["angle_deg"], card["offset_m"])
        ppm = alpha.shape[1] / (2 * board["half_width_m"])
        to_plane = np.array([[1 / ppm, 0, -board["half_width_m"]], [0, -1 / ppm, board["height_m"]], [0, 0, 1]])
        shown = cv2.warpPerspective(alpha, plane @ to_plane @ TEXEL_CENTRE, (w, h), flags=cv2.INTER_NEAREST) > 0
        card_ious.append(hull.iou(shown, gt))
    out = {"views": len(ious), "mask_iou_mean": float(np.mean(ious)), "mask_iou_min": float(np.min(ious)),
           "angle_err_mean": float(np.mean(angle_err)), "angle_err_max": float(np.max(angle_err)),
           "focal_err": abs(K[0, 0] - truth["K"][0][0]) / truth["K"][0][0],
           "card_iou_mean": float(np.mean(card_ious))}
    if (asset / "mesh.glb").is_file():
        mesh = trimesh.load(asset / "mesh.glb", force="mesh")
        mesh.apply_transform(np.linalg.inv(Y_UP))
        gt_mesh = trimesh.load(capture / "object.ply")
        diagonal = float(np.linalg.norm(gt_mesh.bounds[1] - gt_mesh.bounds[0]))
        out["chamfer_pct"] = 100 * hull.chamfer(mesh, gt_mesh) / diagonal
        out["height_err"] = abs(mesh.bounds[1][2] - gt_mesh.bounds[1][2]) / gt_mesh.bounds[1][2]
        out["faces"] = len(mesh.faces)
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
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bpf_ingest_bench_"))
    try:
        t = time.perf_counter()
        subprocess.run([sys.executable, str(REPO / "examples" / "turntable" / "make_capture.py"), str(work / "capture"),
                        "--frames", str(args.frames), "--size", args.size, "--samples", str(args.samples)],
                       check=True, capture_output=True)
        render_s = time.perf_counter() - t
        seconds = _ingest(work / "capture" / "capture.mp4", work / "assets")
        q = _quality(work / "capture", work / "assets" / "house")
        video = _video_720p(work / "capture", work / "video720.mp4")
        seconds_720 = _ingest(video, work / "assets720")
        spec720 = yaml.safe_load((work / "assets720" / "house" / "asset.yaml").read_text())["capture"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"synthetic turntable: {args.frames} frames {args.size} (rendered in {render_s:.0f} s), uneven speed "
          f"(+-5 deg wobble), ArUco sheet; {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    print(f"{'figure':<40}{'value':>12}{'target':>12}")
    rows = [("mask IoU vs truth, mean", f"{q['mask_iou_mean']:.3f}", ">= 0.95"),
            ("mask IoU vs truth, worst view", f"{q['mask_iou_min']:.3f}", ""),
            ("view angle error, mean (deg)", f"{q['angle_err_mean']:.2f}", ""),
            ("view angle error, max (deg)", f"{q['angle_err_max']:.2f}", "<= 3"),
            ("focal length error", f"{100 * q['focal_err']:.1f}%", ""),
            ("mesh Chamfer / bbox diagonal", f"{q.get('chamfer_pct', float('nan')):.2f}%", "<= 2%"),
            ("mesh height error", f"{100 * q.get('height_err', float('nan')):.1f}%", ""),
            ("mesh faces", f"{q.get('faces', 0)}", ""),
            ("billboard card silhouette IoU, mean", f"{q['card_iou_mean']:.3f}", ""),
            (f"ingest time, {args.frames} frames {args.size} (s)", f"{seconds:.1f}", ""),
            ("ingest time, 10 s 720p video, 300 frames (s)", f"{seconds_720:.1f}", "<= 60"),
            ("  views kept from the 720p video", f"{len(spec720['views'])}", "")]
    for name, value, target in rows:
        print(f"{name:<40}{value:>12}{target:>12}")


if __name__ == "__main__":
    main()
