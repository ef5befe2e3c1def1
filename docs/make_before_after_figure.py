"""Make ``docs/before_after.jpg``: the same demo images (seed 7) rendered as the demo was before the
realism work (left: flat world, sRGB with a hard clip, plain assets) and as it is (right: office
HDRI, AgX, real materials, a phone sensor), from the first and last steps of
``benchmarks/photoreal_benchmark.py``.

Usage: ``python docs/make_before_after_figure.py [-n 2]``
"""
from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

DOCS = Path(__file__).resolve().parent
BENCHMARK = DOCS.parent / "benchmarks" / "photoreal_benchmark.py"


def _benchmark():
    spec = importlib.util.spec_from_file_location("photoreal_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bpf_before_after_"))
    try:
        configs = _benchmark().steps(work)
        columns = []
        for k, (_, config) in enumerate((configs[0], configs[-1])):
            out = work / f"out{k}"
            subprocess.run([sys.executable, "-m", "bproc_factory", "render", str(config), "-o", str(out), "-n",
                            str(args.n), "--seed", "7", "-q"], check=True, capture_output=True)
            columns.append(np.vstack([cv2.imread(str(p)) for p in sorted((out / "images").glob("*"))]))
        sheet = np.hstack(columns)
        sheet = cv2.resize(sheet, (sheet.shape[1] // 2, sheet.shape[0] // 2), interpolation=cv2.INTER_AREA)
        target = DOCS / "before_after.jpg"
        cv2.imwrite(str(target), sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
        print(f"wrote {target}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
