"""Make ``docs/environments.jpg``: one rendered image per shipped environment type (tabletop,
retail shelf, conveyor with bin, photo backplate), each beside its labels.

Usage: ``python docs/make_environment_figure.py [WORK_DIR]`` (renders 4 images, a few minutes on 2 cores).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from bproc_factory.dataset.records import annotations_by_image, category_names, open_dataset
from bproc_factory.qa.sheets import overlay
from bproc_factory.run.job import render_dataset
from bproc_factory.run.preview import preview_overrides

DOCS = Path(__file__).resolve().parent
CONFIGS = DOCS.parent / "configs"
PANELS = [("demo.yaml", 7, "tabletop (scenes/tabletop.blend)"),
          ("retail-shelf.yaml", 3, "retail shelf (scenes/retail_shelf.blend)"),
          ("conveyor-bin.yaml", 2, "conveyor with bin (scenes/conveyor_bin.blend)"),
          ("backplate-coffee.yaml", 4, "photo backplate (scenes/backplates/coffee_table)")]
TILE = (400, 300)


def _fit(image: np.ndarray) -> np.ndarray:
    """Letterbox ``image`` into a TILE-sized tile."""
    h, w = image.shape[:2]
    s = min(TILE[0] / w, TILE[1] / h)
    small = cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    tile = np.full((TILE[1], TILE[0], 3), 255, np.uint8)
    y, x = (TILE[1] - small.shape[0]) // 2, (TILE[0] - small.shape[1]) // 2
    tile[y:y + small.shape[0], x:x + small.shape[1]] = small
    return tile


def panel(config: Path, seed: int, caption: str, work: Path) -> np.ndarray:
    """Render image 0 of ``config`` and return it beside its labels, captioned."""
    out = work / config.stem
    render_dataset(config, out, 1, seed=seed, overrides=preview_overrides(config, (), 640, 32))
    dataset, _, coco = open_dataset(out)
    im = coco["images"][0]
    image = cv2.imread(str(dataset.image_path(im["id"])))
    mask = cv2.imread(str(dataset.mask_path(im["id"])), cv2.IMREAD_UNCHANGED)
    labels = overlay(image, mask, annotations_by_image(coco).get(im["id"], []), category_names(coco))
    row = np.hstack([_fit(image), _fit(labels)])
    bar = np.full((28, row.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, caption, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, row])


def main(work: Path) -> None:
    rows = [panel(CONFIGS / name, seed, caption, work) for name, seed, caption in PANELS]
    target = DOCS / "environments.jpg"
    cv2.imwrite(str(target), np.vstack(rows), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="bpf_envfig_")))
    import os
    os._exit(0)  # the bpy wheel can crash in static destructors at interpreter exit
