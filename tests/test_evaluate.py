"""`evaluate`: COCO figures, per-instance outcomes, the factors that go with misses, and the hard-case
config, proven with planted-failure predictors on a real rendered dataset."""
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO, cli, tiny_config, write_config

from bproc_factory.config import load_scenario
from bproc_factory.evaluate import PredictionError, evaluate
from bproc_factory.evaluate.factors import failure_conditions, rank_factors


def plain_coco(tmp_path: Path, n_images: int = 12) -> Path:
    """A hand-labelled-style COCO file (no meta, no config): two boxes per image, categories 3 and 7."""
    rng = np.random.default_rng(1)
    images, annotations = [], []
    for i in range(n_images):
        images.append({"id": i, "file_name": f"img_{i}.jpg", "width": 200, "height": 100})
        for k, category in enumerate((3, 7)):
            x, y = float(rng.uniform(0, 100)), float(rng.uniform(0, 50))
            w, h = (40.0, 30.0) if category == 3 else (12.0, 10.0)
            annotations.append({"id": 2 * i + k + 1, "image_id": i, "category_id": category, "bbox": [x, y, w, h],
                                "area": w * h, "iscrowd": 0,
                                "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]})
    path = tmp_path / "labels.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 3, "name": "can"}, {"id": 7, "name": "cap"}]}))
    return path


def as_predictions(coco: dict, keep=lambda ann: True) -> list[dict]:
    return [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.9}
            for a in coco["annotations"] if keep(a)]


def run_evaluate(dataset: Path, predictions, folder: Path, task: str = "detect") -> dict:
    """Evaluate in-process (the CLI is one call to this function; its exit codes are tested below)."""
    path = predictions if isinstance(predictions, Path) else folder / "predictions.json"
    if not isinstance(predictions, Path):
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(predictions))
    evaluate(dataset, path, folder / "eval", task=task)
    return json.loads((folder / "eval" / "summary.json").read_text())


def test_perfect_predictions_score_ap_1_and_find_no_factors(tmp_path):
    labels = plain_coco(tmp_path)
    summary = run_evaluate(labels, as_predictions(json.loads(labels.read_text())), tmp_path)
    assert summary["coco"]["stats"]["AP"] == 1.0 and summary["missed"] == 0 and summary["false_positives"] == 0
    assert summary["coco"]["per_category_AP"] == {"can": 1.0, "cap": 1.0}
    assert json.loads((tmp_path / "eval" / "factors.json").read_text()) == []


def test_empty_predictions_score_ap_0_and_miss_everything(tmp_path):
    summary = run_evaluate(plain_coco(tmp_path), [], tmp_path)
    assert summary["coco"]["stats"]["AP"] == 0.0 and summary["missed"] == summary["instances"] == 24


def test_a_hand_labelled_coco_file_gets_figures_per_category_and_size_and_no_hard_cases(tmp_path):
    labels = plain_coco(tmp_path)
    coco = json.loads(labels.read_text())
    summary = run_evaluate(labels, as_predictions(coco, lambda a: a["category_id"] == 3), tmp_path)
    assert summary["coco"]["per_category_AP"] == {"can": 1.0, "cap": 0.0}
    assert summary["recall_by_category"] == {"can": 1.0, "cap": 0.0}
    assert summary["recall_by_size"] == {"medium": 1.0, "small": 0.0}
    assert summary["hard_cases"] is None and not (tmp_path / "eval" / "hard_cases.yaml").exists()
    factors = json.loads((tmp_path / "eval" / "factors.json").read_text())
    assert factors[0]["factor"] in ("category", "area_px", "bbox_w", "bbox_h") and factors[0]["miss_rate_in"] == 1.0
    page = (tmp_path / "eval" / "index.html").read_text()
    assert "cap" in page and "plots/factor_0.png" in page and (tmp_path / "eval" / "plots" / "factor_0.png").is_file()


