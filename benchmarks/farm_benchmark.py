"""Scaling and memory of the farm on this machine, each figure measured side by side in one run.

- scaling: wall time of the same images with 1 and 2 worker processes (``--workers``), and with
  1 and 2 Ray tasks (``farm --shards``), as speed-up ratios;
- memory: resident memory of one process over many images (MB per image, least-squares slope)
  against recycled workers (``--recycle-after``), whose peak stays bounded.

Usage: ``python benchmarks/farm_benchmark.py [-n 24] [--memory-images 200] [--resolution 160x120]``.
Defaults use small images so the run takes a few minutes on 2 cores; pass ``--resolution 640x480``
for the full-size figure.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "bproc_factory"]


def _sets(width: int, height: int, samples: int) -> list[str]:
    f = 620 * width / 640
    return ["--set", f"camera.resolution=[{width},{height}]",
            "--set", f"camera.K={{fx: {f}, fy: {f}, cx: {(width - 1) / 2}, cy: {(height - 1) / 2}}}",
            "--set", f"render.samples={samples}"]


def _timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _descendants(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return kids + [g for k in kids for g in _descendants(k)]


def _memory_trace(cmd: list[str], out: Path) -> tuple[list[int], list[float]]:
    """(images done, RSS of the rendering processes in MB) sampled while ``cmd`` runs."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done, rss = [], []
    while proc.poll() is None:
        pids = [proc.pid] + _descendants(proc.pid)
        n = len(list((out / "meta").glob("*.json"))) if (out / "meta").is_dir() else 0
        mb = max((_rss_mb(p) for p in pids), default=0.0)
        if n and mb:
            done.append(n)
            rss.append(mb)
        time.sleep(0.5)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed with exit {proc.returncode}")
    return done, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=24, help="images for the scaling runs")
    parser.add_argument("--memory-images", type=int, default=200)
    parser.add_argument("--resolution", default="160x120")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "demo.yaml")
    args = parser.parse_args()
    width, height = (int(v) for v in args.resolution.split("x"))
    sets = _sets(width, height, args.samples)
    work = Path(tempfile.mkdtemp(prefix="bpf_farm_bench_"))
    config = str(args.config)
    try:
        print(f"config {args.config.name} @ {width}x{height}, {args.samples} samples, {os.cpu_count()} CPUs, "
              f"{platform.machine()}")
        one = _timed(CLI + ["render", config, "-o", str(work / "w1"), "-n", str(args.n), "-q", *sets])
        two = _timed(CLI + ["render", config, "-o", str(work / "w2"), "-n", str(args.n), "--workers", "2",
                            "--recycle-after", str(max(2, args.n // 4)), "-q", *sets])
        print(f"workers: 1 process {one:.1f} s, 2 workers {two:.1f} s for {args.n} images "
              f"-> speed-up {one / two:.2f}x (efficiency {one / two / 2:.0%})")
        try:
            import ray  # noqa: F401
            r1 = _timed(CLI + ["farm", config, "-o", str(work / "r1"), "-n", str(args.n), "--shards", "1", "-q", *sets])
            r2 = _timed(CLI + ["farm", config, "-o", str(work / "r2"), "-n", str(args.n), "--shards", "2", "-q", *sets])
            print(f"ray: 1 task {r1:.1f} s, 2 tasks {r2:.1f} s (local cluster, start-up included) "
                  f"-> speed-up {r1 / r2:.2f}x (efficiency {r1 / r2 / 2:.0%})")
        except ImportError:
            print("ray: not installed (pip install -e '.[farm]')")
        m = args.memory_images
        done, rss = _memory_trace(CLI + ["render", config, "-o", str(work / "m1"), "-n", str(m), "-q", *sets],
                                  work / "m1")
        slope = np.polyfit(done, rss, 1)[0] if len(set(done)) > 1 else float("nan")
        done_r, rss_r = _memory_trace(CLI + ["render", config, "-o", str(work / "m2"), "-n", str(m), "--workers", "1",
                                             "--recycle-after", "25", "-q", *sets], work / "m2")
        print(f"memory over {m} images: one process grows {slope:.2f} MB/image (peak {max(rss):.0f} MB); "
              f"recycled every 25 images: peak {max(rss_r):.0f} MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
