"""``validate``: check a dataset folder against its contract, in parallel chunks of images.

Checked: every COCO image has readable image, mask and meta files of the stated size; meta agrees
with coco.json (size, file name, annotations) and with each annotation's object and category;
every RLE decodes to exactly its instance's mask pixels; bbox and area match the mask; ids are
unique and derived as documented; categories agree with run.json; no empty or out-of-frame
annotations; every instance with pixels is annotated unless meta says it was dropped; amodal masks
hold the visible ones and agree with area_amodal, bbox_amodal and visib_fract; no other files in
images/, masks/, meta/.
coco.json itself is held in memory (about 1.5 KB per annotation).
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bproc_factory.dataset import COCO_FILE, RUN_FILE, Dataset, annotations_by_image, open_dataset, read_json
from bproc_factory.labels import annotation_id, decode_rle, tight_bbox

CHUNK = 64  # images per parallel task


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
    """What ``validate`` checked and every problem it found, sorted by file."""

    images: int = 0
    annotations: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(root: Path, workers: int | None = None, chunk: int = CHUNK) -> Report:
    """Check the dataset at ``root``; per-image checks run on ``workers`` processes (default: CPUs).
    A folder that is not a dataset at all raises ``NotADatasetError``."""
    report = Report()
    dataset, identity, coco = open_dataset(root)
    images, malformed = _well_formed_images(coco.get("images", []))
    report.problems += malformed + _check_structure(coco, identity, dataset.image_suffix)
    report.problems += _check_stray_files(dataset, {im["id"] for im in images})
    by_image = annotations_by_image(coco)
    jobs = [(str(root), dataset.image_suffix, [(im, by_image.get(im["id"], [])) for im in images[k:k + chunk]])
            for k in range(0, len(images), chunk)]
    workers = workers or os.cpu_count() or 1
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_check_chunk, jobs))
    else:
        results = [_check_chunk(job) for job in jobs]
    for problems in results:
        report.problems += problems
    report.images = len(images)
    report.annotations = sum(len(by_image.get(im["id"], [])) for im in images)
    report.problems.sort()
    return report


def _well_formed_images(entries: list[Any]) -> tuple[list[dict[str, Any]], list[Problem]]:
    """COCO image entries with an int id and positive int size; a problem for each other one."""
    good, bad = [], []
    for k, im in enumerate(entries):
        ok = isinstance(im, dict) and all(isinstance(im.get(key), int) and not isinstance(im.get(key), bool)
                                          for key in ("id", "width", "height"))
        if ok and im["width"] > 0 and im["height"] > 0 and im["id"] >= 0:
            good.append(im)
        else:
            bad.append(Problem(COCO_FILE, f"images[{k}]", "needs integer id >= 0, width > 0, height > 0"))
    return good, bad


def _check_structure(coco: dict[str, Any], identity: dict[str, Any], suffix: str) -> list[Problem]:
    """Ids unique, references resolvable, categories consistent with run.json."""
    problems: list[Problem] = []
    cats = [c for c in coco.get("categories", []) if isinstance(c, dict)]
    ids = [c.get("id") for c in cats]
    for cid in sorted({i for i in ids if ids.count(i) > 1}, key=str):
        problems.append(Problem(COCO_FILE, f"category {cid}", "duplicate category id"))
    if any(not isinstance(i, int) or i <= 0 for i in ids):
        problems.append(Problem(COCO_FILE, "categories", "category ids must be integers above 0 "
                                                         "(0 is background)"))
    declared = {c.get("name"): c.get("id") for c in cats}
    if identity.get("categories") and identity["categories"] != declared:
        problems.append(Problem(COCO_FILE, "categories", f"{declared} differ from {RUN_FILE}'s "
                                                         f"{identity['categories']}"))
    seen: set[Any] = set()
    for im in coco.get("images", []):
        if not isinstance(im, dict):
            continue
        ref = f"image {im.get('id')}"
        if im.get("id") in seen:
            problems.append(Problem(COCO_FILE, ref, "duplicate image id"))
        seen.add(im.get("id"))
        if isinstance(im.get("id"), int) and im.get("file_name") != f"{im['id']:06d}{suffix}":
            problems.append(Problem(COCO_FILE, ref, f"file_name {im.get('file_name')!r} is not "
                                                    f"{im['id']:06d}{suffix}"))
    ann_ids: set[Any] = set()
    for k, ann in enumerate(coco.get("annotations", [])):
        if not isinstance(ann, dict):
            problems.append(Problem(COCO_FILE, f"annotations[{k}]", "not an object"))
            continue
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


def _check_stray_files(dataset: Dataset, listed: set[int]) -> list[Problem]:
    """Every file in images/, masks/ and meta/ must belong to an image that coco.json lists."""
    problems = []
    for sub, path_of in (("images", dataset.image_path), ("masks", dataset.mask_path),
                         ("meta", dataset.meta_path)):
        for path in sorted((dataset.root / sub).iterdir()) if (dataset.root / sub).is_dir() else []:
            if path.name.startswith(".") and path.name.endswith(".tmp"):
                continue  # a writer's temp file (removed by the next run)
            i = int(path.stem) if path.stem.isdigit() else None
            if i is None or path != path_of(i):
                problems.append(Problem(f"{sub}/{path.name}", "", "unexpected file"))
            elif i not in listed:
                problems.append(Problem(f"{sub}/{path.name}", "", "not listed in coco.json"))
    return problems


def _check_chunk(job: tuple[str, str, list[tuple[dict, list[dict]]]]) -> list[Problem]:
    root, suffix, items = job
    dataset = Dataset(Path(root), suffix)
    problems: list[Problem] = []
    for image, anns in items:
        try:
            problems += check_image(dataset, image, anns)
        except Exception as exc:  # a malformed entry must not end the run: report it instead
            problems.append(Problem(COCO_FILE, f"image {image.get('id')}",
                                    f"malformed entry ({exc.__class__.__name__}: {exc})"))
    return problems


def check_image(dataset: Dataset, image: dict[str, Any], anns: list[dict[str, Any]]) -> list[Problem]:
    """All per-image checks for one COCO image and its annotations."""
    i, w, h = image["id"], image["width"], image["height"]
    rel = {kind: str(path.relative_to(dataset.root)) for kind, path in
           (("image", dataset.image_path(i)), ("mask", dataset.mask_path(i)), ("meta", dataset.meta_path(i)))}
    ref = f"image {i}"
    problems = []
    rgb = cv2.imread(str(dataset.image_path(i)), cv2.IMREAD_COLOR)
    if rgb is None:
        problems.append(Problem(rel["image"], ref, "missing or unreadable"))
    elif rgb.shape[:2] != (h, w):
        problems.append(Problem(rel["image"], ref, f"is {rgb.shape[1]}x{rgb.shape[0]}, coco.json says {w}x{h}"))
    objects: dict[int, dict] = {}
    try:
        meta = read_json(dataset.meta_path(i))
    except (OSError, ValueError) as exc:
        problems.append(Problem(rel["meta"], ref, f"missing or unreadable ({exc.__class__.__name__}: {exc})"))
    else:
        problems += _check_meta(meta, image, anns, rel["meta"])
        listed = meta.get("objects", []) if isinstance(meta, dict) else None
        if isinstance(listed, list) and all(isinstance(o, dict) for o in listed):
            objects = {o.get("instance_id"): o for o in listed}
        else:
            problems.append(Problem(rel["meta"], ref, "objects is not a list of objects"))
    mask = cv2.imread(str(dataset.mask_path(i)), cv2.IMREAD_UNCHANGED)
    if mask is None or mask.dtype != np.uint16 or mask.ndim != 2:
        problems.append(Problem(rel["mask"], ref, "missing, unreadable or not a uint16 single-channel PNG"))
        return problems
    if mask.shape != (h, w):
        problems.append(Problem(rel["mask"], ref, f"is {mask.shape[1]}x{mask.shape[0]}, coco.json says {w}x{h}"))
        return problems
    pixel_counts = np.bincount(mask.ravel())
    annotated = set()
    for ann in anns:
        problems += _check_annotation(mask, pixel_counts, i, ann)
        inst = ann.get("instance_id")
        annotated.add(inst)
        if objects and inst not in objects:
            problems.append(Problem(rel["meta"], f"annotation {ann.get('id')}", f"instance {inst} is not "
                                                                                "among the meta objects"))
        elif objects and objects[inst].get("category_id") != ann.get("category_id"):
            problems.append(Problem(COCO_FILE, f"annotation {ann.get('id')}",
                                    f"category_id {ann.get('category_id')} but instance {inst} is a "
                                    f"{objects[inst].get('category')} ({objects[inst].get('category_id')})"))
    dropped = {i for i, o in objects.items() if o.get("label") == "dropped"}
    for inst in sorted(set(np.flatnonzero(pixel_counts).tolist()) - {0} - annotated - dropped):
        problems.append(Problem(rel["mask"], ref, f"instance {inst} has pixels but no annotation"))
    return problems


def _check_meta(meta: Any, image: dict[str, Any], anns: list[dict], rel: str) -> list[Problem]:
    ref = f"image {image['id']}"
    if not isinstance(meta, dict):
        return [Problem(rel, ref, f"is a JSON {type(meta).__name__}, not an object")]
    out = []
    for key, coco_key in (("image_index", "id"), ("width", "width"), ("height", "height"),
                          ("file_name", "file_name")):
        if meta.get(key) != image.get(coco_key):
            out.append(Problem(rel, ref, f"{key} is {meta.get(key)!r}, coco.json says {image.get(coco_key)!r}"))
    if meta.get("annotations") != anns:
        out.append(Problem(rel, ref, "annotations differ from coco.json"))
    return out


def _check_annotation(mask: np.ndarray, pixel_counts: np.ndarray, image_id: int,
                      ann: dict[str, Any]) -> list[Problem]:
    ref = f"annotation {ann.get('id')}"
    where = COCO_FILE
    inst = ann.get("instance_id")
    if not isinstance(inst, int) or isinstance(inst, bool):
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
    except (KeyError, TypeError, ValueError, UnicodeError, AttributeError) as exc:
        out.append(Problem(where, ref, f"RLE cannot be decoded ({exc.__class__.__name__})"))
    if pixels == 0:
        out.append(Problem(where, ref, f"empty: instance {inst} has no pixels in the mask"))
        return out
    if ann.get("area") != pixels:
        out.append(Problem(where, ref, f"area {ann.get('area')} but the mask has {pixels} pixels"))
    bbox = ann.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
        out.append(Problem(where, ref, f"bbox {bbox!r} is not [x, y, width, height]"))
        return out
    if bbox != tight_bbox(binary):
        out.append(Problem(where, ref, f"bbox {bbox} but the mask's is {tight_bbox(binary)}"))
    x, y, bw, bh = bbox
    if x < 0 or y < 0 or bw <= 0 or bh <= 0 or x + bw > mask.shape[1] or y + bh > mask.shape[0]:
        out.append(Problem(where, ref, f"bbox {bbox} leaves the {mask.shape[1]}x{mask.shape[0]} frame"))
    if ann.get("iscrowd") not in (0, 1):
        out.append(Problem(where, ref, f"iscrowd is {ann.get('iscrowd')!r}"))
    if "segmentation_amodal" in ann:
        out += _check_amodal(binary, ann, ref)
    return out


def _check_amodal(visible: np.ndarray, ann: dict[str, Any], ref: str) -> list[Problem]:
    """The amodal mask holds the visible one; its area, box and the visible fraction agree."""
    try:
        amodal = decode_rle(ann["segmentation_amodal"])
    except (KeyError, TypeError, ValueError, UnicodeError, AttributeError) as exc:
        return [Problem(COCO_FILE, ref, f"amodal RLE cannot be decoded ({exc.__class__.__name__})")]
    if amodal.shape != visible.shape:
        return [Problem(COCO_FILE, ref, f"amodal RLE size {list(amodal.shape)} is not {list(visible.shape)}")]
    out = []
    if (visible & ~amodal).any():
        out.append(Problem(COCO_FILE, ref, f"{int((visible & ~amodal).sum())} visible pixels lie outside "
                                           "the amodal mask"))
    area = int(amodal.sum())
    if ann.get("area_amodal") != area:
        out.append(Problem(COCO_FILE, ref, f"area_amodal {ann.get('area_amodal')} but the amodal mask has {area} pixels"))
    elif ann.get("bbox_amodal") != tight_bbox(amodal):
        out.append(Problem(COCO_FILE, ref, f"bbox_amodal {ann.get('bbox_amodal')} but the amodal mask's is "
                                           f"{tight_bbox(amodal)}"))
    fract = ann.get("visib_fract")
    if not isinstance(fract, (int, float)) or abs(fract - int(visible.sum()) / max(area, 1)) > 1e-6:
        out.append(Problem(COCO_FILE, ref, f"visib_fract {fract!r} but the masks give "
                                           f"{int(visible.sum()) / max(area, 1):.6f}"))
    truncated = ann.get("truncated")
    if not isinstance(truncated, (int, float)) or not 0 <= truncated <= 1:
        out.append(Problem(COCO_FILE, ref, f"truncated {truncated!r} is not in [0, 1]"))
    return out