def test_matching_is_greedy_by_score_and_a_prediction_on_a_crowd_region_is_no_false_positive(tmp_path):
    labels = plain_coco(tmp_path, 1)
    coco = json.loads(labels.read_text())
    can = coco["annotations"][0]
    coco["annotations"].append({**can, "id": 99, "iscrowd": 1, "bbox": [150.0, 60.0, 40.0, 30.0]})
    labels.write_text(json.dumps(coco))
    x, y, w, h = can["bbox"]
    predictions = [{"image_id": 0, "category_id": 3, "bbox": [x + 8, y, w, h], "score": 0.6},   # IoU 0.67
                   {"image_id": 0, "category_id": 3, "bbox": [x + 1, y, w, h], "score": 0.95},  # taken first
                   {"image_id": 0, "category_id": 3, "bbox": [150.0, 60.0, 40.0, 30.0], "score": 0.9}]
    summary = run_evaluate(labels, predictions, tmp_path)
    assert summary["false_positives"] == 1 and summary["missed"] == 1  # the cap; the 0.6 box is a duplicate
    rows = {r["annotation_id"]: r for r in _parquet_rows(tmp_path / "eval" / "instances.parquet")}
    assert rows[can["id"]]["score"] == 0.95 and rows[can["id"]]["iou"] == pytest.approx(39 / 41)
    assert 99 not in rows  # crowd regions are not judged
    assert _parquet_rows(tmp_path / "eval" / "images.parquet")[0] == {"image_index": 0, "file_name": "img_0.jpg",
                                                                    "false_positives": 1, "missed": 1}


def _parquet_rows(path: Path) -> list[dict]:
    import pyarrow.parquet as pq
    return pq.read_table(path).to_pylist()


def test_yolo_prediction_files_map_back_by_file_name_and_the_exports_class_order(tmp_path):
    labels = plain_coco(tmp_path, 3)
    coco = json.loads(labels.read_text())
    folder = tmp_path / "yolo"
    folder.mkdir()
    for image in coco["images"]:
        lines = []
        for a in coco["annotations"]:
            if a["image_id"] == image["id"]:
                x, y, w, h = a["bbox"]
                k = sorted([3, 7]).index(a["category_id"])
                lines.append(f"{k} {(x + w / 2) / 200:.6f} {(y + h / 2) / 100:.6f} {w / 200:.6f} {h / 100:.6f} 0.8")
        (folder / f"img_{image['id']}.txt").write_text("\n".join(lines) + "\n")
    summary = run_evaluate(labels, folder, tmp_path)
    assert summary["coco"]["stats"]["AP"] == 1.0 and summary["predictions_count"] == 6


@pytest.mark.parametrize("case, fix, message", [
    ("unknown image", lambda p: p[1].update(image_id=999), "prediction 1: `image_id` 999 is not an image"),
    ("unknown category", lambda p: p[0].update(category_id=5), "prediction 0: `category_id` 5 is not a category"),
    ("bad box", lambda p: p[2].update(bbox=[1, 2, 3]), "prediction 2: `bbox` must be [x, y, width, height]"),
    ("no score", lambda p: p[3].pop("score"), "prediction 3: `score` is missing"),
    ("text score", lambda p: p[3].update(score="high"), "prediction 3: `score` must be a finite number"),
    ("nan score", lambda p: p[3].update(score=float("nan")), "not a COCO results JSON file"),
    ("bad mask", lambda p: p[0].update(segmentation={"size": [5, 5], "counts": "x"}), "prediction 0: `segmentation`"),
    ("not a list", lambda p: p.__setitem__(slice(None), [{"results": p[:]}]), "prediction 0: `image_id` is missing"),
])
def test_bad_predictions_are_refused_naming_the_entry_and_nothing_is_written(tmp_path, case, fix, message):
    labels = plain_coco(tmp_path, 2)
    predictions = as_predictions(json.loads(labels.read_text()))
    fix(predictions)
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(predictions))
    with pytest.raises(PredictionError) as caught:
        evaluate(labels, path, tmp_path / "eval")
    assert str(caught.value).startswith(str(path)) and message in str(caught.value), caught.value
    assert not (tmp_path / "eval").exists()


