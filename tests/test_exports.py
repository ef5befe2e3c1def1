"""YOLO export round trip, merging shards, sweeps, datasheets and previews."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from conftest import cli, tiny_config, write_config

from bproc_factory.dataset.merge import MergeError, merge_datasets
from bproc_factory.dataset.yolo import export_yolo, mask_polygon, split_scenes


def polygon_to_mask(line: str, width: int, height: int) -> np.ndarray:
    """Rasterise one YOLO segmentation line back to a boolean mask, as Ultralytics does."""
    values = np.array(line.split()[1:], float).reshape(-1, 2) * [width, height]
    out = np.zeros((height, width), np.uint8)
    cv2.fillPoly(out, [np.round(values).astype(np.int32)], 1)
    return out.astype(bool)


@pytest.mark.parametrize("pixels", [[(3, 4)], [(3, 4), (4, 4)], [(3, 4), (3, 5), (3, 6)]])
def test_polygons_of_one_or_two_pixel_wide_instances_have_three_or_more_points(pixels):
    mask = np.zeros((10, 12), bool)
    for y, x in pixels:
        mask[y, x] = True
    poly = mask_polygon(mask)
    assert len(np.unique(poly, axis=0)) >= 3 and cv2.contourArea(poly.astype(np.float32)) > 0
    line = "0 " + " ".join(f"{v:.6f}" for v in (poly / [12, 10]).ravel())
    assert (polygon_to_mask(line, 12, 10) & mask).sum() == mask.sum()


def test_val_split_is_never_empty_when_asked_for():
    for seed in range(20):
        val = split_scenes([0, 0, 1, 1], 0.2, seed)
        assert len(val) >= 1 and val <= {0, 1}
    assert split_scenes([0, 1, 2], 0.0, 1) == set()


def test_polygon_of_a_two_part_mask_rasterises_back_to_both_parts():
    mask = np.zeros((40, 60), bool)
    mask[5:15, 5:20] = True
    mask[25:35, 40:55] = True
    poly = mask_polygon(mask)
    line = "0 " + " ".join(f"{v:.6f}" for v in (poly / [60, 40]).ravel())
    back = polygon_to_mask(line, 60, 40)
    assert (back & mask).sum() == mask.sum()
    assert (back & ~mask).sum() <= 25  # the zero-width bridge between the parts


@pytest.mark.render
def test_yolo_segmentation_labels_round_trip_to_the_masks(rendered, tmp_path):
    summary = export_yolo(rendered, tmp_path / "yolo", "segment", val_fraction=0.5, seed=1)
    spec = yaml.safe_load((tmp_path / "yolo" / "dataset.yaml").read_text())
    assert spec["names"] == {0: "bottle", 1: "box", 2: "can"} and spec["train"] == "images/train"
    coco = json.loads((rendered / "coco.json").read_text())
    ious = []
    for image in coco["images"]:
        i = image["id"]
        split = "train" if (tmp_path / "yolo" / "labels" / "train" / f"{i:06d}.txt").exists() else "val"
        assert (tmp_path / "yolo" / "images" / split / f"{i:06d}.png").is_file()
        mask = cv2.imread(str(rendered / "masks" / f"{i:06d}.png"), cv2.IMREAD_UNCHANGED)
        lines = (tmp_path / "yolo" / "labels" / split / f"{i:06d}.txt").read_text().splitlines()
        anns = [a for a in coco["annotations"] if a["image_id"] == i]
        assert len(lines) == len(anns)
        for line, ann in zip(lines, anns):
            assert int(line.split()[0]) == ann["category_id"] - 1
            back = polygon_to_mask(line, image["width"], image["height"])
            truth = mask == ann["instance_id"]
            ious.append((back & truth).sum() / (back | truth).sum())
    assert summary.labels == len(coco["annotations"]) == len(ious)
    assert min(ious) >= 0.75 and np.mean(ious) >= 0.9, ious  # 64x48 images: small objects


@pytest.mark.render
def test_yolo_boxes_match_coco_and_views_of_a_scene_share_a_split(rendered, tmp_path):
    export_yolo(rendered, tmp_path / "det", "detect", val_fraction=0.5, seed=3)
    coco = json.loads((rendered / "coco.json").read_text())
    split_of = {}
    for ann in coco["annotations"]:
        i = ann["image_id"]
        split = "train" if (tmp_path / "det" / "labels" / "train" / f"{i:06d}.txt").exists() else "val"
        split_of.setdefault(i // 2, set()).add(split)  # views_per_scene = 2
        lines = (tmp_path / "det" / "labels" / split / f"{i:06d}.txt").read_text().splitlines()
        cx, cy, w, h = (float(v) for v in lines[[a["id"] for a in coco["annotations"] if a["image_id"] == i]
                                                 .index(ann["id"])].split()[1:])
        x, y, bw, bh = ann["bbox"]
        assert (cx * 64 - w * 64 / 2, cy * 48 - h * 48 / 2, w * 64, h * 48) == pytest.approx((x, y, bw, bh), abs=1e-3)
    assert all(len(s) == 1 for s in split_of.values())


@pytest.mark.render
def test_merging_two_shards_equals_one_run_of_the_same_indices(rendered, tmp_path):
    config = write_config(tmp_path, tiny_config())
    cli("render", config, "-o", tmp_path / "s0", "-n", "2", "--seed", "7", "-q", check=True)
    cli("render", config, "-o", tmp_path / "s1", "--start", "2", "-n", "2", "--seed", "7", "-q", check=True)
    result = cli("merge", tmp_path / "s0", tmp_path / "s1", "-o", tmp_path / "merged", check=True)
    assert "4 images" in result.stdout
    merged = tmp_path / "merged"
    for sub in ("images", "masks", "meta"):
        for path in sorted((rendered / sub).iterdir()):
            assert (merged / sub / path.name).read_bytes() == path.read_bytes(), path
    assert json.loads((merged / "coco.json").read_text()) == json.loads((rendered / "coco.json").read_text())
    assert cli("validate", merged).returncode == 0
    assert "Merged from" in (merged / "DATASET.md").read_text()
    # a merged folder of shards is still that run's dataset: rendering more into it works
    result = cli("render", config, "-o", merged, "-n", "5", "--seed", "7", "-q", check=True)
    assert "4 already complete" in result.stdout and cli("validate", merged).returncode == 0
    assert "Merged from" in (merged / "DATASET.md").read_text()


@pytest.mark.render
def test_merge_refuses_conflicting_images_and_categories(rendered, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(rendered, other)
    meta = json.loads((other / "meta" / "000001.json").read_text())
    meta["scene_seed"] += 1
    (other / "meta" / "000001.json").write_text(json.dumps(meta))
    with pytest.raises(MergeError, match="image 0 is in both|image 1 is in both"):
        merge_datasets([rendered, other], tmp_path / "m1")
    run = json.loads((other / "run.json").read_text())
    run["categories"] = {"bottle": 1, "box": 3, "can": 2}
    (other / "run.json").write_text(json.dumps(run))
    with pytest.raises(MergeError, match="category 'box' has id 2 in .* but 3 in"):
        merge_datasets([rendered, other], tmp_path / "m2")
    assert not (tmp_path / "m1" / "coco.json").exists()


@pytest.mark.render
def test_merge_refuses_datasets_with_different_image_formats(rendered, tmp_path):
    config = write_config(tmp_path, tiny_config(render={**tiny_config()["render"], "image_format": "jpg"}))
    cli("render", config, "-o", tmp_path / "jpg", "--start", "10", "-n", "1", "-q", check=True)
    with pytest.raises(MergeError, match="merge needs one format"):
        merge_datasets([rendered, tmp_path / "jpg"], tmp_path / "m")


@pytest.mark.render
def test_sweep_subsets_differ_only_in_the_swept_value(tmp_path):
    config = write_config(tmp_path, tiny_config(world={"strength": 0.3}))
    out = tmp_path / "sweep"
    result = cli("render", config, "-o", out, "-n", "2", "--seed", "4", "-q",
                 "--sweep", "world.strength=0.1,1.5", check=True)
    assert result.stdout.count("Rendered 2 images") == 2 and "Developed" not in result.stdout  # a scene key
    index = json.loads((out / "sweep.json").read_text())
    names = [s["path"] for s in index["subsets"]]
    assert names == ["world.strength=0.1", "world.strength=1.5"]
    a, b = (out / n for n in names)
    for i in range(2):
        assert (a / "masks" / f"{i:06d}.png").read_bytes() == (b / "masks" / f"{i:06d}.png").read_bytes()
        assert (a / "images" / f"{i:06d}.png").read_bytes() != (b / "images" / f"{i:06d}.png").read_bytes()
        ma, mb = (json.loads((d / "meta" / f"{i:06d}.json").read_text()) for d in (a, b))
        assert ma["subset"] == {"name": names[0], "values": {"world.strength": 0.1}}
        assert ma["sampled"]["world"] == {"strength": 0.1} and mb["sampled"]["world"] == {"strength": 1.5}
        for m in (ma, mb):
            del m["subset"], m["sampled"]["world"], m["provenance"]["config_sha256"]
        assert ma == mb
    assert "world.strength=0.1" in (out / "DATASET.md").read_text()
    assert "## Subsets" in (a / "DATASET.md").read_text()


@pytest.mark.render
def test_every_rendered_dataset_has_a_datasheet(rendered):
    sheet = (rendered / "DATASET.md").read_text()
    for text in ("4 images", "| bottle | 1 |", "Config SHA-256", "render_device CPU", "## Label policy",
                 "## Known limitations", "```yaml", "soda_can"):
        assert text in sheet, text


@pytest.mark.render
def test_preview_writes_one_labelled_contact_sheet(tmp_path):
    config = write_config(tmp_path, tiny_config(camera={**tiny_config()["camera"], "resolution": [128, 96],
                                                        "K": {"fx": 140.0, "fy": 140.0, "cx": 63.5, "cy": 47.5}}))
    result = cli("preview", config, "-o", tmp_path / "p.png", "-n", "4", "--width", "64", check=True)
    sheet = cv2.imread(str(tmp_path / "p.png"))
    assert "Preview of 4 images" in result.stdout
    assert sheet.shape == (2 * 48, 4 * 64, 3)  # 4 images + 4 labelled copies, 4 per row
    raw, labelled = sheet[:48, :64].astype(int), sheet[:48, 64:128].astype(int)
    assert (np.abs(raw - labelled).max(axis=2) > 40).sum() > 20  # the masks are drawn


def test_sweep_specs_are_parsed_strictly():
    from bproc_factory.config.loader import ConfigError
    from bproc_factory.run.sweep import parse_sweep, subsets

    assert parse_sweep("render.exposure_ev=-1,0,1") == ("render.exposure_ev", [-1, 0, 1])
    assert parse_sweep("world.color=[[1,1,1],[1,0.8,0.6]]")[1] == [[1, 1, 1], [1, 0.8, 0.6]]
    for bad, message in [("a=1,2,", "empty value"), ("a=1", "at least two values"), ("a=1,1", "repeat"),
                         ("=1,2", "expected key.path"), ("a=[1, 2", "not valid YAML")]:
        with pytest.raises(ConfigError, match=message):
            parse_sweep(bad)
    names = [s.name for s in subsets(["a=x y,x_y"])]
    assert len(set(names)) == 2 and all(len(n) < 130 for n in names)
    assert [s.name for s in subsets(["a=1,2", "b=c,d"])] == ["a=1__b=c", "a=1__b=d", "a=2__b=c", "a=2__b=d"]


@pytest.mark.render
def test_the_qa_docs_table_recipe_runs(rendered, tmp_path):
    qa = (Path(__file__).resolve().parent.parent / "docs" / "qa.md").read_text()
    code = re.search(r"```python\n(import pandas as pd.*?)```", qa, re.S).group(1)
    report = tmp_path / "out" / "demo-report" / "tables"
    report.mkdir(parents=True)
    from bproc_factory.qa.table import build_tables, write_table
    write_table(build_tables(rendered)[0], report / "params")
    (tmp_path / "my_model_errors.csv").write_text("image_index,error\n0,0.1\n1,0.5\n2,0.2\n3,0.9\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "error" in result.stdout
