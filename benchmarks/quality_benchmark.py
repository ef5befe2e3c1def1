"""Time to quality: samples x denoising, the light tree, path guiding, BlenderProc's own default settings,
the shipped defaults and the demo's settings, each scored against the converged image, all rendered side
by side in one run.

Usage: ``python benchmarks/quality_benchmark.py [-n 2] [--resolution 240x180] [--reference-samples 2048]``

One 2048-sample reference holds noise of its own, which caps any score against it (BlenderProc's
defaults reach 42.5 dB against it on the demo). So two references are rendered with independent noise
(``render.noise_pattern`` 1 and 2; every setting renders pattern 0) and each image gets two scores:

- ``vs ref``: PSNR against reference 1, its noise included;
- ``vs converged``: PSNR against the noise-free image, from the unbiased estimate
  ``MSE(x, (r1 + r2) / 2) - MSE(r1, r2) / 4`` (the three noises are independent, and
  ``E[MSE(r1, r2)]`` is twice one reference's noise variance).

The check row (256 samples, no adaptive sampling, no denoiser: nothing but noise) tests the estimate: its
estimated error should match its noise variance, half its MSE against a second 256-sample render with
independent noise. Rows with at least 45 dB against the converged image at 5x BlenderProc's speed are
starred. Time: the process's seconds per image after start-up.
"""
from __future__ import annotations

import argparse
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from bproc_factory.config.scenario import RenderConfig

REPO = Path(__file__).resolve().parent.parent
SAMPLES = (8, 16, 32, 64)
HIGH = ((128, 0.05), (128, 0.02), (256, 0.02), (512, 0.01))  # samples, noise threshold
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
# (its compositor node; the node's prefilter is accurate), light tree off. Its bounce defaults (glossy 0,
# transmission 0) would render another image (black glass), so the scene's bounces are kept.
BLENDERPROC = ("render.samples=1024", "render.noise_threshold=0.01", *GUIDED, "render.light_tree=false")
_DEFAULT = RenderConfig()
SHIPPED = tuple(f"render.{key}={getattr(_DEFAULT, key)}" for key in (
    "samples", "noise_threshold", "denoiser", "denoise_guides", "denoise_prefilter", "light_tree", "path_guiding"))
CHECK_SAMPLES = 256
CHECK = (f"check: {CHECK_SAMPLES} samples, no adaptive sampling, no denoiser",
         (f"render.samples={CHECK_SAMPLES}", "render.noise_threshold=0", "render.denoiser=none"))
TARGET_DB, TARGET_SPEEDUP = 45.0, 5.0


@dataclass(frozen=True)
class Row:
    """One setting's time and scores, means over the images."""

    label: str
    seconds: float
    psnr_ref: float
    psnr_converged: float
    off: float
    mse_converged: float


def settings(noise_threshold: float) -> dict[str, tuple[str, ...]]:
    """Every setting the benchmark renders, by label (BlenderProc's first: the others' speed is against it)."""
    out = {"BlenderProc defaults (1024 samples, 0.01, OIDN guided, no light tree)": BLENDERPROC,
           f"shipped defaults ({_DEFAULT.samples} samples, {_DEFAULT.noise_threshold}, OIDN guided, light tree)":
               SHIPPED,
           "demo settings": ()}
    for samples in SAMPLES:
        for name, sets in DENOISE.items():
            out[f"{samples} samples, {name}"] = (f"render.samples={samples}",
                                                 f"render.noise_threshold={noise_threshold}", *sets)
    for samples in (16, 32):
        base = (f"render.samples={samples}", f"render.noise_threshold={noise_threshold}", *GUIDED)
        out[f"{samples} samples, oidn guided accurate, no light tree"] = (*base, "render.light_tree=false")
        out[f"{samples} samples, oidn guided accurate, path guiding"] = (*base, "render.path_guiding=true")
    for samples, threshold in HIGH:
        out[f"{samples} samples, {threshold}, oidn guided accurate"] = (
            f"render.samples={samples}", f"render.noise_threshold={threshold}", *GUIDED)
    out[CHECK[0]] = CHECK[1]
    return out


def _sets(width: int, height: int) -> list[str]:
    f = 620 * width / 640
    return [f"camera.resolution=[{width},{height}]",
            f"camera.K={{fx: {f}, fy: {f}, cx: {(width - 1) / 2}, cy: {(height - 1) / 2}}}"]


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def converged_mse(image: np.ndarray, ref1: np.ndarray, ref2: np.ndarray) -> float:
    """Unbiased estimate of the image's MSE against the noise-free image, from two references whose noise is
    independent of each other and of the image's."""
    return mse(image, (ref1.astype(np.float64) + ref2) / 2) - mse(ref1, ref2) / 4