@pytest.mark.parametrize("name, text, message", [
    ("img_0.txt", "0 0.5 0.5 0.1 0.1\n", "img_0.txt:1: expected `class cx cy w h conf`"),
    ("img_0.txt", "0 0.5 0.5 0.1 0.1 0.9\n2 0.5 0.5 0.1 0.1 0.9\n",
     "img_0.txt:2: class 2 is not one of the export's 0..1"),
    ("img_0.txt", "0 a b c d e\n", "img_0.txt:1: a YOLO line is numbers"),
    ("other.txt", "0 0.5 0.5 0.1 0.1 0.9\n", "other.txt: no image of the dataset is named other.*"),
])
def test_bad_yolo_prediction_files_are_refused_naming_the_line(tmp_path, name, text, message):
    labels = plain_coco(tmp_path, 2)
    folder = tmp_path / "yolo"
    folder.mkdir()
    (folder / name).write_text(text)
    with pytest.raises(PredictionError, match=None) as caught:
        evaluate(labels, folder, tmp_path / "eval")
    assert message in str(caught.value), caught.value


def test_the_command_exits_2_with_one_line_naming_the_file_and_entry(tmp_path):
    labels = plain_coco(tmp_path, 2)
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps([{"image_id": 999, "category_id": 3, "score": 0.5, "bbox": [0, 0, 1, 1]}]))
    result = cli("evaluate", labels, path, "-o", tmp_path / "eval")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{path}: prediction 0: `image_id` 999 is not an image of the dataset" in " ".join(result.stderr.split())
    assert not (tmp_path / "eval").exists()


def synthetic_rows(n: int = 600, seed: int = 0) -> list[dict]:
    """Instances whose misses are planted: elevation above 55 degrees, or category 'can' under dim light."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        row = {"sampled.view.elevation_deg": float(rng.uniform(20, 80)),
               "sampled.lights.0.energy_w": float(rng.uniform(10, 100)),
               "category": str(rng.choice(["can", "box", "bottle"])), "noise": float(rng.normal()),
               "image_index": int(rng.integers(100))}
        row["missed"] = bool(row["sampled.view.elevation_deg"] > 55 and rng.random() < 0.9)
        rows.append(row)
    return rows


def test_the_factor_scan_ranks_a_planted_numeric_condition_first_with_its_region():
    factors = rank_factors(synthetic_rows())
    top = factors[0]
    assert top.factor == "sampled.view.elevation_deg" and top.kind == "numeric"
    assert 53 <= top.region[0] <= 57 and top.region[1] > 79 and top.miss_rate_in > 0.8 > 0.05 > top.miss_rate_out
    assert all(f.z < 4 for f in factors[1:])  # nothing else is planted
    assert "image_index" not in {f.factor for f in factors}
    assert rank_factors([{**r, "missed": False} for r in synthetic_rows()]) == []


def test_failure_conditions_explain_away_a_factor_that_fails_only_through_another():
    rng = np.random.default_rng(2)
    rows = []
    for _ in range(800):
        category = str(rng.choice(["can", "box"]))  # cans fail; only cans have a roughness below 0.3
        roughness = float(rng.uniform(0.1, 0.3)) if category == "can" else float(rng.uniform(0.4, 0.9))
        rows.append({"category": category, "sampled.finish.roughness": roughness,
                     "sampled.view.elevation_deg": float(rng.uniform(20, 80)),
                     "missed": category == "can" and rng.random() < 0.8})
    assert {f.factor for f in rank_factors(rows) if f.z > 10} == {"category", "sampled.finish.roughness"}
    assert [f.factor for f in failure_conditions(rows, lambda f: True)] == ["category"]


# --- on a real rendered dataset -------------------------------------------------------------------

@pytest.fixture(scope="module")
def crowded(tmp_path_factory) -> Path:
    """64 tiny images of 6-9 cans and bottles and a box, seen from 15-75 degrees: enough instances,
    elevations and partly hidden ones for the planted predictors below."""
    folder = tmp_path_factory.mktemp("crowded")
    config = tiny_config(views_per_scene=4)
    config["camera"].update(resolution=[48, 36], K={"fx": 52.0, "fy": 52.0, "cx": 23.5, "cy": 17.5},
                            elevation_deg={"uniform": [15, 75]}, distance_m={"uniform": [0.7, 0.9]})
    config["objects"][0]["count"] = {"uniform": [6, 9]}
    config["render"] = {"samples": 1, "noise_threshold": 0, "denoiser": "none"}
    cli("render", write_config(folder, config), "-o", folder / "ds", "-n", 64, check=True)
    return folder / "ds"


PLANTED = {
    "sampled.view.elevation_deg": lambda meta, obj: meta["sampled"]["view"]["elevation_deg"] > 55,
    "object.visib_fract": lambda meta, obj: obj["visib_fract"] < 0.5,
    "category": lambda meta, obj: obj["category"] == "can",
}


def planted_predictions(dataset: Path, condition) -> tuple[list[dict], list[float]]:
    """The ground truth with boxes jittered by up to 3 % and random scores, except the instances
    under ``condition``; also the planted instances' values of the factor."""
    coco = json.loads((dataset / "coco.json").read_text())
    rng = np.random.default_rng(0)
    predictions, planted = [], []
    for ann in coco["annotations"]:
        meta = json.loads((dataset / "meta" / f"{ann['image_id']:06d}.json").read_text())
        obj = next(o for o in meta["objects"] if o["instance_id"] == ann["instance_id"])
        if condition(meta, obj):
            planted.append((meta, obj))
            continue
        x, y, w, h = ann["bbox"]
        predictions.append({"image_id": ann["image_id"], "category_id": ann["category_id"],
                            "score": float(rng.uniform(0.5, 1.0)),
                            "bbox": [x + w * rng.uniform(-0.03, 0.03), y + h * rng.uniform(-0.03, 0.03), w, h]})
    return predictions, planted


