"""Reading a dataset folder back: its identity, COCO file and per-image meta, streamed."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from bproc_factory.dataset.folder import COCO_FILE, RUN_FILE, Dataset, not_a_dataset


def read_json(path: Path) -> Any:
    """Parsed JSON of ``path``; NaN and Infinity, which Python writes but JSON has not, are a
    ValueError like any other invalid JSON (errors propagate: callers say which file failed)."""
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=_not_json)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON number")


def open_dataset(root: Path) -> tuple[Dataset, dict[str, Any], dict[str, Any]]:
    """The dataset at ``root`` with its ``run.json`` identity and ``coco.json``; refuses other folders."""
    try:
        identity, coco = read_json(root / RUN_FILE), read_json(root / COCO_FILE)
    except (OSError, ValueError) as exc:
        raise not_a_dataset(root, f"{RUN_FILE} and {COCO_FILE}", exc) from None
    return Dataset(root, identity.get("image_suffix", ".png")), identity, coco


def iter_meta(root: Path) -> Iterator[dict[str, Any]]:
    """Every parsable meta record of the dataset, in image order."""
    for path in sorted((root / "meta").glob("*.json")):
        if path.stem.isdigit():
            try:
                yield read_json(path)
            except ValueError:
                continue


def category_names(coco: dict[str, Any]) -> dict[int, str]:
    """COCO category id -> name."""
    return {c["id"]: c["name"] for c in coco["categories"]}


def annotations_by_image(coco: dict[str, Any]) -> dict[Any, list[dict[str, Any]]]:
    """COCO annotations grouped by their ``image_id``, in file order."""
    grouped: dict[Any, list[dict[str, Any]]] = {}
    for ann in coco.get("annotations", []):
        if isinstance(ann, dict):  # validate reports the others
            grouped.setdefault(ann.get("image_id"), []).append(ann)
    return grouped
