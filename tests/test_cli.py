"""The command line in-process (``typer.testing.CliRunner``): every command that needs no bpy, its
exit codes and the messages users read. Datasets are written by hand here, file by file as the
dataset folder contract describes them (docs/dataset.md), so nothing renders; bpy is made
unimportable for each test."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from conftest import REPO
from pycocotools import mask as mask_utils
from typer.testing import CliRunner

import bproc_factory
from bproc_factory.cli import app

BACKPLATE_CONFIG = REPO / "configs" / "backplate-coffee.yaml"
BACKPLATE_SCENE = REPO / "scenes" / "backplates" / "coffee_table.yaml"
SENSOR_EXAMPLES = REPO / "examples" / "sensor_fit"
CATEGORIES = {"bottle": 1, "can": 2}
IDENTITY = {"config_sha256": "f" * 64, "run_seed": 7, "categories": CATEGORIES, "image_suffix": ".png",
            "inputs": {"scene": "s" * 64, "assets": {"bottle": "b" * 64, "soda_can": "c" * 64}}}
VIEWS_PER_SCENE = 2


@pytest.fixture(autouse=True)
def no_bpy(monkeypatch):
    """bpy and blenderproc cannot be imported during these tests, and no test loads a module of the
    blender subpackage (which would need them)."""
    def blender_modules() -> set[str]:
        return {m for m in sys.modules if m.startswith("bproc_factory.blender")}

    before = blender_modules()
    monkeypatch.setitem(sys.modules, "bpy", None)
    monkeypatch.setitem(sys.modules, "blenderproc", None)
    yield
    assert blender_modules() == before


def invoke(*args: str | Path):
    """``bproc-factory ARGS`` in this process; stdout and stderr are kept apart."""
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200", "NO_COLOR": "1"})


def one_line(text: str) -> str:
    """Messages with their line wrapping undone (rich wraps some at the console width)."""
    return " ".join(text.split())


def annotation(image_id: int, instance_id: int, category_id: int, binary: np.ndarray) -> dict:
    """A COCO annotation as render writes it: compressed RLE, pixel-count area, tight box, and the
    id ``image_id * 10000 + instance_id``."""
    rle = mask_utils.encode(np.asfortranarray(binary.astype(np.uint8)))
    ys, xs = np.nonzero(binary)
    return {"id": image_id * 10000 + instance_id, "image_id": image_id, "category_id": category_id,
            "segmentation": {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")},
            "area": int(binary.sum()), "bbox": [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                                                int(ys.max() - ys.min() + 1)],
            "iscrowd": 0, "instance_id": instance_id}


def write_dataset(root: Path, indices: range, brightness: int = 0) -> Path:
    """A dataset as render writes it, two objects per image (a bottle and a can), two views per
    scene, 32x24 pixels: run.json, images/, masks/ (uint16 instance ids), meta/ and coco.json."""
    for sub in ("images", "masks", "meta"):
        (root / sub).mkdir(parents=True)
    (root / "run.json").write_text(json.dumps(IDENTITY))
    rng = np.random.default_rng(len(indices) + brightness)
    images, anns = [], []
    for i in indices:
        mask = np.zeros((24, 32), np.uint16)
        mask[2:10, 3 + i:12 + i] = 1
        mask[12:21, 15:27 - i] = 2
        image_anns = [annotation(i, 1, CATEGORIES["bottle"], mask == 1), annotation(i, 2, CATEGORIES["can"], mask == 2)]
        objects = [{"instance_id": 1, "asset": "bottle", "category": "bottle", "category_id": 1, "label": "annotated"},
                   {"instance_id": 2, "asset": "soda_can", "category": "can", "category_id": 2, "label": "annotated"}]
        image = {"id": i, "file_name": f"{i:06d}.png", "width": 32, "height": 24}
        meta = {"image_index": i, "file_name": image["file_name"], "width": 32, "height": 24,
                "scene_index": i // VIEWS_PER_SCENE, "view_index": i % VIEWS_PER_SCENE, "run_seed": 7,
                "annotations": image_anns, "objects": objects,
                "sampled": {"view": {"elevation_deg": 40.0 + 5 * i}, "objects": [{"scale": 1.0}, {"scale": 0.9}]}}
        rgb = np.clip(rng.integers(0, 200, (24, 32, 3)) + brightness, 0, 255).astype(np.uint8)
        assert cv2.imwrite(str(root / "images" / image["file_name"]), rgb)
        assert cv2.imwrite(str(root / "masks" / f"{i:06d}.png"), mask)
        (root / "meta" / f"{i:06d}.json").write_text(json.dumps(meta))
        images.append(image)
        anns += image_anns
    coco = {"info": {"description": "bproc_factory dataset", "config_sha256": IDENTITY["config_sha256"],
                     "run_seed": IDENTITY["run_seed"]}, "licenses": [],
            "categories": [{"id": cid, "name": name, "supercategory": name} for name, cid in CATEGORIES.items()],
            "images": images, "annotations": anns}
    (root / "coco.json").write_text(json.dumps(coco))
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """Four images of two scenes; tests must not change it (copy it first)."""
    return write_dataset(tmp_path_factory.mktemp("cli") / "dataset", range(4))


# --- version and schemas -----------------------------------------------------------------------

def test_version_prints_the_package_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"bproc_factory {bproc_factory.__version__}\n"


def test_schema_prints_the_json_schema_of_scenario_configs():
    result = invoke("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert {"scene", "objects", "camera", "render", "labels"} <= set(schema["properties"])


def test_schema_asset_prints_the_json_schema_of_asset_yaml():
    result = invoke("schema", "--asset")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert {"name", "category", "mesh", "up_axis"} <= set(schema["properties"])
    assert set(schema["required"]) == {"name", "category"}


# --- check and scene check (a backplate scene needs no Blender) ---------------------------------

def test_check_reports_categories_of_a_backplate_config():
    result = invoke("check", BACKPLATE_CONFIG)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"OK {BACKPLATE_CONFIG}"
    assert f"  scene: {BACKPLATE_SCENE}" in lines
    assert "  placement areas: ground (0.09 x 0.17 m)" in lines
    assert "  categories: {'bottle': 1, 'can': 2}" in lines


def test_check_names_the_config_file_and_the_misspelt_key_of_a_bad_set():
    result = invoke("check", BACKPLATE_CONFIG, "--set", "render.samplez=3")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"error: {BACKPLATE_CONFIG}: render.samplez: unknown key (did you mean 'samples'?)" in one_line(result.stderr)


def test_check_refuses_a_set_without_a_value():
    result = invoke("check", BACKPLATE_CONFIG, "--set", "render.samples")
    assert result.exit_code == 2
    assert "--set render.samples: expected key.path=value" in one_line(result.stderr)


def test_scene_check_lists_the_marks_of_a_backplate():
    result = invoke("scene", "check", BACKPLATE_SCENE)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"OK {BACKPLATE_SCENE}"
    assert "  placement area: ground (0.09 x 0.17 m at z = 0.000 m)" in lines
    assert "  camera: fixed by the photo, 600x400, 0.15 m above the ground" in lines


def test_scene_check_names_a_missing_scene_file(tmp_path):
    result = invoke("scene", "check", tmp_path / "nowhere.yaml")
    assert result.exit_code == 2
    assert f"{tmp_path / 'nowhere.yaml'}: scene file not found" in one_line(result.stderr)


# --- camera import, turntable sheet, sensor fit -------------------------------------------------

def test_camera_import_writes_the_profile_of_an_opencv_yaml(tmp_path):
    calibration = tmp_path / "cam.yaml"
    fs = cv2.FileStorage(str(calibration), cv2.FILE_STORAGE_WRITE)
    fs.write("image_width", 64)
    fs.write("image_height", 48)
    fs.write("camera_matrix", np.array([[70.0, 0, 31.5], [0, 71.0, 23.5], [0, 0, 1]]))
    fs.write("distortion_coefficients", np.array([[-0.1, 0.01, 0.0, 0.0, 0.0]]))
    fs.release()
    profile = tmp_path / "cameras" / "imported.yaml"
    result = invoke("camera", "import", calibration, "-o", profile, "--sensor-width-mm", "6.4")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Camera profile 64x48, distortion [-0.1, 0.01, 0.0, 0.0, 0.0] -> ")
    written = yaml.safe_load(profile.read_text())
    assert written["resolution"] == [64, 48]
    assert written["K"] == {"fx": 70.0, "fy": 71.0, "cx": 31.5, "cy": 23.5}
    assert written["distortion"] == {"model": "brown_conrady", "coeffs": [-0.1, 0.01, 0.0, 0.0, 0.0]}


def test_camera_import_without_a_sensor_width_notes_the_full_frame_assumption(tmp_path):
    calibration = tmp_path / "cam.json"
    calibration.write_text(json.dumps({"image_width": 64, "image_height": 48,
                                       "camera_matrix": [[70.0, 0, 31.5], [0, 70.0, 23.5], [0, 0, 1]],
                                       "distortion_coefficients": [0, 0, 0, 0, 0]}))
    result = invoke("camera", "import", calibration, "-o", tmp_path / "p.yaml")
    assert result.exit_code == 0, result.output
    assert "no --sensor-width-mm" in one_line(result.stderr) and (tmp_path / "p.yaml").is_file()


def test_camera_import_names_an_unreadable_calibration(tmp_path):
    calibration = tmp_path / "cam.yaml"
    calibration.write_text("%YAML:1.0\n---\nimage_width: 64\n")
    result = invoke("camera", "import", calibration, "-o", tmp_path / "p.yaml")
    assert result.exit_code == 2
    assert str(calibration) in one_line(result.stderr)
    assert not (tmp_path / "p.yaml").exists()


def test_turntable_sheet_writes_a_printable_png(tmp_path):
    sheet = tmp_path / "sheets" / "turntable.png"
    result = invoke("turntable-sheet", sheet, "--dpi", "100")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Turntable sheet -> {sheet}: print it ")
    image = cv2.imread(str(sheet), cv2.IMREAD_UNCHANGED)
    assert image is not None and min(image.shape[:2]) > 100
    assert set(np.unique(image)) >= {0, 255}  # black markers on white paper


def test_sensor_fit_fits_the_shipped_chart_and_writes_profile_and_comparison(tmp_path):
    result = invoke("sensor", "fit", "--chart", SENSOR_EXAMPLES / "chart.png", "--corners",
                    SENSOR_EXAMPLES / "chart.yaml", "-o", tmp_path / "fitted.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Fitted on ") and "mean ΔE2000" in result.stdout
    profile = yaml.safe_load((tmp_path / "fitted.yaml").read_text())
    assert np.array(profile["ccm"]).shape == (3, 3) and len(profile["white_balance"]) == 3
    assert cv2.imread(str(tmp_path / "fitted_comparison.png")) is not None


def test_sensor_fit_without_a_chart_or_pairs_says_what_to_give(tmp_path):
    result = invoke("sensor", "fit", "-o", tmp_path / "fitted.yaml")
    assert result.exit_code == 2
    assert "give either --chart PHOTO --corners CORNERS.yaml, or --pairs" in one_line(result.stderr)
    assert not (tmp_path / "fitted.yaml").exists()


# --- dataset commands on a hand-made dataset ----------------------------------------------------

def test_validate_passes_a_dataset_that_keeps_the_contract(dataset):
    result = invoke("validate", dataset, "--workers", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"OK {dataset}: 4 images, 8 annotations checked in ")


def test_validate_lists_each_problem_with_its_file_and_exits_1(dataset, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(dataset, broken)
    (broken / "masks" / "000002.png").unlink()
    (broken / "meta" / "notes.txt").write_text("x")
    result = invoke("validate", broken, "--workers", "1")
    assert result.exit_code == 1
    errors = one_line(result.stderr)
    assert "masks/000002.png: image 2: missing, unreadable or not a uint16 single-channel PNG" in errors
    assert "meta/notes.txt: unexpected file" in errors
    assert f"2 problems in {broken}" in errors


def test_validate_names_a_folder_that_is_not_a_dataset_and_exits_2(tmp_path):
    result = invoke("validate", tmp_path)
    assert result.exit_code == 2  # bad input, like the other dataset commands
    assert f"error: {tmp_path}: not a readable bproc_factory dataset (needs run.json and coco.json)" in one_line(result.stderr)


def test_report_writes_an_offline_html_page_with_plots_and_sheets(dataset, tmp_path):
    result = invoke("report", dataset, "-o", tmp_path / "report")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Report -> {tmp_path / 'report' / 'index.html'}\n"
    page = (tmp_path / "report" / "index.html").read_text()
    assert "4 images, 8 instances, 2 categories." in page
    assert (tmp_path / "report" / "plots" / "class_balance.png").is_file()
    assert (tmp_path / "report" / "sheets" / "images.jpg").is_file()


def test_table_writes_one_row_per_image_and_one_per_instance(dataset, tmp_path):
    result = invoke("table", dataset, "-o", tmp_path / "tables")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("4 images, 8 instances -> ")
    params = (tmp_path / "tables" / "params.csv").read_text().splitlines()
    instances = (tmp_path / "tables" / "instances.csv").read_text().splitlines()
    assert len(params) == 1 + 4 and len(instances) == 1 + 8
    assert "sampled.view.elevation_deg" in params[0].split(",")
    assert (tmp_path / "tables" / "params.parquet").is_file() and (tmp_path / "tables" / "instances.parquet").is_file()


def test_export_yolo_splits_by_scene_and_writes_a_label_per_instance(dataset, tmp_path):
    result = invoke("export", "yolo", dataset, "-o", tmp_path / "yolo", "--task", "detect", "--val-fraction", "0.5")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"YOLO detect: 2 train + 2 val images, 8 labels -> {tmp_path / 'yolo' / 'dataset.yaml'}\n"
    spec = yaml.safe_load((tmp_path / "yolo" / "dataset.yaml").read_text())
    assert spec["names"] == {0: "bottle", 1: "can"}
    split_of = {p.stem: p.parent.name for p in (tmp_path / "yolo" / "labels").rglob("*.txt")}
    assert sorted(split_of) == ["000000", "000001", "000002", "000003"]
    assert split_of["000000"] == split_of["000001"] and split_of["000002"] == split_of["000003"]  # scene by scene
    assert {split_of["000000"], split_of["000002"]} == {"train", "val"}


def test_export_yolo_refuses_an_unknown_task(dataset, tmp_path):
    result = invoke("export", "yolo", dataset, "-o", tmp_path / "yolo", "--task", "pose")
    assert result.exit_code == 2
    assert "--task must be segment or detect, not 'pose'" in one_line(result.stderr)


def test_merge_joins_disjoint_parts_of_a_run_into_a_valid_dataset(tmp_path):
    first = write_dataset(tmp_path / "first", range(0, 2))
    second = write_dataset(tmp_path / "second", range(2, 4))
    result = invoke("merge", first, second, "-o", tmp_path / "merged")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Merged 2 datasets: 4 images -> {tmp_path / 'merged'}\n"
    coco = json.loads((tmp_path / "merged" / "coco.json").read_text())
    assert [im["id"] for im in coco["images"]] == [0, 1, 2, 3]
    assert invoke("validate", tmp_path / "merged", "--workers", "1").exit_code == 0


def test_merge_refuses_the_same_image_id_with_different_content(dataset, tmp_path):
    other = write_dataset(tmp_path / "other", range(2, 4), brightness=40)
    result = invoke("merge", dataset, other, "-o", tmp_path / "merged")
    assert result.exit_code == 2
    assert f"image 2 is in both {dataset} and {other} with different content" in one_line(result.stderr)


@pytest.mark.parametrize("command", [["report", "FOLDER"], ["table", "FOLDER"], ["export", "yolo", "FOLDER"],
                                     ["merge", "FOLDER", "DATASET"]])
def test_dataset_commands_name_a_folder_that_is_not_a_dataset_and_exit_2(command, dataset, tmp_path):
    folder = tmp_path / "not_a_dataset"
    folder.mkdir()
    result = invoke(*[{"FOLDER": folder, "DATASET": dataset}.get(a, a) for a in command], "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert f"error: {folder}: not a readable bproc_factory dataset (needs run.json and coco.json)" in one_line(
        result.stderr)
    assert not (tmp_path / "out").exists()


def test_check_warns_when_surfaces_and_scene_lights_have_nothing_to_act_on():
    result = CliRunner().invoke(app, ["check", str(BACKPLATE_CONFIG), "--scenes", "0",
                                      "--set", "surfaces={materials: [wood]}",
                                      "--set", "scene_lights={energy_scale: 0.5}"], env={"COLUMNS": "200"})
    said = " ".join(result.output.split())
    assert result.exit_code == 0, said
    assert "surfaces: the scene has no objects in bpf_materials, so it changes nothing" in said
    assert "scene_lights: the scene has no objects in bpf_lights, so it changes nothing" in said
