"""Time to quality: Cycles max samples x adaptive noise threshold x denoiser, against PSNR to a
high-sample reference of the same images, all rendered side by side in one run.

Usage: ``python benchmarks/quality_benchmark.py [-n 2] [--resolution 240x180] [--reference-samples 1024]``
Prints one row per setting (seconds per image, PSNR in dB against the reference, and the share
of 8-bit pixels more than 8 levels off): first the settings within 0.5 dB of the best PSNR, then
the rest, each by time.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
SAMPLES = (8, 16, 32, 64, 128)
THRESHOLDS = (0.1, 0.02)
DENOISERS = ("oidn", "none")


def _sets(width: int, height: int) -> list[str]:
    f = 620 * width / 640
    return ["--set", f"camera.resolution=[{width},{height}]",
            "--set", f"camera.K={{fx: {f}, fy: {f}, cx: {(width - 1) / 2}, cy: {(height - 1) / 2}}}"]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2)
    parser.add_argument("--resolution", default="240x180")
    parser.add_argument("--reference-samples", type=int, default=1024)
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "demo.yaml")
    args = parser.parse_args()
    width, height = (int(v) for v in args.resolution.split("x"))
    work = Path(tempfile.mkdtemp(prefix="bpf_quality_"))
    cli = [sys.executable, "-m", "bproc_factory", "render", str(args.config), "-n", str(args.n), "--seed", "7", "-q",
           *_sets(width, height)]
    try:
        subprocess.run(cli + ["-o", str(work / "ref"), "--set", f"render.samples={args.reference_samples}",
                              "--set", "render.noise_threshold=0", "--set", "render.denoiser=none"],
                       check=True, capture_output=True)
        sweep = ["--sweep", "render.samples=" + ",".join(map(str, SAMPLES)),
                 "--sweep", "render.noise_threshold=" + ",".join(map(str, THRESHOLDS)),
                 "--sweep", "render.denoiser=" + ",".join(DENOISERS)]
        out = subprocess.run(cli + ["-o", str(work / "grid"), *sweep], check=True, capture_output=True, text=True).stdout
        seconds = {str(Path(m.group(2)).relative_to(work / "grid")): float(m.group(1))
                   for m in re.finditer(r"([\d.]+) s/image after setup on .*?-> (\S+)", out)}
        rows = []
        for subset, s_per_image in seconds.items():
            psnr, off = [], []
            for i in range(args.n):
                ref = cv2.imread(str(work / "ref" / "images" / f"{i:06d}.png"))
                img = cv2.imread(str(work / "grid" / subset / "images" / f"{i:06d}.png"))
                psnr.append(_psnr(img, ref))
                off.append(float(np.mean(np.abs(img.astype(int) - ref.astype(int)).max(axis=2) > 8)))
            rows.append((subset, s_per_image, float(np.mean(psnr)), float(np.mean(off))))
        best = max(r[2] for r in rows)
        print(f"config {args.config.name} @ {width}x{height}, {args.n} images, reference {args.reference_samples} "
              f"samples (no adaptive sampling, no denoiser), CPU")
        print(f"{'setting':58s} {'s/image':>8s} {'PSNR dB':>8s} {'px >8 off':>9s}")
        for subset, t, p, o in sorted(rows, key=lambda r: (r[2] < best - 0.5, r[1])):
            print(f"{subset:58s} {t:8.2f} {p:8.2f} {o:9.2%}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