@pytest.mark.render
@pytest.mark.parametrize("factor", sorted(PLANTED))
def test_a_planted_failure_is_ranked_first_and_hard_cases_draw_only_from_its_region(crowded, tmp_path, factor):
    predictions, planted = planted_predictions(crowded, PLANTED[factor])
    assert len(planted) >= 20
    summary = run_evaluate(crowded, predictions, tmp_path)
    out = tmp_path / "eval"
    top = json.loads((out / "factors.json").read_text())[0]
    assert top["factor"] == factor and top["miss_rate_in"] > 0.9 and top["miss_rate_out"] < 0.05, top
    assert [c["factor"] for c in summary["conditions"]] == [factor]  # nothing else explains misses
    assert summary["hard_cases"]["check"] == "ok" and list(summary["hard_cases"]["applied"]) == [factor]
    assert cli("check", out / "hard_cases.yaml").returncode == 0
    config = yaml.safe_load((out / "hard_cases.yaml").read_text())
    assert config["categories"] == json.loads((crowded / "run.json").read_text())["categories"]
    if factor == "category":
        assert top["region"] == ["can"]
        assert [Path(a).name for a in config["objects"][0]["assets"]] == ["soda_can"]
        assert [Path(a).name for a in config["objects"][1]["assets"]] == ["cereal_box"]  # no can in it: kept
        return
    if factor == "object.visib_fract":
        values, narrowed = [obj["visib_fract"] for _, obj in planted], config["occlusion"]["target"]["visib_fract"]
    else:
        values = [meta["sampled"]["view"]["elevation_deg"] for meta, _ in planted]
        narrowed = config["camera"]["elevation_deg"]["uniform"]
    assert top["region"][0] <= min(values) and max(values) <= top["region"][1]
    assert narrowed == pytest.approx(top["region"], abs=1e-4)
    assert summary["missed"] == len(planted)
    page = (out / "index.html").read_text()
    assert "misses.jpg" in page and (out / "misses.jpg").stat().st_size > 1000


