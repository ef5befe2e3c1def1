"""Reading a dataset folder back: its identity, COCO file and per-image meta, streamed."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from bproc_factory.dataset import COCO_FILE, RUN_FILE


class NotADatasetError(ValueError):
    """The folder is not a bproc_factory dataset; the message names it."""


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def require_dataset(root: Path) -> None:
    if not (root / RUN_FILE).is_file() or not (root / COCO_FILE).is_file():
        raise NotADatasetError(f"{root}: not a bproc_factory dataset (needs {RUN_FILE} and {COCO_FILE})")


def iter_meta(root: Path) -> Iterator[dict[str, Any]]:
    """Every parsable meta record of the dataset, in image order."""
    for path in sorted((root / "meta").glob("*.json")):
        if path.stem.isdigit():
            try:
                yield read_json(path)
            except ValueError:
                continue


def category_names(coco: dict[str, Any]) -> dict[int, str]:
    return {c["id"]: c["name"] for c in coco["categories"]}
