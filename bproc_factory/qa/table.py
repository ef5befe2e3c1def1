"""Flatten every image's meta into tables (CSV and Parquet) to join with a model's per-image errors.

``params``: one row per image (seeds, counts per category, every sampled scalar, keyed by its
dotted path, e.g. ``sampled.view.elevation_deg``, ``sampled.lights.0.energy_w``).
``instances``: one row per annotation, with its object's sampled values.
"""
from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from bproc_factory.dataset import iter_meta, open_dataset

Scalar = int | float | str | bool | None
IMAGE_KEYS = ("image_index", "file_name", "width", "height", "scene_index", "view_index", "run_seed",
              "image_seed", "scene_seed", "cycles_seed")


def flatten(value: Any, prefix: str, out: dict[str, Scalar]) -> dict[str, Scalar]:
    """Nested dicts and lists as ``prefix.key.0.sub`` scalar columns."""
    if isinstance(value, dict):
        for key, sub in value.items():
            flatten(sub, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, (list, tuple)):
        for k, sub in enumerate(value):
            flatten(sub, f"{prefix}.{k}", out)
    else:
        out[prefix] = value
    return out


def image_row(meta: dict[str, Any]) -> dict[str, Scalar]:
    """One image's row: identity, label counts, and every sampled value except per-object ones."""
    row: dict[str, Scalar] = {k: meta.get(k) for k in IMAGE_KEYS}
    anns = meta.get("annotations", [])
    row["instances"] = len(anns)
    row["objects"] = len(meta.get("objects", []))
    by_id = {o["instance_id"]: o for o in meta.get("objects", [])}
    for category, n in sorted(Counter(by_id[a["instance_id"]]["category"] for a in anns
                                      if a["instance_id"] in by_id).items()):
        row[f"count.{category}"] = n
    areas = [a["area"] for a in anns]
    row["min_area_px"] = min(areas) if areas else None
    row["mean_area_px"] = sum(areas) / len(areas) if areas else None
    sampled = {k: v for k, v in meta.get("sampled", {}).items() if k != "objects"}
    flatten(sampled, "sampled", row)
    if "subset" in meta:
        flatten(meta["subset"], "subset", row)
    if "occlusion" in meta:
        occlusion = meta["occlusion"]
        row.update({"occlusion.target_met": occlusion["target_met"], "occlusion.attempts": occlusion["attempts"],
                    "occlusion.in_range": len(occlusion["in_range"])})
    return row


def instance_rows(meta: dict[str, Any]) -> Iterable[dict[str, Scalar]]:
    """One row per annotation of the image, joined with its object's record and sampled values."""
    objects = {o["instance_id"]: o for o in meta.get("objects", [])}
    sampled = {o["instance_id"]: s for o, s in zip(meta.get("objects", []),
                                                   meta.get("sampled", {}).get("objects", []))}
    for ann in meta.get("annotations", []):
        obj = objects.get(ann["instance_id"], {})
        row: dict[str, Scalar] = {"image_index": meta.get("image_index"), "annotation_id": ann["id"],
                                  "instance_id": ann["instance_id"], "category": obj.get("category"),
                                  "category_id": ann["category_id"], "area_px": ann["area"],
                                  "iscrowd": ann["iscrowd"],
                                  "bbox_x": ann["bbox"][0], "bbox_y": ann["bbox"][1],
                                  "bbox_w": ann["bbox"][2], "bbox_h": ann["bbox"][3]}
        flatten({k: v for k, v in obj.items() if k not in ("obj_to_world", "instance_id", "category",
                                                             "category_id")}, "object", row)
        flatten(sampled.get(ann["instance_id"], {}), "sampled", row)
        yield row


def build_tables(root: Path) -> tuple[list[dict[str, Scalar]], list[dict[str, Scalar]]]:
    """The params and instances rows of the dataset at ``root``."""
    params, instances = [], []
    for meta in iter_meta(root):
        params.append(image_row(meta))
        instances.extend(instance_rows(meta))
    return params, instances


def write_table(rows: list[dict[str, Scalar]], stem: Path) -> list[Path]:
    """Write ``stem.csv`` and ``stem.parquet``; columns are the union over rows, leading ones first.
    Each column gets one type (numbers widen to float when mixed, anything else to text)."""
    rows = [dict(r) for r in rows]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    _normalise(rows, columns)
    csv_path, parquet_path = stem.with_suffix(".csv"), stem.with_suffix(".parquet")
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    pq.write_table(pa.Table.from_pylist(rows, schema=_schema(rows, columns)), parquet_path)
    return [csv_path, parquet_path]


def _normalise(rows: list[dict[str, Scalar]], columns: list[str]) -> None:
    """Make each column one type, in place."""
    for col in columns:
        kinds = {type(r[col]) for r in rows if r.get(col) is not None}
        if kinds <= {int, float} and float in kinds:
            for r in rows:
                if r.get(col) is not None:
                    r[col] = float(r[col])
        elif len(kinds) > 1:
            for r in rows:
                if r.get(col) is not None:
                    r[col] = str(r[col])


def _schema(rows: list[dict[str, Scalar]], columns: list[str]) -> pa.Schema:
    types = {bool: pa.bool_(), int: pa.int64(), float: pa.float64(), str: pa.string()}
    fields = []
    for col in columns:
        kind = next((type(r[col]) for r in rows if r.get(col) is not None), str)
        fields.append(pa.field(col, types[kind]))
    return pa.schema(fields)


@dataclass(frozen=True)
class Tables:
    """What ``write_tables`` wrote: row counts and the files."""

    images: int
    instances: int
    paths: list[Path]


def write_tables(dataset: Path, output: Path) -> Tables:
    """Write params.{csv,parquet} (one row per image) and instances.{csv,parquet} (one per label)."""
    open_dataset(dataset)  # not a dataset: one clear error before anything is written
    output.mkdir(parents=True, exist_ok=True)
    params, instances = build_tables(dataset)
    paths = write_table(params, output / "params") + write_table(instances, output / "instances")
    return Tables(len(params), len(instances), paths)