@pytest.mark.render
def test_masks_are_compared_for_segment_and_yolo_exports_predictions_map_back(crowded, tmp_path):
    coco = json.loads((crowded / "coco.json").read_text())
    perfect = [{"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0,
                "segmentation": a["segmentation"]} for a in coco["annotations"]]
    summary = run_evaluate(crowded, perfect, tmp_path / "segm", task="segment")
    assert summary["coco"]["stats"]["AP"] == 1.0 and summary["missed"] == 0
    cli("export", "yolo", crowded, "-o", tmp_path / "yolo", "--task", "detect", check=True)
    predictions = tmp_path / "predicted"
    predictions.mkdir()
    for split in ("train", "val"):
        for label in (tmp_path / "yolo" / "labels" / split).glob("*.txt"):
            lines = label.read_text().splitlines()
            (predictions / label.name).write_text("".join(f"{line} 0.9\n" for line in lines))
    summary = run_evaluate(crowded, predictions, tmp_path / "txt")
    assert summary["coco"]["stats"]["AP"] > 0.99 and summary["missed"] == 0


@pytest.mark.parametrize("name", ["factory", "field", "probe"])
def test_the_closed_loop_examples_configs_load(name):
    loaded = load_scenario(REPO / "examples" / "closed_loop" / f"{name}.yaml")
    assert loaded.scenario.camera.resolution == (160, 120)


def _config_with_lights(count) -> dict:
    return {"camera": {"elevation_deg": {"uniform": [20, 80]}},
            "lights": [{"count": count, "energy_w": {"uniform": [10, 100]}}],
            "world": {"hdri": {"file": "x.hdr", "rotation_deg": {"uniform": [0, 360]}}},
            "objects": [{"assets": ["a/soda_can", "a/bottle"], "scale": {"uniform": [0.8, 1.2]}}],
            "surfaces": {"materials": ["wood", "plastic", "cardboard"], "probability": 1.0}}


@pytest.mark.parametrize("factor, planted, key, expected", [  # numeric regions end within a 32nd of the range
    ("sampled.lights.0.energy_w", lambda v: v < 30, ("lights", 0, "energy_w"), (10, 30, 90)),
    ("sampled.world.hdri.rotation_deg", lambda v: 90 < v < 180, ("world", "hdri", "rotation_deg"), (90, 180, 360)),
    ("sampled.scale", lambda v: v > 1.1, ("objects", 0, "scale"), (1.1, 1.2, 0.4)),
    ("sampled.surfaces.table_top.material", lambda v: v == "plastic", ("surfaces", "materials"), ["plastic"]),
])
def test_hard_cases_narrow_the_config_key_that_produces_each_kind_of_factor(factor, planted, key, expected):
    from bproc_factory.evaluate.hard_cases import hard_cases

    rng = np.random.default_rng(3)
    draws = {"sampled.lights.0.energy_w": lambda: float(rng.uniform(10, 100)),
             "sampled.world.hdri.rotation_deg": lambda: float(rng.uniform(0, 360)),
             "sampled.scale": lambda: float(rng.uniform(0.8, 1.2)),
             "sampled.surfaces.table_top.material": lambda: str(rng.choice(["wood", "plastic", "cardboard"]))}
    rows = []
    for _ in range(600):
        row = {name: draw() for name, draw in draws.items()}
        rows.append({**row, "missed": bool(planted(row[factor]))})
    result = hard_cases(_config_with_lights({"constant": 1.0}), rows, failure_conditions(rows), {})
    assert list(result.applied) == [factor], result
    node = result.config
    for part in key:
        node = node[part]
    if isinstance(expected, list):
        assert node == expected
    else:
        low, high, span = expected
        assert node["uniform"] == pytest.approx([low, high], abs=span / 32)


def test_a_light_index_that_names_no_single_group_is_reported_not_narrowed():
    from bproc_factory.evaluate.hard_cases import hard_cases

    rng = np.random.default_rng(4)
    rows = [{"sampled.lights.0.energy_w": (v := float(rng.uniform(10, 100))), "missed": v < 30} for _ in range(400)]
    result = hard_cases(_config_with_lights({"uniform": [1, 3]}), rows, failure_conditions(rows), {})
    assert result.applied == {} and "sampled.lights.0.energy_w" in result.unmapped
