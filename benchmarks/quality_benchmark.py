"""Time to quality: samples x denoising (unguided, guided by albedo and normal, prefilter), the light
tree, path guiding, BlenderProc's own default settings and the shipped demo settings, each against
PSNR to a 2048-sample reference of the same images, all rendered side by side in one run.

Usage: ``python benchmarks/quality_benchmark.py [-n 2] [--resolution 240x180] [--reference-samples 2048]``
Prints one row per setting: seconds per image (process time less start-up), PSNR in dB against the
reference, the share of 8-bit pixels more than 8 levels off, and the speed against BlenderProc's
defaults; rows with at least 45 dB at 5x BlenderProc's speed are starred.
"""
from __future__ import annotations

import argparse
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
SAMPLES = (8, 16, 24, 32, 64)
DENOISE = {
    "none": ("render.denoiser=none",),
    "oidn colour only": ("render.denoiser=oidn", "render.denoise_guides=none", "render.denoise_prefilter=none"),
    "oidn guided, fast prefilter": ("render.denoiser=oidn", "render.denoise_guides=albedo_normal",
                                    "render.denoise_prefilter=fast"),
    "oidn guided, accurate prefilter": ("render.denoiser=oidn", "render.denoise_guides=albedo_normal",
                                        "render.denoise_prefilter=accurate"),
}
GUIDED = DENOISE["oidn guided, accurate prefilter"]
# BlenderProc 2.8's bproc.init(): 1024 samples, noise threshold 0.01, OIDN guided by albedo and normal
# (its compositor node; the node's prefilter is accurate). Its bounce defaults (glossy 0, transmission 0)
# would render another image (black glass), so the scene's bounces are kept for a like-for-like PSNR.
BLENDERPROC = ("render.samples=1024", "render.noise_threshold=0.01", *GUIDED)
TARGET_DB, TARGET_SPEEDUP = 45.0, 5.0


def settings(noise_threshold: float) -> dict[str, tuple[str, ...]]:
    """Every setting the benchmark renders, by label (the reference and BlenderProc's first)."""
    out = {"BlenderProc defaults (1024 samples, 0.01, OIDN guided)": BLENDERPROC,
           "shipped demo settings": ()}
    for samples in SAMPLES:
        for name, sets in DENOISE.items():
            out[f"{samples} samples, {name}"] = (f"render.samples={samples}",
                                                 f"render.noise_threshold={noise_threshold}", *sets)
    for samples in (16, 32):
        base = (f"render.samples={samples}", f"render.noise_threshold={noise_threshold}", *GUIDED)
        out[f"{samples} samples, oidn guided accurate, light tree"] = (*base, "render.light_tree=true")
        out[f"{samples} samples, oidn guided accurate, path guiding"] = (*base, "render.path_guiding=true")
    return out


def _sets(width: int, height: int) -> list[str]:
    f = 620 * width / 640
    return [f"camera.resolution=[{width},{height}]",
            f"camera.K={{fx: {f}, fy: {f}, cx: {(width - 1) / 2}, cy: {(height - 1) / 2}}}"]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def render(config: Path, out: Path, n: int, sets: tuple[str, ...]) -> float:
    """Render ``n`` images with ``--set``s; seconds per image after setup, from the summary line."""
    cmd = [sys.executable, "-m", "bproc_factory", "render", str(config), "-n", str(n), "--seed", "7", "-q",
           "--device", "cpu", "-o", str(out), *[a for s in sets for a in ("--set", s)]]
    text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return float(re.search(r"([\d.]+) s/image after setup", text).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2)
    parser.add_argument("--resolution", default="240x180")
    parser.add_argument("--reference-samples", type=int, default=2048)
    parser.add_argument("--noise-threshold", type=float, default=0.1, help="adaptive threshold of the grid")
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "demo.yaml")
    args = parser.parse_args()
    width, height = (int(v) for v in args.resolution.split("x"))
    size = tuple(_sets(width, height))
    work = Path(tempfile.mkdtemp(prefix="bpf_quality_"))
    try:
        render(args.config, work / "ref", args.n, (*size, f"render.samples={args.reference_samples}",
                                                   "render.noise_threshold=0", "render.denoiser=none"))
        rows = []
        for k, (label, sets) in enumerate(settings(args.noise_threshold).items()):
            seconds = render(args.config, work / str(k), args.n, (*size, *sets))
            scores, off = [], []
            for i in range(args.n):
                ref = cv2.imread(str(work / "ref" / "images" / f"{i:06d}.png"))
                img = cv2.imread(str(work / str(k) / "images" / f"{i:06d}.png"))
                scores.append(psnr(img, ref))
                off.append(float(np.mean(np.abs(img.astype(int) - ref.astype(int)).max(axis=2) > 8)))
            rows.append((label, seconds, float(np.mean(scores)), float(np.mean(off))))
            print(f"  {label}: {seconds:.2f} s/image, {rows[-1][2]:.2f} dB", file=sys.stderr, flush=True)
        baseline = rows[0][1]
        print(f"config {args.config.name} @ {width}x{height}, {args.n} images, reference {args.reference_samples} "
              f"samples (no adaptive sampling, no denoiser), CPU ({platform.processor() or platform.machine()}), "
              f"grid noise threshold {args.noise_threshold}; * = >= {TARGET_DB:g} dB at >= {TARGET_SPEEDUP:g}x "
              "BlenderProc's speed")
        print(f"| setting | s/image | PSNR dB | px >8 off | x BlenderProc speed |\n|---|---|---|---|---|")
        for label, t, p, o in sorted(rows, key=lambda r: r[1]):
            star = " *" if p >= TARGET_DB and baseline / t >= TARGET_SPEEDUP else ""
            print(f"| {label}{star} | {t:.2f} | {p:.2f} | {o:.2%} | {baseline / t:.1f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
