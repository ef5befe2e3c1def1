"""Instance map + plan -> COCO annotations (pure): RLE, tight bbox, pixel-count area, amodal
masks and visibility, and the label policy (minimum visible pixels / fraction: drop or ignore).

Annotation ids are ``image_id * 10000 + instance_id``: unique, stable across shards and re-runs.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from bproc_factory.config import MAX_INSTANCES_PER_IMAGE, LabelsConfig
from bproc_factory.labels.amodal import Visibility

ANNOTATION_ID_STRIDE = MAX_INSTANCES_PER_IMAGE + 1


def annotation_id(image_id: int, instance_id: int) -> int:
    return image_id * ANNOTATION_ID_STRIDE + instance_id


def encode_rle(binary: np.ndarray) -> dict[str, Any]:
    """COCO compressed RLE of a boolean mask, JSON-ready (counts as str)."""
    rle = mask_utils.encode(np.asfortranarray(binary.astype(np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """Boolean mask of a JSON RLE written by ``encode_rle``."""
    return mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")}).astype(bool)


def tight_bbox(binary: np.ndarray) -> list[int]:
    """``[x, y, width, height]`` of the mask's pixels (COCO convention, pixel edges)."""
    rows = np.flatnonzero(binary.any(axis=1))
    cols = np.flatnonzero(binary.any(axis=0))
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


def annotations(instances: np.ndarray, image_id: int, category_of: dict[int, int],
                visibility: dict[int, Visibility] | None = None, policy: LabelsConfig | None = None,
                ignored: frozenset[int] = frozenset()) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """COCO annotations of the instances visible in ``instances`` (uint16, 0 = background), and
    each planned instance's fate: ``annotated``, ``ignored`` (iscrowd 1), ``dropped`` (under the
    policy's minimums) or ``not visible``.

    ``category_of`` maps every planned instance id to its category id; an id in the mask that is
    not in the map means the render and the plan disagree, which is an error. With ``visibility``
    each annotation also carries its amodal mask (``segmentation_amodal``), ``area_amodal``,
    ``bbox_amodal``, ``visib_fract`` and ``truncated``. Instances in ``ignored`` are always kept
    with iscrowd 1.
    """
    policy = policy or LabelsConfig()
    present = [int(v) for v in np.unique(instances) if v != 0]
    unknown = [v for v in present if v not in category_of]
    if unknown:
        raise ValueError(f"image {image_id}: instance ids {unknown} in the mask were never placed")
    fate = {inst: "not visible" for inst in category_of}
    out = []
    for inst in present:
        binary = instances == inst
        area = int(binary.sum())
        vis = visibility.get(inst) if visibility else None
        below = area < policy.min_visible_px or (vis is not None and vis.visib_fract < policy.min_visib_fract)
        crowd = inst in ignored or (below and policy.below_threshold == "ignore")
        if below and not crowd:
            fate[inst] = "dropped"
            continue
        fate[inst] = "ignored" if crowd else "annotated"
        ann = {"id": annotation_id(image_id, inst), "image_id": image_id,
               "category_id": category_of[inst], "segmentation": encode_rle(binary),
               "area": area, "bbox": tight_bbox(binary), "iscrowd": int(crowd), "instance_id": inst}
        if vis is not None:
            ann.update({"segmentation_amodal": encode_rle(vis.amodal), "area_amodal": vis.amodal_px,
                        "bbox_amodal": tight_bbox(vis.amodal), "visib_fract": round(vis.visib_fract, 6),
                        "truncated": round(vis.truncated, 6)})
        out.append(ann)
    return out, fate