def noise_variance(renders: list[np.ndarray], others: list[np.ndarray]) -> float:
    """One render's noise variance, from renders of the same images with independent noise: half their MSE."""
    return float(np.mean([mse(a, b) / 2 for a, b in zip(renders, others, strict=True)]))


def psnr(mse_value: float) -> float:
    return float("inf") if mse_value <= 0 else 10 * np.log10(255.0 ** 2 / mse_value)


def render(config: Path, out: Path, n: int, sets: tuple[str, ...]) -> float:
    """Render ``n`` images with ``--set``s; seconds per image after setup, from the summary line."""
    cmd = [sys.executable, "-m", "bproc_factory", "render", str(config), "-n", str(n), "--seed", "7", "-q",
           "--device", "cpu", "-o", str(out), *[a for s in sets for a in ("--set", s)]]
    text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return float(re.search(r"([\d.]+) s/image after setup", text).group(1))


def _images(folder: Path, n: int) -> list[np.ndarray]:
    return [cv2.imread(str(folder / "images" / f"{i:06d}.png")) for i in range(n)]


def score(label: str, seconds: float, images: list[np.ndarray], refs1: list[np.ndarray],
          refs2: list[np.ndarray]) -> Row:
    errors = [converged_mse(x, r1, r2) for x, r1, r2 in zip(images, refs1, refs2, strict=True)]
    mean_ref = [(r1.astype(np.float64) + r2) / 2 for r1, r2 in zip(refs1, refs2, strict=True)]
    off = [float(np.mean(np.abs(x - m).max(axis=2) > 8)) for x, m in zip(images, mean_ref, strict=True)]
    return Row(label, seconds, float(np.mean([psnr(mse(x, r)) for x, r in zip(images, refs1, strict=True)])),
               float(np.mean([psnr(e) for e in errors])), float(np.mean(off)), float(np.mean(errors)))


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
        refs = []
        for pattern in (1, 2):
            render(args.config, work / f"ref{pattern}", args.n, (
                *size, f"render.samples={args.reference_samples}", "render.noise_threshold=0",
                "render.denoiser=none", f"render.noise_pattern={pattern}"))
            refs.append(_images(work / f"ref{pattern}", args.n))
        ref_noise = noise_variance(*refs)
        rows = []
        for k, (label, sets) in enumerate(settings(args.noise_threshold).items()):
            folder = work / ("check" if label == CHECK[0] else str(k))
            seconds = render(args.config, folder, args.n, (*size, *sets))
            rows.append(score(label, seconds, _images(folder, args.n), *refs))
            print(f"  {label}: {seconds:.2f} s/image, {rows[-1].psnr_converged:.2f} dB", file=sys.stderr, flush=True)
        baseline = rows[0].seconds
        print(f"config {args.config.name} @ {width}x{height}, {args.n} images, two {args.reference_samples}-sample "
              f"references with independent noise (no adaptive sampling, no denoiser), CPU "
              f"({platform.processor() or platform.machine()}), grid noise threshold {args.noise_threshold}; "
              f"* = >= {TARGET_DB:g} dB against the converged image at >= {TARGET_SPEEDUP:g}x BlenderProc's speed")
        print("| setting | s/image | PSNR dB vs converged | PSNR dB vs ref | px >8 off | x BlenderProc speed |\n"
              "|---|---|---|---|---|---|")
        for row in sorted(rows, key=lambda r: r.seconds):
            star = " *" if row.psnr_converged >= TARGET_DB and baseline / row.seconds >= TARGET_SPEEDUP else ""
            print(f"| {row.label}{star} | {row.seconds:.2f} | {row.psnr_converged:.2f} | {row.psnr_ref:.2f} | "
                  f"{row.off:.2%} | {baseline / row.seconds:.1f} |")
        check = next(r for r in rows if r.label == CHECK[0])
        render(args.config, work / "twin", args.n, (*size, *CHECK[1], "render.noise_pattern=3"))
        twin_noise = noise_variance(_images(work / "check", args.n), _images(work / "twin", args.n))
        print(f"\nreference noise: MSE {ref_noise:.2f} per reference, so a second reference scores "
              f"{psnr(2 * ref_noise):.2f} dB against the first (the ceiling of 'vs ref'); estimator check: the "
              f"{CHECK_SAMPLES}-sample undenoised image's estimated MSE against the converged image is "
              f"{check.mse_converged:.2f}, its noise variance (from a second render) {twin_noise:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
