"""Make the README figures from a rendered dataset: ``docs/demo.jpg`` (images beside their labels)
and, given its report folder, ``docs/report.jpg`` (a headless-Chromium screenshot of the report);
or ``docs/evaluate.jpg``, a screenshot of an ``evaluate`` page (the closed-loop example's probe).

Usage: ``python docs/make_readme_figure.py OUT/demo [OUT/demo-report]`` or
``python docs/make_readme_figure.py --evaluate OUT/closed_loop/sensor/probe_eval``
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from bproc_factory.dataset.records import category_names
from bproc_factory.qa.sheets import overlay

DOCS = Path(__file__).resolve().parent


def demo_figure(dataset: Path, target: Path) -> None:
    coco = json.loads((dataset / "coco.json").read_text())
    names = category_names(coco)
    rows = []
    for im in coco["images"][:4]:
        image = cv2.imread(str(dataset / "images" / im["file_name"]))
        mask = cv2.imread(str(dataset / "masks" / f"{im['id']:06d}.png"), cv2.IMREAD_UNCHANGED)
        anns = [a for a in coco["annotations"] if a["image_id"] == im["id"]]
        rows.append(np.hstack([image, overlay(image, mask, anns, names)]))
    sheet = np.vstack(rows)
    sheet = cv2.resize(sheet, (sheet.shape[1] // 2, sheet.shape[0] // 2), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(target), sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {target}")


def report_screenshot(report: Path, target: Path, height: int = 1700) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("needs Debian's chromium for the report screenshot")
    png = Path(tempfile.mkdtemp()) / "report.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tempfile.mkdtemp()}", f"--window-size=1280,{height}",
                    f"--screenshot={png}", (report / "index.html").resolve().as_uri()],
                   check=True, capture_output=True)
    shot = cv2.imread(str(png))
    cv2.imwrite(str(target), cv2.resize(shot, (shot.shape[1] * 3 // 4, shot.shape[0] * 3 // 4),
                                        interpolation=cv2.INTER_AREA), [cv2.IMWRITE_JPEG_QUALITY, 80])
    print(f"wrote {target}")


if __name__ == "__main__":
    if sys.argv[1] == "--evaluate":
        report_screenshot(Path(sys.argv[2]), DOCS / "evaluate.jpg", height=1500)
        raise SystemExit
    demo_figure(Path(sys.argv[1]), DOCS / "demo.jpg")
    if len(sys.argv) > 2:
        report_screenshot(Path(sys.argv[2]), DOCS / "report.jpg")
