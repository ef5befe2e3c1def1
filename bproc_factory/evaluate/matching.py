"""Predictions against the ground truth: COCO's global figures (pycocotools' COCOeval) and, per
instance, whether a prediction found it (greedy by score, as COCO matches) and per image the
predictions that found nothing."""
from __future__ import annotations

import contextlib
import copy
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from bproc_factory.evaluate.predictions import Record, Task, to_rle

STATS = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
         "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large")


@dataclass(frozen=True)
class Outcome:
    """One ground-truth instance's fate: found by a prediction of its category at the IoU threshold
    (``iou`` and ``score`` of that prediction) or missed (``iou``: the best overlap any of its
    category's predictions reached, 0 without one)."""

    annotation_id: int
    matched: bool
    iou: float
    score: float | None


@dataclass(frozen=True)
class Matches:
    """Per-instance outcomes (by annotation id) and false positives per image id."""

    outcomes: dict[int, Outcome]
    false_positives: dict[Any, int]


def match_predictions(coco: dict[str, Any], predictions: list[Record], iou_threshold: float,
                      min_score: float, task: Task) -> Matches:
    """Match each image's predictions scoring at least ``min_score`` to its instances, highest score
    first, each to the unmatched instance of its category it overlaps most (at least
    ``iou_threshold``); a prediction on a crowd region is neither a match nor a false positive."""
    images = {im["id"]: im for im in coco["images"]}
    gts: dict[Any, list[dict[str, Any]]] = {}
    for ann in coco["annotations"]:
        gts.setdefault(ann["image_id"], []).append(ann)
    dts: dict[Any, list[Record]] = {}
    for p in sorted(predictions, key=lambda p: -p["score"]):
        if p["score"] >= min_score:
            dts.setdefault(p["image_id"], []).append(p)
    outcomes: dict[int, Outcome] = {}
    false_positives: dict[Any, int] = {}
    for image_id, image in images.items():
        fp = 0
        here_gt, here_dt = gts.get(image_id, []), dts.get(image_id, [])
        for category in {a["category_id"] for a in here_gt} | {p["category_id"] for p in here_dt}:
            g = [a for a in here_gt if a["category_id"] == category]
            d = [p for p in here_dt if p["category_id"] == category]
            found, fp_here = _greedy(g, d, image, iou_threshold, task)
            outcomes.update(found)
            fp += fp_here
        false_positives[image_id] = fp
    return Matches(outcomes, false_positives)


def _greedy(gts: list[dict[str, Any]], dts: list[Record], image: dict[str, Any], threshold: float,
            task: Task) -> tuple[dict[int, Outcome], int]:
    crowd = [bool(a.get("iscrowd")) for a in gts]
    if gts and dts:
        if task == "segment":
            h, w = image["height"], image["width"]
            ious = mask_utils.iou([d["segmentation"] for d in dts], [to_rle(a["segmentation"], h, w, "") for a in gts],
                                  crowd)
        else:
            ious = mask_utils.iou([d["bbox"] for d in dts], [a["bbox"] for a in gts], crowd)
        ious = np.asarray(ious, float).reshape(len(dts), len(gts))
    else:
        ious = np.zeros((len(dts), len(gts)))
    taken: dict[int, tuple[float, float]] = {}
    fp = 0
    for i, d in enumerate(dts):
        free = [j for j in range(len(gts)) if j not in taken and not crowd[j]]
        best = max(free, key=lambda j: ious[i, j], default=None)
        if best is not None and ious[i, best] >= threshold:
            taken[best] = (float(ious[i, best]), d["score"])
        elif not any(crowd[j] and ious[i, j] >= threshold for j in range(len(gts))):
            fp += 1
    found = {}
    for j, a in enumerate(gts):
        if crowd[j]:
            continue
        if j in taken:
            found[a["id"]] = Outcome(a["id"], True, *taken[j])
        else:
            found[a["id"]] = Outcome(a["id"], False, float(ious[:, j].max(initial=0.0)), None)
    return found, fp


def coco_figures(coco: dict[str, Any], predictions: list[Record], task: Task) -> dict[str, Any]:
    """COCOeval's twelve figures and AP per category name (None where a figure has no instances)."""
    names = {c["id"]: c["name"] for c in coco["categories"]}
    if not predictions:
        return {"stats": {k: 0.0 for k in STATS}, "per_category_AP": {n: 0.0 for n in names.values()}}
    gt = COCO()
    gt.dataset = copy.deepcopy(coco)
    records = [dict(p) for p in predictions]
    if task == "segment":
        for r in records:
            r.pop("bbox", None)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        gt.createIndex()
        evaluation = COCOeval(gt, gt.loadRes(records), "segm" if task == "segment" else "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = {k: (None if v < 0 else round(float(v), 6)) for k, v in zip(STATS, evaluation.stats)}
    precision = evaluation.eval["precision"]  # [iou, recall, category, area, max detections]
    per_category = {}
    for k, category_id in enumerate(evaluation.params.catIds):
        p = precision[:, :, k, 0, -1]
        per_category[names[category_id]] = round(float(p[p > -1].mean()), 6) if (p > -1).any() else None
    return {"stats": stats, "per_category_AP": per_category}
