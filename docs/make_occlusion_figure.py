"""Make ``docs/occlusion.jpg``: images of ``configs/occlusion-tabletop.yaml`` and
``configs/occlusion-bin-pile.yaml`` beside their visible masks and their amodal masks (outline of
the whole silhouette, the hidden part hatched, and each instance's recorded ``visib_fract``).

Usage: ``python docs/make_occlusion_figure.py [WORK_DIR]`` (renders 3 images, a few minutes on 2 cores).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from bproc_factory.dataset.records import annotations_by_image, category_names, open_dataset
from bproc_factory.labels.coco import decode_rle
from bproc_factory.qa.sheets import caption, fit, overlay, palette
from bproc_factory.run.job import render_dataset
from bproc_factory.run.preview import preview_overrides

DOCS = Path(__file__).resolve().parent
RUNS = [("occlusion-tabletop.yaml", 5, 2), ("occlusion-bin-pile.yaml", 2, 1)]  # config, seed, images
TILE = (400, 300)


def amodal_panel(image: np.ndarray, visible: np.ndarray, annotations: list[dict]) -> np.ndarray:
    """The image dimmed, each instance's amodal outline drawn, its hidden part hatched."""
    out = (image * 0.45).astype(np.uint8)
    colours = palette(max([a["instance_id"] for a in annotations] + [0]) + 1)
    stripes = (np.add.outer(np.arange(image.shape[0]), np.arange(image.shape[1])) // 4) % 2 == 0
    for ann in annotations:
        amodal = decode_rle(ann["segmentation_amodal"])
        colour = colours[ann["instance_id"]]
        shown = visible == ann["instance_id"]
        out[shown] = (0.5 * out[shown] + 0.5 * colour).astype(np.uint8)
        hidden = amodal & ~shown & stripes
        out[hidden] = colour
        contours, _ = cv2.findContours(amodal.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, colour.tolist(), 2)
        x, y = ann["bbox_amodal"][:2]
        caption(out, f"v={ann['visib_fract']:.2f}", (x, max(12, y - 4)), 0.5)
    return out


def main(work: Path) -> None:
    rows = []
    for name, seed, count in RUNS:
        config = DOCS.parent / "configs" / name
        out = work / config.stem
        render_dataset(config, out, count, seed=seed, overrides=preview_overrides(config, (), 640, 32))
        dataset, _, coco = open_dataset(out)
        by_image, names = annotations_by_image(coco), category_names(coco)
        for im in coco["images"]:
            image = cv2.imread(str(dataset.image_path(im["id"])))
            mask = cv2.imread(str(dataset.mask_path(im["id"])), cv2.IMREAD_UNCHANGED)
            anns = by_image.get(im["id"], [])
            tiles = [image, overlay(image, mask, anns, names), amodal_panel(image, mask, anns)]
            rows.append(np.hstack([fit(t, *TILE) for t in tiles]))
    bar = np.full((28, rows[0].shape[1], 3), 255, np.uint8)
    for k, text in enumerate(("image", "visible masks (COCO segmentation)", "amodal masks, hidden part hatched")):
        cv2.putText(bar, text, (8 + k * TILE[0], 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    target = DOCS / "occlusion.jpg"
    cv2.imwrite(str(target), np.vstack([bar, *rows]), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="bpf_occfig_")))
    import os
    os._exit(0)  # the bpy wheel can crash in static destructors at interpreter exit
