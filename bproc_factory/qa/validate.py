"""``validate``: check a dataset folder against its contract, streamed and in parallel.

Checked: every COCO image has readable image, mask and meta files of the stated size; meta agrees
with coco.json; every RLE decodes to exactly its instance's mask pixels; bbox and area match the
mask; ids are unique and derived as documented; categories agree with run.json; no empty or
out-of-frame annotations; every instance in a mask is annotated; no files outside coco.json.
"""
from __future__ import annotations

import os
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bproc_factory.dataset import COCO_FILE, RUN_FILE
from bproc_factory.labels import annotation_id, decode_rle, tight_bbox
from bproc_factory.qa.records import read_json

CHUNK = 64


@dataclass(frozen=True, order=True)
class Problem:
    """One contract violation: the file at fault, the id concerned, and what is wrong."""

    file: str
    ref: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.ref}: {self.message}" if self.ref else f"{self.file}: {self.message}"


@dataclass
class Report:
    images: int = 0
    annotations: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(root: Path, workers: int | None = None) -> Report:
    """Check the dataset at ``root``; per-image checks run on ``workers`` processes (default: CPUs)."""
    report = Report()
    try:
        identity = read_json(root / RUN_FILE)
        coco = read_json(root / COCO_FILE)
    except (OSError, ValueError) as exc:
        report.problems.append(Problem(str(root), "", f"not a readable dataset: {exc}"))
        return report
    suffix = identity.get("image_suffix", ".png")
    report.problems += _check_structure(coco, identity, suffix)
    by_image: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for ann in coco.get("annotations", []):
        by_image[ann.get("image_id")].append(ann)
    images = coco.get("images", [])
    report.problems += _check_orphans(root, {im["id"] for im in images}, suffix)
    jobs = [(str(root), suffix, [(im, by_image.get(im["id"], [])) for im in images[k:k + CHUNK]])
            for k in range(0, len(images), CHUNK)]
    workers = workers or os.cpu_count() or 1
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_check_chunk, jobs))
    else:
        results = [_check_chunk(job) for job in jobs]
    for problems in results:
        report.problems += problems
    report.images = len(images)
    report.annotations = sum(len(v) for v in by_image.values())
    report.problems.sort()
    return report


def _check_structure(coco: dict[str, Any], identity: dict[str, Any], suffix: str) -> list[Problem]:
    """Ids unique, references resolvable, categories consistent with run.json."""
    problems: list[Problem] = []
    cats = coco.get("categories", [])
    ids = [c["id"] for c in cats]
    for cid in {i for i in ids if ids.count(i) > 1}:
        problems.append(Problem(COCO_FILE, f"category {cid}", "duplicate category id"))
    if any(i <= 0 for i in ids):
        problems.append(Problem(COCO_FILE, "categories", "category id 0 or below (0 is background)"))
    declared = {c["name"]: c["id"] for c in cats}
    if identity.get("categories") and identity["categories"] != declared:
        problems.append(Problem(COCO_FILE, "categories", f"{declared} differ from {RUN_FILE}'s "
                                                         f"{identity['categories']}"))
    seen: set[int] = set()
    for im in coco.get("images", []):
        if im["id"] in seen:
            problems.append(Problem(COCO_FILE, f"image {im['id']}", "duplicate image id"))
        seen.add(im["id"])
        if im.get("file_name") != f"{im['id']:06d}{suffix}":
            problems.append(Problem(COCO_FILE, f"image {im['id']}", f"file_name {im.get('file_name')!r} "
                                                                    f"is not {im['id']:06d}{suffix}"))
    ann_ids: set[int] = set()
    for ann in coco.get("annotations", []):
        ref = f"annotation {ann.get('id')}"
        if ann.get("id") in ann_ids:
            problems.append(Problem(COCO_FILE, ref, "duplicate annotation id"))
        ann_ids.add(ann.get("id"))
        if ann.get("image_id") not in seen:
            problems.append(Problem(COCO_FILE, ref, f"refers to image {ann.get('image_id')}, "
                                                    "which is not in images"))
        if ann.get("category_id") not in ids:
            problems.append(Problem(COCO_FILE, ref, f"unknown category_id {ann.get('category_id')}"))
    return problems


def _check_orphans(root: Path, listed: set[int], suffix: str) -> list[Problem]:
    """Image, mask or meta files for images that coco.json does not list."""
    problems = []
    for sub, ext in (("images", suffix), ("masks", ".png"), ("meta", ".json")):
        for path in sorted((root / sub).glob(f"*{ext}")):
            if path.stem.isdigit() and int(path.stem) not in listed:
                problems.append(Problem(f"{sub}/{path.name}", "", "not listed in coco.json"))
    return problems


