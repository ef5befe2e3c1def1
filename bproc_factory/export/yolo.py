"""YOLO (Ultralytics) export: detection boxes or segmentation polygons, split by scene.

Layout: ``dataset.yaml``, ``images/{train,val}/`` (hard links to the dataset's images) and
``labels/{train,val}/*.txt``. Class ids are the COCO category ids in ascending order, renumbered
0..K-1. All views of one scene land in the same split, so near-duplicate views never straddle it.
Polygons trace each instance's outer boundary through boundary-pixel centres; disjoint parts are
joined by zero-width bridges; holes are not represented.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import yaml

from bproc_factory.dataset import COCO_FILE, RUN_FILE
from bproc_factory.files import link_or_copy, require_empty
from bproc_factory.qa.records import read_json, require_dataset
from bproc_factory.seeding import seed_int

Task = Literal["detect", "segment"]


@dataclass(frozen=True)
class YoloSummary:
    output: Path
    train_images: int
    val_images: int
    labels: int


def split_of(scene_index: int, val_fraction: float, seed: int) -> str:
    """``"val"`` for a seeded ``val_fraction`` of scenes, ``"train"`` for the rest."""
    return "val" if seed_int(seed, "split", scene_index) / 2**31 < val_fraction else "train"


def mask_polygon(binary: np.ndarray) -> np.ndarray:
    """One polygon (N x 2, pixel coordinates) covering every part of a boolean mask."""
    contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    parts = sorted((c.reshape(-1, 2) for c in contours), key=lambda c: (c[:, 0].min(), c[:, 1].min()))
    polygon = parts[0]
    for part in parts[1:]:
        d = np.linalg.norm(polygon[:, None, :].astype(float) - part[None, :, :], axis=2)
        i, j = np.unravel_index(np.argmin(d), d.shape)
        loop = np.roll(part, -j, axis=0)
        polygon = np.concatenate([polygon[:i + 1], loop, loop[:1], polygon[i:]])
    return polygon


def label_lines(mask: np.ndarray, annotations: list[dict[str, Any]], classes: dict[int, int],
                task: Task) -> list[str]:
    """YOLO label lines (normalised coordinates) for one image."""
    h, w = mask.shape
    lines = []
    for ann in annotations:
        cls = classes[ann["category_id"]]
        if task == "detect":
            x, y, bw, bh = ann["bbox"]
            values = [(x + bw / 2) / w, (y + bh / 2) / h, bw / w, bh / h]
        else:
            poly = mask_polygon(mask == ann["instance_id"]).astype(float)
            values = (poly / [w, h]).ravel().tolist()
        lines.append(" ".join([str(cls)] + [f"{v:.6f}" for v in values]))
    return lines


def polygon_to_mask(line: str, width: int, height: int) -> np.ndarray:
    """Rasterise one segmentation label line back to a boolean mask (the round trip)."""
    values = np.array(line.split()[1:], float).reshape(-1, 2) * [width, height]
    out = np.zeros((height, width), np.uint8)
    cv2.fillPoly(out, [np.round(values).astype(np.int32)], 1)
    return out.astype(bool)


def export_yolo(root: Path, out: Path, task: Task = "segment", val_fraction: float = 0.2,
                seed: int = 0) -> YoloSummary:
    """Write the YOLO export of the dataset at ``root`` into the new folder ``out``."""
    require_dataset(root)
    require_empty(out, "YOLO export")
    coco, identity = read_json(root / COCO_FILE), read_json(root / RUN_FILE)
    suffix = identity.get("image_suffix", ".png")
    classes = {cid: k for k, cid in enumerate(sorted(c["id"] for c in coco["categories"]))}
    names = {classes[c["id"]]: c["name"] for c in coco["categories"]}
    by_image: dict[int, list[dict]] = {}
    for ann in coco["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    counts = {"train": 0, "val": 0}
    labels = 0
    for split in counts:
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    for image in coco["images"]:
        i = image["id"]
        meta = read_json(root / "meta" / f"{i:06d}.json")
        split = split_of(meta["scene_index"], val_fraction, seed)
        mask = cv2.imread(str(root / "masks" / f"{i:06d}.png"), cv2.IMREAD_UNCHANGED)
        lines = label_lines(mask, by_image.get(i, []), classes, task)
        link_or_copy(root / "images" / f"{i:06d}{suffix}", out / "images" / split / f"{i:06d}{suffix}")
        (out / "labels" / split / f"{i:06d}.txt").write_text("".join(f"{ln}\n" for ln in lines))
        counts[split] += 1
        labels += len(lines)
    spec = {"path": str(out.resolve()), "train": "images/train", "val": "images/val", "names": names,
            "task": task, "source": str(root.resolve()), "val_fraction": val_fraction, "split_seed": seed}
    (out / "dataset.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return YoloSummary(out, counts["train"], counts["val"], labels)
