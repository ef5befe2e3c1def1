"""``evaluate``: a model's predictions on a dataset, as COCO figures, per-instance outcomes, the
factors that go with misses, a page, and the config that renders more of what the model misses."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bproc_factory.config import ConfigError, load_scenario
from bproc_factory.dataset import COCO_FILE, RUN_FILE, atomic_write_json, read_json
from bproc_factory.evaluate.factors import Factor, failure_conditions, rank_factors
from bproc_factory.evaluate.hard_cases import hard_cases, portable_config
from bproc_factory.evaluate.matching import Matches, coco_figures, match_predictions
from bproc_factory.evaluate.page import PLOTTED, factor_plot, miss_sheet, write_page
from bproc_factory.evaluate.predictions import PredictionError, Task, load_predictions
from bproc_factory.qa import build_tables, write_table

SIZES = {"small": (0, 32 ** 2), "medium": (32 ** 2, 96 ** 2), "large": (96 ** 2, float("inf"))}  # COCO's


@dataclass(frozen=True)
class Evaluation:
    """What ``evaluate`` found and wrote."""

    output: Path
    images: int
    instances: int
    missed: int
    ap: float
    top_factors: list[Factor]
    hard_cases: Path | None


@dataclass(frozen=True)
class GroundTruth:
    """The labelled images: COCO records, where the image files are, and the factory's run
    identity and dataset folder (None for a plain COCO file)."""

    coco: dict[str, Any]
    image_dir: Path
    identity: dict[str, Any] | None
    root: Path | None


def read_ground_truth(dataset: Path) -> GroundTruth:
    """A factory dataset folder (coco.json, run.json, meta/) or a plain COCO annotation file whose
    ``file_name`` entries are relative to its folder (or to an ``images/`` folder beside it)."""
    if not dataset.exists():
        raise PredictionError(f"{dataset}: no such dataset folder or COCO file")
    if dataset.is_dir() and not (dataset / COCO_FILE).is_file():
        raise PredictionError(f"{dataset}: no {COCO_FILE} in this folder; give a dataset folder or a COCO "
                              "annotation file")
    if dataset.is_dir():
        path = dataset / COCO_FILE
        identity = _json(dataset / RUN_FILE) if (dataset / RUN_FILE).is_file() else None
        coco, root = _json(path), dataset
    else:
        path, coco, identity, root = dataset, _json(dataset), None, None
    for key in ("images", "annotations", "categories"):
        if not isinstance(coco, dict) or not isinstance(coco.get(key), list):
            raise PredictionError(f"{path}: not a COCO annotation file (`{key}` is not a list)")
    folder = path.parent
    first = coco["images"][0]["file_name"] if coco["images"] else ""
    beside = not (folder / first).is_file() and (folder / "images" / first).is_file()
    image_dir = folder / "images" if beside else folder
    return GroundTruth(coco, image_dir, identity, root)


def _json(path: Path) -> Any:
    try:
        return read_json(path)
    except (OSError, ValueError) as exc:
        raise PredictionError(f"{path}: cannot be read as JSON ({exc})") from None


def evaluate(dataset: Path, predictions: Path, output: Path, iou: float = 0.5, task: Task = "detect",
             min_score: float = 0.25) -> Evaluation:
    """Score ``predictions`` on ``dataset`` and write summary.json, instances.{parquet,csv},
    images.{parquet,csv}, factors.json, index.html (with plots/ and misses.jpg) and, for a factory dataset,
    hard_cases.yaml into ``output``."""
    truth = read_ground_truth(dataset)
    records = load_predictions(predictions, truth.coco, task)
    if output.exists() and not output.is_dir():
        raise PredictionError(f"{output}: cannot write the evaluation there, it is a file")
    matches = match_predictions(truth.coco, records, iou, min_score, task)
    images, rows = outcome_tables(truth, matches)
    factors = rank_factors(rows)
    output.mkdir(parents=True, exist_ok=True)
    summary = _summary(truth, records, matches, rows, dataset, predictions, iou, min_score, task)
    conditions = failure_conditions(rows)
    summary["conditions"] = [{k: v for k, v in f.record().items() if k != "bins"} for f in conditions]
    write_table(rows, output / "instances")
    write_table(images, output / "images")
    atomic_write_json(output / "factors.json", [f.record() for f in factors])
    narrowed = _write_hard_cases(truth, rows, conditions, output)
    summary["hard_cases"] = narrowed
    atomic_write_json(output / "summary.json", summary)
    (output / "plots").mkdir(exist_ok=True)
    plots = {f.factor: str(factor_plot(f, output / "plots" / f"factor_{k}.png").relative_to(output))
             for k, f in enumerate(factors[:PLOTTED])}
    missed_ids = {a for a, o in matches.outcomes.items() if not o.matched}
    images = {im["id"]: im for im in truth.coco["images"]}
    names = {c["id"]: c["name"] for c in truth.coco["categories"]}
    sheet = miss_sheet([a for a in truth.coco["annotations"] if a["id"] in missed_ids], images, names,
                       truth.image_dir, output / "misses.jpg")
    write_page(output / "index.html", summary, factors, plots, sheet and sheet.name, narrowed)
    return Evaluation(output, summary["images"], summary["instances"], summary["missed"],
                      summary["coco"]["stats"]["AP"] or 0.0, factors[:5],
                      output / "hard_cases.yaml" if narrowed else None)


def outcome_tables(truth: GroundTruth, matches: Matches) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per image (its false positives and misses, then the factory's image row) and per judged
    instance (its outcome, then the factory's instance row joined with its image's); a plain COCO
    file has category, area and box size only."""
    names = {c["id"]: c["name"] for c in truth.coco["categories"]}
    if truth.root is not None and (truth.root / "meta").is_dir():
        params, instances = build_tables(truth.root)
        by_image = {p["image_index"]: p for p in params}
        base = {r["annotation_id"]: {**r, **{k: v for k, v in by_image.get(r["image_index"], {}).items() if k not in r}}
                for r in instances}
    else:
        by_image, base = {}, {}
    rows = instance_rows(truth, matches, names, base)
    missed: dict[Any, int] = {}
    for r in rows:
        missed[r["image_index"]] = missed.get(r["image_index"], 0) + r["missed"]
    images = [{"image_index": im["id"], "file_name": im["file_name"],
               "false_positives": matches.false_positives.get(im["id"], 0), "missed": missed.get(im["id"], 0),
               **{k: v for k, v in by_image.get(im["id"], {}).items() if k not in ("image_index", "file_name")}}
              for im in truth.coco["images"]]
    return images, rows


