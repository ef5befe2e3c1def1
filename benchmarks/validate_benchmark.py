"""Measure ``validate`` throughput on a synthetic 640x480 dataset, with 1 and with all CPU workers.

Usage: ``python benchmarks/validate_benchmark.py [-n 1000]``. The dataset is written with the
factory's own writers (random boxes and discs as instances, noise as RGB), so no rendering is
needed; both worker counts run side by side in one process, and the 100k-image time is
extrapolated from the measured rate.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from bproc_factory.dataset.folder import Dataset, coco_record
from bproc_factory.labels.coco import annotations
from bproc_factory.qa.validation import validate

W, H, INSTANCES = 640, 480, 6


def synthetic_dataset(root: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    ds = Dataset(root)
    ds.check_writable()
    identity = {"config_sha256": "benchmark", "run_seed": 0, "categories": {"a": 1, "b": 2},
                "image_suffix": ".png", "inputs": {}}
    ds.claim(identity)
    records = {}
    for i in range(n):
        mask = np.zeros((H, W), np.uint16)
        for inst in range(1, INSTANCES + 1):
            x, y = rng.integers(0, W - 80), rng.integers(0, H - 80)
            if inst % 2:
                mask[y:y + rng.integers(10, 80), x:x + rng.integers(10, 80)] = inst
            else:
                cv2.circle(mask, (int(x) + 40, int(y) + 40), int(rng.integers(5, 40)), inst, -1)
        rgb = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
        present = {int(v) for v in np.unique(mask) if v}
        anns, _ = annotations(mask, i, {k: 1 + k % 2 for k in present})
        meta = {"image_index": i, "file_name": f"{i:06d}.png", "width": W, "height": H, "annotations": anns}
        ds.write_image(i, rgb, mask, meta, 95)
        records[i] = coco_record(meta)
    ds.write_coco(records, identity["categories"], identity)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bpf_validate_bench_"))
    try:
        synthetic_dataset(root, args.n)
        rates = {}
        for workers in (1, os.cpu_count() or 1):
            t = time.perf_counter()
            report = validate(root, workers)
            seconds = time.perf_counter() - t
            assert report.ok, report.problems[:3]
            rates[workers] = args.n / seconds
            print(f"{workers} worker(s): {args.n} images ({report.annotations} annotations) in {seconds:.2f} s "
                  f"= {rates[workers]:.0f} images/s -> 100k images in {100_000 / rates[workers] / 60:.1f} min")
        if len(rates) > 1:
            print(f"speed-up with {max(rates)} workers: {rates[max(rates)] / rates[1]:.2f}x")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
