"""Render the demo config at 640x480 and print per-image time by stage, plus peak memory.

Usage: ``python benchmarks/render_benchmark.py [-n 4] [--config configs/demo.yaml] [--set k=v ...]``
Renders into a fresh temporary folder (deleted afterwards) so nothing is skipped.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sys
import tempfile
from pathlib import Path

from bproc_factory.run.job import STAGES, render_dataset

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=4, help="images to render (default 4)")
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "demo.yaml")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="bpf_bench_"))
    try:
        s = render_dataset(args.config, out, args.n, seed=args.seed,
                           overrides=tuple(["camera.resolution=[640, 480]", *args.overrides]))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = max(s.rendered, 1)
    print(f"config {args.config.name} @ 640x480, {s.rendered} images, {s.instances} instances, "
          f"device {s.device}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}")
    print(f"{'stage':<14}{'s/image':>10}{'share':>8}")
    total = s.seconds - s.setup_seconds
    for stage in STAGES:
        sec = s.stage_seconds.get(stage, 0.0)
        print(f"{stage:<14}{sec / n:>10.3f}{sec / total:>8.1%}")
    print(f"{'other':<14}{(total - sum(s.stage_seconds.values())) / n:>10.3f}")
    print(f"{'total':<14}{total / n:>10.3f}   (+ {s.setup_seconds:.1f} s one-off setup: config, "
          f"assets, scene load)")
    print(f"peak memory (max RSS): {peak_mib:.0f} MiB")
    sys.stdout.flush()
    os._exit(0)  # the bpy wheel can crash in static destructors at interpreter exit


if __name__ == "__main__":
    main()