def instance_rows(truth: GroundTruth, matches: Matches, names: dict[int, str],
                  base: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per judged instance: its outcome, then its ``base`` row (else what COCO says)."""
    rows = []
    for ann in truth.coco["annotations"]:
        outcome = matches.outcomes.get(ann["id"])
        if outcome is None:  # a crowd region: not judged
            continue
        row = base.get(ann["id"]) or {"image_index": ann["image_id"], "annotation_id": ann["id"],
                                      "category": names.get(ann["category_id"]), "category_id": ann["category_id"],
                                      "area_px": ann.get("area"), "bbox_w": ann["bbox"][2], "bbox_h": ann["bbox"][3]}
        rows.append({"missed": not outcome.matched, "iou": round(outcome.iou, 6), "score": outcome.score, **row})
    return rows


def _summary(truth: GroundTruth, records: list[dict[str, Any]], matches: Matches, rows: list[dict[str, Any]],
             dataset: Path, predictions: Path, iou: float, min_score: float, task: Task) -> dict[str, Any]:
    missed = sum(r["missed"] for r in rows)
    by_category: dict[str, list[bool]] = {}
    by_size: dict[str, list[bool]] = {}
    for r in rows:
        by_category.setdefault(str(r["category"]), []).append(not r["missed"])
        area = r.get("area_px") or 0
        by_size.setdefault(next(k for k, (lo, hi) in SIZES.items() if lo <= area < hi), []).append(not r["missed"])
    return {"dataset": str(dataset), "predictions": str(predictions), "task": task, "iou": iou,
            "min_score": min_score, "images": len(truth.coco["images"]), "predictions_count": len(records),
            "instances": len(rows), "matched": len(rows) - missed, "missed": missed,
            "recall": round((len(rows) - missed) / len(rows), 6) if rows else None,
            "false_positives": sum(matches.false_positives.values()),
            "recall_by_category": {k: round(sum(v) / len(v), 6) for k, v in sorted(by_category.items())},
            "recall_by_size": {k: round(sum(v) / len(v), 6) for k, v in by_size.items()},
            "coco": coco_figures(truth.coco, records, task)}


def _write_hard_cases(truth: GroundTruth, rows: list[dict[str, Any]], conditions: list[Factor],
                      output: Path) -> dict[str, Any] | None:
    """hard_cases.yaml from the dataset's own resolved config; checked by loading it as ``check``
    does. None for a dataset without its config."""
    identity = truth.identity or {}
    if "config" not in identity or "config_path" not in identity:
        return None
    asset_info = identity.get("asset_info", {})
    categories = {name: info.get("category") for name, info in asset_info.items()}
    config = portable_config(identity["config"], Path(identity["config_path"]).parent, output)
    if identity.get("categories"):  # the same ids when narrowing drops a category: the sets train together
        config["categories"] = dict(identity["categories"])
    result = hard_cases(config, rows, conditions, categories)
    header = ["# Hard cases: the config of " + str(truth.root) + " with its failure regions narrowed by",
              "# `bproc-factory evaluate`. Render it like any scenario."]
    header += ([f"#   {factor}: {', '.join(keys)}" for factor, keys in result.applied.items()]
               or ["#   (nothing narrowed)"])
    header += [f"#   not mapped: {factor} ({why})" for factor, why in result.unmapped.items()]
    path = output / "hard_cases.yaml"
    path.write_text("\n".join(header) + "\n" + yaml.safe_dump(result.config, sort_keys=False), encoding="utf-8")
    try:  # what `check` loads; fails only where the dataset's scene or assets have moved since
        load_scenario(path)
        check = "ok"
    except ConfigError as exc:
        check = str(exc)
    return {"file": path.name, "applied": result.applied, "unmapped": result.unmapped, "check": check}
