"""Render once, develop many: a three-value ``sensor.profile`` sweep against one plain render of the
same images, and ``develop`` of a 100-image 640x480 dataset, timed side by side in one run.

Usage: ``python benchmarks/develop_benchmark.py [-n 6] [--develop-images 100]``
Part 1 times whole commands (start-up included): ``render -n N`` with the demo's sensor, then
``render -n N --sweep sensor.profile=<3 profiles>``, alternating twice. Part 2 renders a cheap
source (1 sample, no denoiser: develop's cost does not depend on it) keeping its linear renders,
then times ``develop`` to the noisiest profile with bloom, fog and dust on every image.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "configs" / "demo.yaml"
PROFILES = ("sensors/reference_phone.yaml", "sensors/cheap_industrial.yaml", "sensors/lowlight_noisy.yaml")
LENS = "lens={bloom: {probability: 1}, fog: {probability: 1}, dust: {probability: 1}}"


def timed(args: list[str]) -> float:
    """Wall seconds of ``bproc-factory ARGS``."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bproc_factory", *args], check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=6, help="images of the sweep comparison")
    parser.add_argument("--develop-images", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bpf_develop_"))
    common = [str(CONFIG), "-n", str(args.n), "--seed", "7", "-q", "--device", "cpu"]
    try:
        plain, sweep = [], []
        for r in range(args.repeats):
            plain.append(timed(["render", *common, "-o", str(work / f"plain{r}")]))
            sweep.append(timed(["render", *common, "-o", str(work / f"sweep{r}"),
                                "--sweep", "sensor.profile=" + ",".join(PROFILES)]))
        source = work / "source"
        n = args.develop_images
        timed(["render", str(CONFIG), "-n", str(n), "--seed", "7", "-q", "--device", "cpu", "-o", str(source),
               "--set", "render.samples=1", "--set", "render.denoiser=none", "--set", "render.keep_linear=true"])
        develop = timed(["develop", str(source), "-o", str(work / "developed"), "--set",
                         f"sensor.profile={PROFILES[2]}", "--set", LENS])
        print(f"demo.yaml @ 640x480, {os.cpu_count()} CPUs, {platform.machine()}, CPU rendering")
        print("| measurement | wall s (runs) | per image | ratio |\n|---|---|---|---|")
        p, s = statistics.median(plain), statistics.median(sweep)
        print(f"| plain render, {args.n} images | {p:.1f} ({', '.join(f'{t:.1f}' for t in plain)}) | "
              f"{p / args.n:.2f} s | 1 |")
        print(f"| 3-value `sensor.profile` sweep, {args.n} images each | {s:.1f} "
              f"({', '.join(f'{t:.1f}' for t in sweep)}) | {s / args.n:.2f} s | **{s / p:.2f}x** (target <= 1.3x) |")
        print(f"| `develop` of {n} images (lowlight_noisy, bloom, fog, dust) | {develop:.1f} | "
              f"**{develop / n:.3f} s** (target <= 1 s) | |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
