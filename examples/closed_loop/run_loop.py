"""The closed loop, end to end, offline on the CPU: generate -> train -> test in the field -> analyse
-> improve, with a YOLO segmentation model trained from scratch (built from its YAML; nothing is
downloaded).

1. Render the factory's first training set (factory.yaml), the *field* set (field.yaml: the
   production camera and harder conditions; it stands in for labelled field photos) and, for
   reference, an *oracle* training set rendered from the field distribution itself.
2. Train on the factory set; evaluate on the field.
3. Sensor fix: fit the production camera's profile from aligned image pairs (`sensor fit --pairs`),
   render the training set again through it, retrain, evaluate.
4. Hard cases: render a broad probe through the fitted sensor, `evaluate` the model on it, render
   the `hard_cases.yaml` it writes, add those images to the training set, retrain, evaluate.
5. Train the oracle on as many images as the last factory model (320); print the table of field AP.

    pip install -e ".[train]"
    python examples/closed_loop/run_loop.py -o out/closed_loop

Every step is skipped when its output exists, so an interrupted run resumes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
PRODUCTION_PROFILE = HERE.parents[1] / "configs" / "sensors" / "cheap_industrial.yaml"
IMAGES = {"train": 200, "field": 100, "oracle": 320, "pairs": 8, "probe": 120, "hard": 120}  # oracle: train + hard
SEEDS = {"train": 0, "field": 99, "oracle": 7, "pairs": 5, "probe": 11, "hard": 13}
EPOCHS, IMGSZ = 30, 160


@dataclass(frozen=True)
class Row:
    """One line of the result table: which model, its field figures and how long the step took."""

    model: str
    ap50: float
    ap: float
    recall: float
    minutes: float


def factory(*args: object) -> None:
    """Run ``bproc-factory ARGS`` (the same interpreter's package), stopping on failure."""
    subprocess.run([sys.executable, "-m", "bproc_factory", *map(str, args)], check=True)


def render(config: Path, out: Path, kind: str, *sets: str) -> Path:
    if not (out / "coco.json").is_file() or len(json.loads((out / "coco.json").read_text())["images"]) < IMAGES[kind]:
        factory("render", config, "-o", out, "-n", IMAGES[kind], "--seed", SEEDS[kind],
                *[a for s in sets for a in ("--set", s)])
    return out


def yolo_data(datasets: list[Path], work: Path) -> Path:
    """Export each dataset to YOLO (segment) and write one dataset.yaml training on all of them."""
    trains, val, names = [], None, None
    for k, dataset in enumerate(datasets):
        export = work / f"yolo_{k}"
        if not (export / "dataset.yaml").is_file():
            factory("export", "yolo", dataset, "-o", export, "--task", "segment", "--val-fraction", 0.15)
        spec = yaml.safe_load((export / "dataset.yaml").read_text())
        if trains and spec["names"] != names:
            raise SystemExit(f"{dataset}: its classes {spec['names']} differ from {names}; they cannot train together")
        names = spec["names"]
        trains.append(str(export / spec["train"]))
        val = val or str(export / spec["val"])
    data = work / "dataset.yaml"
    data.write_text(yaml.safe_dump({"train": trains, "val": val, "names": names}, sort_keys=False))
    return data


def train(datasets: list[Path], work: Path) -> Path:
    """Train YOLOv8n-seg from its YAML (random weights) on the datasets; the best weights' path."""
    from ultralytics import YOLO

    weights = work / "train" / "weights" / "best.pt"
    if not weights.is_file():
        data = yolo_data(datasets, work)
        YOLO("yolov8n-seg.yaml").train(data=str(data), epochs=EPOCHS, imgsz=IMGSZ, batch=16, device="cpu",
                                       workers=2, plots=False, seed=0, deterministic=True, project=str(work),
                                       name="train", exist_ok=True, verbose=False, amp=False)
    return weights


def field_figures(weights: Path, field: Path, work: Path, model: str, started: float) -> Row:
    """Predict the field images (YOLO txt with confidences) and evaluate them as masks."""
    from ultralytics import YOLO

    labels = work / "predict" / "labels"
    if not labels.is_dir():
        for _ in YOLO(str(weights)).predict(source=str(field / "images"), imgsz=IMGSZ, conf=0.01, save_txt=True,
                                            save_conf=True, project=str(work), name="predict", exist_ok=True,
                                            verbose=False, stream=True, device="cpu"):
            pass
    factory("evaluate", field, labels, "-o", work / "field_eval", "--task", "segment")
    summary = json.loads((work / "field_eval" / "summary.json").read_text())
    stats = summary["coco"]["stats"]
    timing = work / "minutes.txt"  # the step's time when it ran; a resumed run skipped it
    if not timing.is_file():
        timing.write_text(f"{(time.perf_counter() - started) / 60:.1f}\n")
    return Row(model, stats["AP50"] or 0.0, stats["AP"] or 0.0, summary["recall"] or 0.0,
               float(timing.read_text()))


def fit_sensor(out: Path) -> Path:
    """The production camera's profile, fitted from aligned pairs: the same scenes through a clean
    reference camera and through the production camera."""
    fitted = out / "fitted_sensor.yaml"
    if not fitted.is_file():
        config = HERE / "factory.yaml"
        render(config, out / "pairs" / "reference", "pairs", "render.jpeg_quality=98")
        render(config, out / "pairs" / "production", "pairs", f"sensor={{profile: {PRODUCTION_PROFILE}}}")
        factory("sensor", "fit", "--pairs", out / "pairs" / "reference" / "images",
                out / "pairs" / "production" / "images", "-o", fitted, "--name", "fitted_production")
    return fitted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("out/closed_loop"))
    out = parser.parse_args().output.resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    rows: list[Row] = []

    t = time.perf_counter()
    train_set = render(HERE / "factory.yaml", out / "data" / "train", "train")
    field = render(HERE / "field.yaml", out / "data" / "field", "field")
    rows.append(field_figures(train([train_set], out / "before"), field, out / "before", "factory, first guess", t))

    t = time.perf_counter()
    sensor = f"sensor={{profile: {fit_sensor(out)}}}"
    fixed_set = render(HERE / "factory.yaml", out / "data" / "train_sensor", "train", sensor)
    fixed = train([fixed_set], out / "sensor")
    rows.append(field_figures(fixed, field, out / "sensor", "+ fitted production sensor", t))

    t = time.perf_counter()
    probe = render(HERE / "probe.yaml", out / "data" / "probe", "probe", sensor)
    probe_eval = out / "sensor" / "probe_eval"
    if not (probe_eval / "hard_cases.yaml").is_file():
        predict_probe = out / "sensor" / "probe_predict"
        from ultralytics import YOLO
        for _ in YOLO(str(fixed)).predict(source=str(probe / "images"), imgsz=IMGSZ, conf=0.01, save_txt=True,
                                          save_conf=True, project=str(predict_probe.parent), name=predict_probe.name,
                                          exist_ok=True, verbose=False, stream=True, device="cpu"):
            pass
        factory("evaluate", probe, predict_probe / "labels", "-o", probe_eval, "--task", "segment")
    hard = render(probe_eval / "hard_cases.yaml", out / "data" / "hard", "hard")
    rows.append(field_figures(train([fixed_set, hard], out / "hard"), field, out / "hard",
                              "+ hard cases from evaluate", t))

    t = time.perf_counter()
    oracle_set = render(HERE / "field.yaml", out / "data" / "oracle", "oracle")
    oracle = field_figures(train([oracle_set], out / "oracle"), field, out / "oracle", "oracle (320 images of the "
                           "field distribution)", t)

    narrowed = json.loads((probe_eval / "summary.json").read_text())["hard_cases"]["applied"]
    lines = ["| model | field mask AP50 | field mask AP | recall (IoU 0.5) | × oracle AP50 | minutes |",
             "|---|---|---|---|---|---|"]
    for row in rows + [oracle]:
        ratio = row.ap50 / oracle.ap50 if oracle.ap50 else float("nan")
        lines.append(f"| {row.model} | {row.ap50:.3f} | {row.ap:.3f} | {row.recall:.3f} | {ratio:.2f} | "
                     f"{row.minutes:.1f} |")
    lines.append(f"\nHard cases narrowed: {', '.join(f'{k} -> {v}' for k, v in narrowed.items()) or 'nothing'}")
    table = "\n".join(lines)
    (out / "loop_table.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
