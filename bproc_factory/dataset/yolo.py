"""YOLO (Ultralytics) export: detection boxes or segmentation polygons, split by scene.

Layout: ``dataset.yaml``, ``images/{train,val}/`` (hard links to the dataset's images) and
``labels/{train,val}/*.txt``. Class ids are the COCO category ids in ascending order, renumbered
0..K-1. All views of one scene land in the same split, so near-duplicate views never straddle it.
Polygons trace each instance's outer boundary through boundary-pixel centres (as Ultralytics' own
mask converter does, so boxes derived from them are about a pixel smaller than the COCO bbox);
disjoint parts are joined by zero-width bridges; holes are not represented; instances one or two
pixels wide get the rectangle around their pixels so every polygon has at least three points.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import yaml

from bproc_factory.config import seed_int
from bproc_factory.dataset.files import link_or_copy, require_empty
from bproc_factory.dataset.records import annotations_by_image, open_dataset, read_json
from bproc_factory.errors import FactoryError

Task = Literal["detect", "segment"]


class ExportError(FactoryError, RuntimeError):
    """The dataset cannot be exported as it is; the message names the file."""


@dataclass(frozen=True)
class YoloSummary:
    """Where the export went and how many images and label lines it holds."""

    output: Path
    train_images: int
    val_images: int
    labels: int


def split_scenes(scenes: list[int], val_fraction: float, seed: int) -> set[int]:
    """The scenes of the val split: a seeded ``val_fraction`` of them, at least one when the
    fraction is above 0 and there are two or more scenes (an empty val split breaks training)."""
    ranked = sorted(set(scenes), key=lambda s: seed_int(seed, "split", s))
    chosen = {s for s in ranked if seed_int(seed, "split", s) / 2**31 < val_fraction}
    if not chosen and val_fraction > 0 and len(ranked) > 1:
        chosen = {ranked[0]}
    return chosen


def mask_polygon(binary: np.ndarray) -> np.ndarray:
    """One polygon (N x 2, pixel coordinates, N >= 3) covering every part of a boolean mask."""
    contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    parts = sorted((c.reshape(-1, 2) for c in contours), key=lambda c: (c[:, 0].min(), c[:, 1].min()))
    polygon = parts[0]
    for part in parts[1:]:
        d = np.linalg.norm(polygon[:, None, :].astype(float) - part[None, :, :], axis=2)
        i, j = np.unravel_index(np.argmin(d), d.shape)
        loop = np.roll(part, -j, axis=0)
        polygon = np.concatenate([polygon[:i + 1], loop, loop[:1], polygon[i:]])
    if len(np.unique(polygon, axis=0)) < 3 or cv2.contourArea(polygon.astype(np.float32)) == 0:
        (x0, y0), (x1, y1) = polygon.min(axis=0) - 0.5, polygon.max(axis=0) + 0.5
        polygon = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    return polygon


def label_lines(mask: np.ndarray, annotations: list[dict[str, Any]], classes: dict[int, int],
                task: Task) -> list[str]:
    """YOLO label lines (normalised coordinates) for one image; YOLO has no ignore regions, so
    iscrowd annotations are left out."""
    h, w = mask.shape
    lines = []
    for ann in annotations:
        if ann.get("iscrowd"):
            continue
        cls = classes[ann["category_id"]]
        if task == "detect":
            x, y, bw, bh = ann["bbox"]
            values = [(x + bw / 2) / w, (y + bh / 2) / h, bw / w, bh / h]
        else:
            poly = mask_polygon(mask == ann["instance_id"]).astype(float)
            values = np.clip(poly / [w, h], 0.0, 1.0).ravel().tolist()
        lines.append(" ".join([str(cls)] + [f"{v:.6f}" for v in values]))
    return lines


def export_yolo(root: Path, out: Path, task: Task = "segment", val_fraction: float = 0.2,
                seed: int = 0) -> YoloSummary:
    """Write the YOLO export of the dataset at ``root`` into the new folder ``out`` (built in a
    temporary folder beside it and renamed at the end, so a failed export leaves nothing)."""
    if task not in ("segment", "detect"):
        raise ExportError(f"--task must be segment or detect, not {task!r}")
    dataset, _, coco = open_dataset(root)
    require_empty(out, "YOLO export")
    classes = {cid: k for k, cid in enumerate(sorted(c["id"] for c in coco["categories"]))}
    names = {classes[c["id"]]: c["name"] for c in coco["categories"]}
    by_image = annotations_by_image(coco)
    scene_of = {}
    for image in coco["images"]:
        try:
            scene_of[image["id"]] = read_json(dataset.meta_path(image["id"]))["scene_index"]
        except (OSError, ValueError, KeyError) as exc:
            raise ExportError(f"{dataset.meta_path(image['id'])}: unreadable ({exc.__class__.__name__}); "
                              "run bproc-factory validate") from None
    val_scenes = split_scenes(list(scene_of.values()), val_fraction, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        counts, labels = {"train": 0, "val": 0}, 0
        for split in counts:
            (work / "images" / split).mkdir(parents=True)
            (work / "labels" / split).mkdir(parents=True)
        for image in coco["images"]:
            i = image["id"]
            split = "val" if scene_of[i] in val_scenes else "train"
            mask = cv2.imread(str(dataset.mask_path(i)), cv2.IMREAD_UNCHANGED)
            if mask is None or not dataset.image_path(i).is_file():
                raise ExportError(f"{dataset.mask_path(i)}: image or mask missing or unreadable; "
                                  "run bproc-factory validate")
            lines = label_lines(mask, by_image.get(i, []), classes, task)
            link_or_copy(dataset.image_path(i), work / "images" / split / dataset.image_path(i).name)
            (work / "labels" / split / f"{i:06d}.txt").write_text("".join(f"{ln}\n" for ln in lines))
            counts[split] += 1
            labels += len(lines)
        spec = {"path": str(out.resolve()), "train": "images/train", "val": "images/val", "names": names,
                "task": task, "source": str(root.resolve()), "val_fraction": val_fraction, "split_seed": seed}
        (work / "dataset.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        if out.exists():
            out.rmdir()  # empty, checked above
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return YoloSummary(out, counts["train"], counts["val"], labels)
