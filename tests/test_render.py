"""End-to-end renders with the real bpy wheel (tiny images): labels, determinism, resume, errors."""
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import DEMO_ASSETS, REPO, cli, tiny_config, write_config
from pycocotools.coco import COCO

from bproc_factory.assets.asset import load_asset, load_mesh

pytestmark = pytest.mark.render


def read_mask(path: Path) -> np.ndarray:
    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert mask is not None and mask.dtype == np.uint16
    return mask


def test_dataset_has_the_documented_layout(rendered):
    for i in range(4):
        assert (rendered / "images" / f"{i:06d}.png").is_file()
        assert (rendered / "masks" / f"{i:06d}.png").is_file()
        meta = json.loads((rendered / "meta" / f"{i:06d}.json").read_text())
        assert meta["image_index"] == i and meta["run_seed"] == 7
        assert meta["scene_index"] == i // 2 and meta["view_index"] == i % 2
        cam = meta["camera"]
        assert np.array(cam["K"]).shape == (3, 3) and len(cam["dist"]) == 5
        assert (cam["width"], cam["height"]) == (64, 48)
        assert np.allclose(np.array(cam["cam_to_world"])[3], [0, 0, 0, 1])
        assert {"config_sha256", "bproc_factory", "blender", "blenderproc", "render_device"} <= set(
            meta["provenance"])
        assert meta["provenance"]["render_device"] == "CPU"
        assert meta["objects"] and all({"instance_id", "asset", "category", "obj_to_world"} <= set(o)
                                       for o in meta["objects"])
        assert set(meta["sampled"]) == {"view", "sensor", "lens", "objects", "lights", "world", "surfaces",
                                        "scene_lights"}
    assert not list(rendered.rglob("*.tmp"))


