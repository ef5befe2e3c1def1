"""Make ``docs/sensor_strip.jpg``: one demo scene through several sensor profiles and lens obstructions.

Renders image 0 of ``configs/demo.yaml`` at 320x240 once per variant with ``--sweep`` (the same seed
gives the same scene, so only the sensor or the lens differs) and lays the results out in a grid.
Usage: ``python docs/make_sensor_strip.py [WORK_DIR]``
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from bproc_factory.qa.sheets import caption
from bproc_factory.run.sweep import subsets

REPO = Path(__file__).resolve().parent.parent
SMALL = ["--set", "camera.resolution=[320, 240]", "--set", "camera.K={fx: 310, fy: 310, cx: 159.5, cy: 119.5}"]
VARIANTS = {  # sweep spec -> tile titles, in order
    "sensor.profile=[null, sensors/reference_phone.yaml, sensors/cheap_industrial.yaml, sensors/lowlight_noisy.yaml]":
        ["render (plain sRGB)", "reference phone", "cheap industrial", "low-light noisy"],
    "lens=[{fog: {density: 0.55, coverage: 0.7, blur_px: 5}}, "
    "{dust: {spots: 14, spot_radius_px: 9, spot_opacity: 0.45, smudges: 2}}, "
    "{bloom: {threshold: 0.35, strength: 1.5, radius_px: 10}}]":
        ["lens fog", "dust and smudges", "bloom"],
}


def main(work: Path) -> None:
    cells = []
    for k, (spec, titles) in enumerate(VARIANTS.items()):
        out = work / f"sweep{k}"
        subprocess.run([sys.executable, "-m", "bproc_factory", "render", str(REPO / "configs" / "demo.yaml"),
                        "-o", str(out), "-n", "1", "--seed", "7", "-q", *SMALL, "--sweep", spec], check=True)
        for subset, title in zip(subsets([spec]), titles):
            cell = cv2.imread(str(out / subset.name / "images" / "000000.png"))
            caption(cell, title, (6, cell.shape[0] - 8), 0.5)
            cells.append(cell)
    while len(cells) % 4:
        cells.append(np.full_like(cells[0], 255))
    grid = np.vstack([np.hstack(cells[r:r + 4]) for r in range(0, len(cells), 4)])
    target = REPO / "docs" / "sensor_strip.jpg"
    cv2.imwrite(str(target), grid, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="bpf_strip_")))