def _check_chunk(job: tuple[str, str, list[tuple[dict, list[dict]]]]) -> list[Problem]:
    root, suffix, items = job
    problems: list[Problem] = []
    for image, anns in items:
        problems += check_image(Path(root), suffix, image, anns)
    return problems


def check_image(root: Path, suffix: str, image: dict[str, Any], anns: list[dict[str, Any]]) -> list[Problem]:
    """All per-image checks for one COCO image and its annotations."""
    i, w, h = image["id"], image["width"], image["height"]
    names = {"image": f"images/{i:06d}{suffix}", "mask": f"masks/{i:06d}.png", "meta": f"meta/{i:06d}.json"}
    problems = []
    rgb = cv2.imread(str(root / names["image"]), cv2.IMREAD_COLOR)
    if rgb is None:
        problems.append(Problem(names["image"], f"image {i}", "missing or unreadable"))
    elif rgb.shape[:2] != (h, w):
        problems.append(Problem(names["image"], f"image {i}", f"is {rgb.shape[1]}x{rgb.shape[0]}, "
                                                              f"coco.json says {w}x{h}"))
    try:
        meta = read_json(root / names["meta"])
        if meta.get("image_index") != i:
            problems.append(Problem(names["meta"], f"image {i}", f"image_index is {meta.get('image_index')}"))
        elif meta.get("annotations") != anns:
            problems.append(Problem(names["meta"], f"image {i}", "annotations differ from coco.json"))
    except (OSError, ValueError) as exc:
        problems.append(Problem(names["meta"], f"image {i}", f"missing or unreadable ({exc.__class__.__name__})"))
    mask = cv2.imread(str(root / names["mask"]), cv2.IMREAD_UNCHANGED)
    if mask is None or mask.dtype != np.uint16 or mask.ndim != 2:
        problems.append(Problem(names["mask"], f"image {i}", "missing, unreadable or not a uint16 "
                                                             "single-channel PNG"))
        return problems
    if mask.shape != (h, w):
        problems.append(Problem(names["mask"], f"image {i}", f"is {mask.shape[1]}x{mask.shape[0]}, "
                                                             f"coco.json says {w}x{h}"))
        return problems
    pixel_counts = np.bincount(mask.ravel())
    annotated = set()
    for ann in anns:
        problems += _check_annotation(mask, pixel_counts, i, ann)
        annotated.add(ann.get("instance_id"))
    for inst in sorted(set(np.flatnonzero(pixel_counts).tolist()) - {0} - annotated):
        problems.append(Problem(names["mask"], f"image {i}", f"instance {inst} has pixels but no annotation"))
    return problems


def _check_annotation(mask: np.ndarray, pixel_counts: np.ndarray, image_id: int,
                      ann: dict[str, Any]) -> list[Problem]:
    ref = f"annotation {ann.get('id')}"
    where = COCO_FILE
    inst = ann.get("instance_id")
    if not isinstance(inst, int):
        return [Problem(where, ref, "has no integer instance_id")]
    out = []
    if ann.get("id") != annotation_id(image_id, inst):
        out.append(Problem(where, ref, f"id should be {annotation_id(image_id, inst)} "
                                       f"(image {image_id}, instance {inst})"))
    binary = mask == inst
    pixels = int(pixel_counts[inst]) if 0 <= inst < len(pixel_counts) else 0
    try:
        segmentation = ann["segmentation"]
        if list(segmentation["size"]) != list(mask.shape):
            out.append(Problem(where, ref, f"RLE size {segmentation['size']} is not {list(mask.shape)}"))
        elif not np.array_equal(decode_rle(segmentation), binary):
            out.append(Problem(where, ref, f"RLE does not decode to instance {inst}'s mask pixels"))
    except (KeyError, TypeError, ValueError, UnicodeError) as exc:
        out.append(Problem(where, ref, f"RLE cannot be decoded ({exc.__class__.__name__})"))
    if pixels == 0:
        out.append(Problem(where, ref, f"empty: instance {inst} has no pixels in the mask"))
        return out
    if ann.get("area") != pixels:
        out.append(Problem(where, ref, f"area {ann.get('area')} but the mask has {pixels} pixels"))
    if ann.get("bbox") != tight_bbox(binary):
        out.append(Problem(where, ref, f"bbox {ann.get('bbox')} but the mask's is {tight_bbox(binary)}"))
    x, y, bw, bh = ann.get("bbox", [0, 0, 0, 0])
    if x < 0 or y < 0 or bw <= 0 or bh <= 0 or x + bw > mask.shape[1] or y + bh > mask.shape[0]:
        out.append(Problem(where, ref, f"bbox {ann.get('bbox')} leaves the {mask.shape[1]}x{mask.shape[0]} frame"))
    if ann.get("iscrowd") not in (0, 1):
        out.append(Problem(where, ref, f"iscrowd is {ann.get('iscrowd')!r}"))
    return out