def test_coco_masks_match_the_mask_pngs_pixel_for_pixel(rendered):
    coco = COCO(str(rendered / "coco.json"))
    assert sorted(coco.getImgIds()) == [0, 1, 2, 3]
    assert {c["id"] for c in coco.loadCats(coco.getCatIds())} == {1, 2, 3}
    ann_ids = coco.getAnnIds()
    assert len(ann_ids) == len(set(ann_ids)) > 4
    seen = 0
    for image_id in coco.getImgIds():
        mask = read_mask(rendered / "masks" / f"{image_id:06d}.png")
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        assert sorted(a["instance_id"] for a in anns) == sorted(int(v) for v in np.unique(mask) if v)
        for ann in anns:
            binary = mask == ann["instance_id"]
            assert np.array_equal(coco.annToMask(ann).astype(bool), binary)
            ys, xs = np.nonzero(binary)
            assert ann["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
            assert ann["area"] == binary.sum() and ann["iscrowd"] == 0
            assert ann["id"] == image_id * 10000 + ann["instance_id"]
            seen += 1
    assert seen == len(ann_ids)


def test_meta_categories_agree_with_coco(rendered):
    coco = json.loads((rendered / "coco.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    for ann in coco["annotations"]:
        meta = json.loads((rendered / "meta" / f"{ann['image_id']:06d}.json").read_text())
        obj = next(o for o in meta["objects"] if o["instance_id"] == ann["instance_id"])
        assert names[ann["category_id"]] == obj["category"]
        assert obj["visible_pixels"] == ann["area"]


@pytest.mark.parametrize("index", [2, 3])  # frame 0 and frame 1 of scene 1 in the full run
def test_rendering_one_index_alone_reproduces_it_exactly(rendered, tmp_path, index):
    config = write_config(tmp_path, tiny_config())
    alone = tmp_path / "alone"
    cli("render", config, "-o", alone, "--start", str(index), "-n", "1", "--seed", "7", "-q", check=True)
    for sub, suffix in (("images", "png"), ("masks", "png"), ("meta", "json")):
        name = f"{index:06d}.{suffix}"
        assert (alone / sub / name).read_bytes() == (rendered / sub / name).read_bytes(), sub
    full = json.loads((rendered / "coco.json").read_text())
    single = json.loads((alone / "coco.json").read_text())
    assert single["annotations"] == [a for a in full["annotations"] if a["image_id"] == index]
    assert single["categories"] == full["categories"]


def silhouette(meta: dict, obj: dict) -> np.ndarray:
    """Rasterise the object's mesh projected with OpenCV under the recorded camera."""
    asset = load_asset(DEMO_ASSETS / obj["asset"])
    mesh = load_mesh(asset.mesh_path)
    world = mesh.vertices @ np.array(obj["obj_to_world"])[:3, :3].T + np.array(obj["obj_to_world"])[:3, 3]
    cam_to_world = np.array(meta["camera"]["cam_to_world"])
    world_to_cam = np.linalg.inv(cam_to_world)
    rvec, _ = cv2.Rodrigues(world_to_cam[:3, :3])
    uv, _ = cv2.projectPoints(world, rvec, world_to_cam[:3, 3], np.array(meta["camera"]["K"]),
                              np.array(meta["camera"]["dist"]))
    s = 8  # rasterise at 8x8 sub-pixels, then keep pixels more than half covered
    hi = np.zeros((meta["height"] * s, meta["width"] * s), np.uint8)
    sub = (uv.reshape(-1, 2) + 0.5) * s - 0.5  # OpenCV pixel centres are at integer coordinates
    for tri in np.round(sub[mesh.faces] * 16).astype(np.int32):
        cv2.fillConvexPoly(hi, tri, 1, shift=4)
    return hi.reshape(meta["height"], s, meta["width"], s).mean(axis=(1, 3)) > 0.5


def test_masks_match_the_recorded_camera_and_object_poses(tmp_path, pedestal_scene):
    config = tiny_config(
        scene=str(pedestal_scene), views_per_scene=2,
        camera={"resolution": [320, 240], "K": {"fx": 380.0, "fy": 340.0, "cx": 151.5, "cy": 124.0},
                "distance_m": 1.2, "elevation_deg": {"uniform": [15, 70]}},
        objects=[{"assets": [str(DEMO_ASSETS / n) for n in ("soda_can", "cereal_box", "bottle")],
                  "count": 1, "pose": "stable"}])
    out = tmp_path / "out"
    cli("render", write_config(tmp_path, config), "-o", out, "-n", "6", "--seed", "3", "-q", check=True)
    ious = []
    for i in range(6):
        meta = json.loads((out / "meta" / f"{i:06d}.json").read_text())
        mask = read_mask(out / "masks" / f"{i:06d}.png") == 1
        projected = silhouette(meta, meta["objects"][0])
        ious.append((mask & projected).sum() / (mask | projected).sum())
    assert min(ious) >= 0.975, ious


@pytest.mark.parametrize("material", ["glass", "clear_plastic", "aluminium"])
def test_glass_film_and_metal_objects_are_labelled_by_their_own_surface(tmp_path, pedestal_scene, material):
    """Label policy: a pixel belongs to the first surface its centre ray meets, transparent or not
    (what is seen through glass is the glass): the mask equals the projected silhouette."""
    config = tiny_config(
        scene=str(pedestal_scene), views_per_scene=2,
        camera={"resolution": [320, 240], "K": {"fx": 380.0, "fy": 340.0, "cx": 151.5, "cy": 124.0},
                "distance_m": 1.2, "elevation_deg": {"uniform": [15, 40]}},
        objects=[{"assets": [str(DEMO_ASSETS / "bottle")], "count": 1, "pose": "stable", "materials": [material]}])
    out = tmp_path / "out"
    cli("render", write_config(tmp_path, config), "-o", out, "-n", "2", "--seed", "4", "-q", check=True)
    for i in range(2):
        meta = json.loads((out / "meta" / f"{i:06d}.json").read_text())
        assert meta["sampled"]["objects"][0]["material"]["material"] == material
        mask = read_mask(out / "masks" / f"{i:06d}.png") == 1
        projected = silhouette(meta, meta["objects"][0])
        assert (mask & projected).sum() / (mask | projected).sum() >= 0.975


def test_every_library_material_builds_and_renders(tmp_path):
    from bproc_factory.assets.materials import LIBRARY

    names = sorted(p.stem for p in LIBRARY.glob("*.yaml"))
    groups = [{"assets": [str(REPO / "assets" / "distractors" / "sphere")], "count": 1, "materials": [name],
               "size_m": [0.08, 0.08, 0.08], "category": "sample"} for name in names]
    out = tmp_path / "out"
    cli("render", write_config(tmp_path, tiny_config(objects=groups, views_per_scene=1)), "-o", out, "-n", "1", "-q",
        check=True)
    meta = json.loads((out / "meta" / "000000.json").read_text())
    assert sorted(o["material"]["material"] for o in meta["sampled"]["objects"]) == names


SLOW = ["--set", "render.samples=96", "--set", "render.noise_threshold=0",
        "--set", "camera.resolution=[160,120]", "--set", "camera.K={fx: 170, fy: 170, cx: 79.5, cy: 59.5}"]


def start_render(config: Path, out: Path, count: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bproc_factory", "render", str(config), "-o", str(out),
                             "-n", str(count), "--seed", "5", "-q", *SLOW],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_images(proc: subprocess.Popen, out: Path, at_least: int) -> None:
    deadline = time.time() + 300
    while not (out / "meta").exists() or len(complete_images(out)) < at_least:
        assert proc.poll() is None, "the run ended before it could be stopped"
        assert time.time() < deadline
        time.sleep(0.02)


def complete_images(out: Path) -> list[int]:
    return sorted(int(p.stem) for p in (out / "meta").glob("*.json"))


def assert_consistent(out: Path, killed: bool = False) -> list[int]:
    """Every listed image is complete, its files decode, and coco.json agrees with the masks; no
    temp file is left behind (unless the writer was killed mid-write: the next run removes it)."""
    coco = json.loads((out / "coco.json").read_text())
    listed = [im["id"] for im in coco["images"]]
    for i in listed:
        mask = read_mask(out / "masks" / f"{i:06d}.png")
        assert cv2.imread(str(out / "images" / f"{i:06d}.png")).shape == (120, 160, 3)
        anns = [a for a in coco["annotations"] if a["image_id"] == i]
        assert sorted(a["instance_id"] for a in anns) == sorted(int(v) for v in np.unique(mask) if v)
        assert json.loads((out / "meta" / f"{i:06d}.json").read_text())["annotations"] == anns
    assert killed or not list(out.rglob("*.tmp"))
    return listed


def test_terminated_killed_and_resumed_runs_keep_every_finished_image(tmp_path):
    config = write_config(tmp_path, tiny_config(views_per_scene=1))
    out = tmp_path / "out"

    proc = start_render(config, out, 6)  # SIGTERM (schedulers, timeout) stops in good order
    wait_for_images(proc, out, 1)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143 and "finished images are kept" in stderr
    done = complete_images(out)
    assert 1 <= len(done) < 6 and assert_consistent(out) == done

    proc = start_render(config, out, 6)  # SIGKILL gives no chance to clean up
    wait_for_images(proc, out, len(done) + 1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = complete_images(out)
    assert len(killed) > len(done)
    assert set(assert_consistent(out, killed=True)) <= set(killed)
    mtimes = {i: (out / "images" / f"{i:06d}.png").stat().st_mtime_ns for i in killed}

    result = cli("render", config, "-o", out, "-n", "6", "--seed", "5", *SLOW, check=True)
    assert f"{len(killed)} already complete" in result.stdout
    assert all((out / "images" / f"{i:06d}.png").stat().st_mtime_ns == t for i, t in mtimes.items())
    assert assert_consistent(out) == [0, 1, 2, 3, 4, 5]


def test_a_second_run_on_a_folder_in_use_is_refused_and_the_first_completes(tmp_path):
    config = write_config(tmp_path, tiny_config(views_per_scene=1))
    out = tmp_path / "out"
    first = start_render(config, out, 3)
    wait_for_images(first, out, 1)
    second = cli("render", config, "-o", out, "-n", "3", "--seed", "5", *SLOW)  # the very same command
    assert second.returncode == 2, second.stderr
    assert f"{out}: another bproc-factory run (process {first.pid}) is writing into this folder" in \
        " ".join(second.stderr.split())
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert assert_consistent(out) == [0, 1, 2]


def test_an_unforeseen_error_after_blender_loaded_is_one_message_and_exit_1_not_a_segfault(tmp_path):
    config = write_config(tmp_path, tiny_config(views_per_scene=1))
    out = tmp_path / "out"
    proc = start_render(config, out, 4)
    wait_for_images(proc, out, 1)
    (out / "meta").rename(tmp_path / "meta_aside")  # the folder goes away under the run: not a checked case
    (out / "meta").write_text("a file now")
    _, stderr = proc.communicate(timeout=300)
    said = " ".join(stderr.split())
    assert proc.returncode == 1, (proc.returncode, said)
    assert "Traceback" not in said and "error: Not a directory" in said and "details for a bug report:" in said
    log = Path(said.split("details for a bug report: ")[1].split(")")[0])
    assert "NotADirectoryError" in log.read_text()
    log.unlink()


@pytest.mark.render
def test_blenderproc_lines_stay_out_of_a_terminal_with_a_live_progress_bar(tmp_path):
    config = write_config(tmp_path, tiny_config())
    terminal, child_end = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "bproc_factory", "render", str(config), "-o", str(tmp_path / "out"),
                             "-n", "2"], stdin=subprocess.DEVNULL, stdout=child_end, stderr=child_end,
                            env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"})
    os.close(child_end)
    seen = []
    while True:
        try:
            chunk = os.read(terminal, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen.append(chunk)
    os.close(terminal)
    text = b"".join(seen).decode(errors="replace")
    assert proc.wait(timeout=60) == 0, text
    assert "Rendered 2 images" in text and "\x1b[" in text  # the live bar drew in the terminal
    for chatter in ("Rendering ", "Finished rendering after", "Warning! Detected output entries"):
        assert chatter not in text, text


def test_a_rerun_repairs_an_image_cut_short_and_a_zero_byte_mask(rendered, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(rendered, out)
    data = (out / "images" / "000001.png").read_bytes()
    (out / "images" / "000001.png").write_bytes(data[:len(data) // 2])
    (out / "masks" / "000002.png").write_bytes(b"")
    config = write_config(tmp_path, tiny_config())
    result = cli("render", config, "-o", out, "-n", "4", "--seed", "7", check=True)
    assert "Rendered 2 images" in result.stdout and "2 already complete" in result.stdout, result.stdout
    # outside a terminal, plain progress lines instead of a bar that would show nothing until the end
    assert "rendering: 2 images to render" in result.stderr and "rendering: 2/2 images" in result.stderr
    assert (out / "images" / "000001.png").read_bytes() == (rendered / "images" / "000001.png").read_bytes()
    assert (out / "masks" / "000002.png").read_bytes() == (rendered / "masks" / "000002.png").read_bytes()
    cli("validate", out, check=True)


def test_rerunning_a_finished_command_renders_nothing(rendered, tmp_path):
    config = write_config(tmp_path, tiny_config())
    result = cli("render", config, "-o", rendered, "-n", "4", "--seed", "7", check=True)
    assert "Rendered 0 images" in result.stdout and "4 already complete" in result.stdout


@pytest.mark.parametrize("change, set_args, message", [
    ({}, ["--set", "render.samplez=3"], "render.samplez: unknown key (did you mean 'samples'?)"),
    ({}, ["--set", "objects[1].count=-2"], "objects[1].count: must be >= 0"),
    ({}, ["--set", "camera.resolution=[64]"], "camera.resolution"),
    ({}, ["--set", "objects[0].assets=[/nowhere/asset]"], "asset folder '/nowhere/asset' not found"),
    ({"scene": "/nowhere/scene.blend"}, [], "scene file '/nowhere/scene.blend' not found"),
    ({}, ["--set", "objects[1].count=200"], "lower the counts or scales"),
])
def test_bad_input_fails_clearly_and_writes_nothing(tmp_path, change, set_args, message):
    config = write_config(tmp_path, tiny_config(**change))
    result = cli("render", config, "-o", tmp_path / "out", "-n", "2", *set_args)
    assert result.returncode == 2, result.stderr
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_unwritable_output_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = cli("render", write_config(tmp_path, tiny_config()), "-o", blocker / "out", "-n", "1")
    assert result.returncode == 2 and "cannot write to output folder" in result.stderr


def test_a_folder_of_another_seed_is_refused_and_left_intact(rendered, tmp_path):
    before = (rendered / "coco.json").read_bytes()
    result = cli("render", write_config(tmp_path, tiny_config()), "-o", rendered, "-n", "5", "--seed", "8")
    assert result.returncode == 2 and "different run_seed (7 vs 8)" in result.stderr
    assert (rendered / "coco.json").read_bytes() == before and not (rendered / "images" / "000004.png").exists()


def test_check_accepts_the_demo_and_reports_the_placement_area():
    result = cli("check", Path(__file__).resolve().parent.parent / "configs" / "demo.yaml", check=True)
    assert "OK" in result.stdout and "table_top (1.20 x 0.80 m)" in result.stdout


def test_check_rejects_a_scene_without_placement_marks(tmp_path):
    blend = tmp_path / "bare.blend"
    subprocess.run([sys.executable, "-c", "import bpy, sys; bpy.ops.wm.read_factory_settings(use_empty=True);"
                    "bpy.ops.mesh.primitive_plane_add(); bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1]);"
                    "import os; os._exit(0)", str(blend)], check=True, capture_output=True)
    result = cli("check", write_config(tmp_path, tiny_config(scene=str(blend))))
    assert result.returncode == 2
    assert f"{blend}: no 'bpf_placement' collection" in " ".join(result.stderr.split())


def test_schema_prints_json_schema_of_the_scenario():
    result = cli("schema", check=True)
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False and "objects" in schema["properties"]
