"""Make ``docs/demo.jpg`` for the README from a rendered dataset: each image beside its labels.

Usage: ``python docs/make_readme_figure.py OUT/demo [docs/demo.jpg]``
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np


def labelled(dataset: Path, image_id: int, names: dict[int, str]) -> np.ndarray:
    """The image with instance masks tinted, outlined and captioned by category."""
    image = cv2.imread(str(dataset / "images" / f"{image_id:06d}.png"))
    mask = cv2.imread(str(dataset / "masks" / f"{image_id:06d}.png"), cv2.IMREAD_UNCHANGED)
    meta = json.loads((dataset / "meta" / f"{image_id:06d}.json").read_text())
    out = image.copy()
    palette = np.random.default_rng(1).integers(60, 255, (int(mask.max()) + 1, 3))
    for ann in meta["annotations"]:
        binary = mask == ann["instance_id"]
        colour = [int(c) for c in palette[ann["instance_id"]]]
        out[binary] = (0.45 * out[binary] + 0.55 * np.array(colour)).astype(np.uint8)
        contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, colour, 1)
        x, y, w, h = ann["bbox"]
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), (255, 255, 255), 1)
        cv2.putText(out, names[ann["category_id"]], (x, max(y - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return np.hstack([image, out])


def main(dataset: Path, target: Path) -> None:
    coco = json.loads((dataset / "coco.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    rows = [labelled(dataset, im["id"], names) for im in coco["images"][:4]]
    sheet = np.vstack(rows)
    sheet = cv2.resize(sheet, (sheet.shape[1] // 2, sheet.shape[0] // 2), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(target), sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).parent / "demo.jpg")
