"""Instance map + plan -> COCO annotations (pure): RLE, tight bbox, pixel-count area.

Annotation ids are ``image_id * 10000 + instance_id``: unique, stable across shards and re-runs.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from bproc_factory.config.scenario import MAX_INSTANCES_PER_IMAGE

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


def annotations(instances: np.ndarray, image_id: int,
                category_of: dict[int, int]) -> list[dict[str, Any]]:
    """One COCO annotation per instance visible in ``instances`` (uint16, 0 = background).

    ``category_of`` maps every planned instance id to its category id; an id in the map that is
    not in the planned set means the render and the plan disagree, which is an error.
    """
    present = [int(v) for v in np.unique(instances) if v != 0]
    unknown = [v for v in present if v not in category_of]
    if unknown:
        raise ValueError(f"image {image_id}: instance ids {unknown} in the mask were never placed")
    out = []
    for inst in present:
        binary = instances == inst
        out.append({"id": annotation_id(image_id, inst), "image_id": image_id,
                    "category_id": category_of[inst], "segmentation": encode_rle(binary),
                    "area": int(binary.sum()), "bbox": tight_bbox(binary), "iscrowd": 0,
                    "instance_id": inst})
    return out
