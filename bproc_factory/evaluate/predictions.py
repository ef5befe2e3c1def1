"""A model's predictions, read into COCO results records: a COCO results JSON (what every detector
exports) or a folder of Ultralytics YOLO ``save_txt`` files with confidences, mapped back to the
dataset's images by file name and to its categories by the YOLO export's class order."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pycocotools import mask as mask_utils

from bproc_factory.dataset import read_json
from bproc_factory.errors import FactoryError

Task = Literal["detect", "segment"]
Record = dict[str, Any]


class PredictionError(FactoryError, ValueError):
    """The predictions cannot be read; the message names the file and the entry or line at fault."""


def load_predictions(path: Path, coco: dict[str, Any], task: Task) -> list[Record]:
    """Predictions at ``path`` (a COCO results JSON file or a folder of YOLO ``.txt`` files) as COCO
    results records with ``image_id``, ``category_id``, ``score``, ``bbox`` and, for ``segment``,
    ``segmentation`` (RLE), checked against the dataset's images and categories."""
    if path.is_dir():
        return _yolo_folder(path, coco, task)
    if not path.is_file():
        raise PredictionError(f"{path}: no such predictions file or folder")
    try:
        records = read_json(path)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise PredictionError(f"{path}: not a COCO results JSON file ({exc})") from None
    if not isinstance(records, list):
        raise PredictionError(f"{path}: a COCO results file is a JSON list of predictions, not "
                              f"{type(records).__name__}")
    images, categories = {im["id"]: im for im in coco["images"]}, {c["id"] for c in coco["categories"]}
    return [_checked(r, images, categories, task, f"{path}: prediction {k}") for k, r in enumerate(records)]


def _checked(record: Any, images: dict[Any, dict[str, Any]], categories: set[Any], task: Task,
             where: str) -> Record:
    """One COCO results record, validated and completed (a box from the mask, the mask as RLE)."""
    if not isinstance(record, dict):
        raise PredictionError(f"{where}: a prediction is a JSON object")
    for key in ("image_id", "category_id", "score"):
        if key not in record:
            raise PredictionError(f"{where}: `{key}` is missing")
    image = images.get(record["image_id"])
    if image is None:
        raise PredictionError(f"{where}: `image_id` {record['image_id']!r} is not an image of the dataset")
    if record["category_id"] not in categories:
        raise PredictionError(f"{where}: `category_id` {record['category_id']!r} is not a category of the dataset")
    score = record["score"]
    if not _number(score):
        raise PredictionError(f"{where}: `score` must be a finite number, not {score!r}")
    out: Record = {"image_id": record["image_id"], "category_id": record["category_id"], "score": float(score)}
    h, w = image["height"], image["width"]
    if "segmentation" in record:
        out["segmentation"] = to_rle(record["segmentation"], h, w, f"{where}: `segmentation`")
    if "bbox" in record:
        box = record["bbox"]
        if not (isinstance(box, list) and len(box) == 4 and all(_number(v) for v in box) and box[2] >= 0 <= box[3]):
            raise PredictionError(f"{where}: `bbox` must be [x, y, width, height] with width, height >= 0, not {box!r}")
        out["bbox"] = [float(v) for v in box]
    elif "segmentation" in out:
        out["bbox"] = [float(v) for v in mask_utils.toBbox(out["segmentation"])]
    else:
        raise PredictionError(f"{where}: neither `bbox` nor `segmentation` is given")
    if task == "segment" and "segmentation" not in out:
        raise PredictionError(f"{where}: `segmentation` is missing (--task segment compares masks)")
    return out


def to_rle(segmentation: Any, height: int, width: int, where: str) -> dict[str, Any]:
    """A COCO segmentation (RLE, or polygons in pixels) as one compressed RLE of the image's size."""
    try:
        if isinstance(segmentation, dict):
            rle = dict(segmentation)
            if isinstance(rle.get("counts"), list):
                rle = mask_utils.frPyObjects(rle, height, width)
            elif isinstance(rle.get("counts"), str):
                rle["counts"] = rle["counts"].encode("ascii")
            if list(rle.get("size", [])) != [height, width]:
                raise ValueError(f"its size {rle.get('size')} is not the image's [{height}, {width}]")
            mask_utils.area(rle)  # decodes: a corrupt string fails here
        elif isinstance(segmentation, list) and segmentation and all(
                isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 and all(_number(v) for v in p)
                for p in segmentation):
            rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
        else:
            raise ValueError("it is neither an RLE nor a list of polygons [x1, y1, x2, y2, ...]")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise PredictionError(f"{where}: {exc}") from None
    return {"size": [height, width], "counts": rle["counts"]}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _yolo_folder(folder: Path, coco: dict[str, Any], task: Task) -> list[Record]:
    """Ultralytics ``save_txt``/``save_conf`` files (``<image stem>.txt``: ``class cx cy w h conf``
    or ``class x1 y1 ... xn yn conf``, normalised); class k is the k-th category id in ascending
    order, as ``export yolo`` numbers them."""
    by_stem = {Path(im["file_name"]).stem: im for im in coco["images"]}
    classes = sorted(c["id"] for c in coco["categories"])
    records: list[Record] = []
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise PredictionError(f"{folder}: no YOLO prediction .txt files in this folder")
    for path in files:
        image = by_stem.get(path.stem)
        if image is None:
            raise PredictionError(f"{path}: no image of the dataset is named {path.stem}.*")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                records.append(_yolo_line(line, image, classes, task, f"{path}:{number}"))
    return records


def _yolo_line(line: str, image: dict[str, Any], classes: list[int], task: Task, where: str) -> Record:
    try:
        values = [float(v) for v in line.split()]
    except ValueError:
        raise PredictionError(f"{where}: a YOLO line is numbers: class, coordinates, confidence") from None
    coords = values[1:-1]
    if len(values) < 6 or len(coords) % 2 or (len(coords) != 4 and len(coords) < 6):
        raise PredictionError(f"{where}: expected `class cx cy w h conf` or `class x1 y1 ... xn yn conf` "
                              f"(saved with save_conf), got {len(values)} numbers")
    k = values[0]
    if not k.is_integer() or not 0 <= k < len(classes):
        raise PredictionError(f"{where}: class {values[0]:g} is not one of the export's 0..{len(classes) - 1}")
    if not all(math.isfinite(v) for v in values):
        raise PredictionError(f"{where}: a value is not finite")
    w, h = image["width"], image["height"]
    record: Record = {"image_id": image["id"], "category_id": classes[int(k)], "score": values[-1]}
    if len(coords) == 4:
        cx, cy, bw, bh = coords
        record["bbox"] = [(cx - bw / 2) * w, (cy - bh / 2) * h, bw * w, bh * h]
        if task == "segment":
            raise PredictionError(f"{where}: a box, but --task segment compares masks (save segmentation txt)")
        return record
    polygon = (np.asarray(coords).reshape(-1, 2) * (w, h)).ravel().tolist()
    record["segmentation"] = to_rle([polygon], h, w, where)
    record["bbox"] = [float(v) for v in mask_utils.toBbox(record["segmentation"])]
    return record
