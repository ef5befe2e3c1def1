"""Blender versions side by side: the same demo images rendered by two Python environments (each with
this checkout and its own ``bpy`` wheel), alternating runs: time per image, peak memory,
determinism (a second run byte-identical) and agreement with the first environment's images.

Usage: ``python benchmarks/blender_version_benchmark.py PYTHON_A PYTHON_B [-n 4] [--repeats 2]``
e.g. ``.venv/bin/python`` (bpy 4.2) against a venv with ``pip install -e . && pip install bpy==4.5.*
--no-deps`` and ``numpy<2`` (bpy 4.5's wheel is built against NumPy 1).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "configs" / "demo.yaml"


def run(python: str, out: Path, n: int, size: tuple[int, int]) -> tuple[float, float]:
    """Render ``n`` demo images with ``python``; (seconds per image after setup, peak RSS in MB)."""
    w, h = size
    f = 620 * w / 640
    cmd = [python, "-m", "bproc_factory", "render", str(CONFIG), "-n", str(n), "--seed", "7", "-q", "--device", "cpu",
           "-o", str(out), "--set", f"camera.resolution=[{w},{h}]",
           "--set", f"camera.K={{fx: {f}, fy: {f}, cx: {(w - 1) / 2}, cy: {(h - 1) / 2}}}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
    text = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own resource use
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed")
    return float(re.search(r"([\d.]+) s/image after setup", text).group(1)), usage.ru_maxrss / 1024


def version(python: str) -> str:
    code = "import bpy; print(bpy.app.version_string)"
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip().splitlines()[-1]


def same_files(a: Path, b: Path, sub: str) -> bool:
    return all((a / sub / p.name).read_bytes() == p.read_bytes() for p in sorted((b / sub).iterdir()))


def psnr(a: Path, b: Path) -> float:
    scores = []
    for p in sorted((a / "images").iterdir()):
        x, y = (cv2.imread(str(q)).astype(np.float64) for q in (p, b / "images" / p.name))
        mse = np.mean((x - y) ** 2)
        scores.append(float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse))
    return float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pythons", nargs=2)
    parser.add_argument("-n", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--resolution", default="320x240")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.resolution.split("x"))
    work = Path(tempfile.mkdtemp(prefix="bpf_versions_"))
    try:
        results: dict[int, list[tuple[float, float]]] = {0: [], 1: []}
        for r in range(args.repeats):
            for k, python in enumerate(args.pythons):
                results[k].append(run(python, work / f"{k}-{r}", args.n, size))
        print(f"demo.yaml @ {args.resolution}, {args.n} images per run, {args.repeats} runs each (alternating), "
              f"{os.cpu_count()} CPUs, CPU rendering")
        print("| Blender | s/image (runs) | peak RSS MB | run 2 == run 1 | masks == first | PSNR vs first |")
        print("|---|---|---|---|---|---|")
        for k, python in enumerate(args.pythons):
            times = [t for t, _ in results[k]]
            first, mine = work / "0-0", work / f"{k}-0"
            print(f"| {version(python)} | {statistics.median(times):.2f} ({', '.join(f'{t:.2f}' for t in times)}) | "
                  f"{max(m for _, m in results[k]):.0f} | "
                  f"{same_files(mine, work / f'{k}-1', 'images') and same_files(mine, work / f'{k}-1', 'masks')} | "
                  f"{same_files(first, mine, 'masks')} | {psnr(first, mine):.1f} dB |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
