"""Amodal masks, visibility and truncation; the label policy; occlusion targets; distractors.

Pure tests pin the geometry and bookkeeping; render tests check the real passes: visible masks
inside amodal masks, recorded visibility equal to the written masks, an isolated object fully
visible, a hidden object handled by the policy, targets met, distractors labelled as configured."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import DEMO_ASSETS, REPO, cli, tiny_config, write_config

from bproc_factory.assets.asset import asset_folders
from bproc_factory.config.loader import ConfigError, load_scenario
from bproc_factory.config.scenario import LabelsConfig, OcclusionTarget
from bproc_factory.labels.amodal import amodal_canvas, frame_groups, visibilities
from bproc_factory.labels.coco import annotations, decode_rle
from bproc_factory.labels.occlusion import occlusion_outcome, run_report
from bproc_factory.sensor import camera as cam
from bproc_factory.sensor.distortion import make_canvas

K = np.array([[100.0, 0, 49.5], [0, 100.0, 39.5], [0, 0, 1]])


def _box(centre, size=0.1):
    c = np.asarray(centre, float)
    return np.array([c + np.array([x, y, z]) * size / 2 for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)])


def test_objects_that_overlap_on_screen_never_share_an_amodal_frame():
    pose = cam.look_at(np.array([0.0, -1.0, 0.0]), np.zeros(3))
    hulls = {1: _box([0, 0, 0]), 2: _box([0.05, 0.3, 0]),  # 2 is behind 1, overlapping on screen
             3: _box([0.3, 0, 0]), 4: _box([0, -1.2, 0])}  # 3 is clear of both; 4 is behind the camera
    groups = frame_groups(hulls, K, pose)
    assert [1, 3] in groups and [2] in groups and [4] in groups
    assert sorted(i for g in groups for i in g) == [1, 2, 3, 4]


def test_amodal_canvas_grows_the_label_canvas_and_knows_which_pixels_are_in_the_image():
    grown = amodal_canvas(make_canvas(K, 100, 80), 0.5)
    assert (grown.width, grown.height, grown.pad_x, grown.pad_y) == (200, 160, 50, 40)
    assert grown.K[0, 2] == 99.5 and grown.inside.sum() == 100 * 80
    assert grown.inside[40:120, 50:150].all()
    distorted = make_canvas(K, 100, 80, [-0.3, 0.1, 0.0, 0.0, 0.0])
    grown = amodal_canvas(distorted, 0.5)
    s = distorted.label_scale
    xs = np.round((distorted.map_x + 0.5) * s - 0.5 + grown.pad_x).astype(int)
    ys = np.round((distorted.map_y + 0.5) * s - 0.5 + grown.pad_y).astype(int)
    assert grown.inside[ys, xs].mean() > 0.99  # every pixel the image samples is inside


def test_visibility_and_truncation_come_from_the_masks():
    canvas = make_canvas(K, 100, 80)
    grown = amodal_canvas(canvas, 0.5)
    frame = np.zeros((grown.height, grown.width), np.uint16)
    frame[60:80, 60:80] = 1  # 400 px, all inside the image (image starts at row 40, column 50)
    frame[50:70, 20:60] = 2  # 800 px, 20x30 of them left of the image
    visible = np.zeros((80, 100), np.uint16)
    visible[20:40, 10:20] = 1  # half of object 1 (the rest hidden)
    visible[10:30, 0:10] = 2
    vis = visibilities(canvas, grown, [frame], visible, [1, 2, 3])
    assert vis[1].amodal_px == 400 and vis[1].visib_fract == 0.5 and vis[1].truncated == 0.0
    assert vis[2].amodal_px == 200 and vis[2].visib_fract == 1.0 and vis[2].truncated == 0.75
    assert vis[3].amodal_px == 0 and vis[3].truncated == 1.0  # wholly outside the grown canvas
    for inst in (1, 2):
        assert not ((visible == inst) & ~vis[inst].amodal).any()


def test_label_policy_drops_or_ignores_instances_below_the_minimums():
    m = np.zeros((20, 20), np.uint16)
    m[0:10, 0:10] = 1  # 100 px
    m[15:17, 15:17] = 2  # 4 px
    m[12:14, 0:5] = 3  # 10 px
    drop = LabelsConfig(min_visible_px=5)
    anns, fate = annotations(m, 0, {1: 1, 2: 1, 3: 2}, policy=drop, ignored=frozenset({3}))
    assert [(a["instance_id"], a["iscrowd"]) for a in anns] == [(1, 0), (3, 1)]
    assert fate == {1: "annotated", 2: "dropped", 3: "ignored"}
    anns, fate = annotations(m, 0, {1: 1, 2: 1, 3: 2}, policy=LabelsConfig(min_visible_px=5, below_threshold="ignore"))
    assert [(a["instance_id"], a["iscrowd"]) for a in anns] == [(1, 0), (2, 1), (3, 0)]


def test_occlusion_outcome_counts_target_instances_in_range():
    target = OcclusionTarget(visib_fract=(0.3, 0.7), min_instances=2)
    assert occlusion_outcome(target, {1: 0.5, 2: 1.0, 3: 0.31})["target_met"]
    assert occlusion_outcome(target, {1: 0.5, 2: 1.0})["in_range"] == [1]
    assert not occlusion_outcome(target, {1: 0.5, 2: 1.0})["target_met"]
    lines = run_report([{"target_met": True, "attempts": 2}, {"target_met": False, "attempts": 8}], [0.5, 1.0])
    assert lines[0].startswith("occlusion target met in 1/2 images") and "0.9-1.0: 1" in lines[1]


def test_an_assets_folder_of_asset_folders_stands_for_all_of_them():
    shapes = asset_folders(REPO / "assets" / "distractors")
    assert [p.name for p in shapes] == ["box", "capsule", "cone", "cylinder", "sphere", "torus", "wedge"]
    assert asset_folders(DEMO_ASSETS / "bottle") == [DEMO_ASSETS / "bottle"]
    with pytest.raises(ConfigError, match="holds no asset folders"):
        asset_folders(REPO / "docs")


def test_occlusion_config_errors_name_the_key(tmp_path):
    config = tiny_config(occlusion={"occluder_groups": [5]})
    with pytest.raises(ConfigError, match=r"occlusion.occluder_groups: no object group 5"):
        load_scenario(write_config(tmp_path, config))
    config = tiny_config(occlusion={}, labels={"amodal": False})
    with pytest.raises(ConfigError, match="needs labels.amodal"):
        load_scenario(write_config(tmp_path, config))


def test_occluders_are_planned_between_the_camera_and_a_target():
    from bproc_factory.assets.asset import resolve_assets
    from bproc_factory.assets.environment import PlacementArea, SceneInfo
    from bproc_factory.plan.scene import plan_scene

    loaded = load_scenario(REPO / "configs" / "occlusion-tabletop.yaml")
    info = SceneInfo(placement_areas=(PlacementArea("table_top", ((-0.6, -0.4), (0.6, -0.4), (0.6, 0.4), (-0.6, 0.4)), 0.75),),
                     camera_target=(0.0, 0.0, 0.75))
    assets = resolve_assets(loaded)
    checked = 0
    for scene in range(10):
        plan = plan_scene(loaded, assets, info, 7, scene, [scene])
        eye = plan.views[0].cam_to_world[:3, 3]
        by_id = {o.instance_id: o for o in plan.objects}
        for o in plan.objects:
            if "occludes" in o.sampled:
                target = by_id[o.sampled["occludes"]]
                assert target.sampled["group"] == 0 and o.sampled["group"] == 1
                d_occ = np.linalg.norm(np.asarray(o.sampled["position_m"][:2]) - eye[:2])
                d_target = np.linalg.norm(np.asarray(target.sampled["position_m"][:2]) - eye[:2])
                assert d_occ < d_target
                checked += 1
        assert all(o.category == "foreign_object" for o in plan.objects if o.sampled["group"] > 0)
        assert all("material" in o.sampled for o in plan.objects if o.sampled["group"] > 0)
    assert checked >= 5


# --- render tests -----------------------------------------------------------------------------

WALL_SCENE = """
import bpy, sys, os
height = float(sys.argv[2])
bpy.ops.wm.read_factory_settings(use_empty=True)
cols = {n: bpy.data.collections.new(n) for n in ("bpf_placement", "bpf_occluders")}
for c in cols.values():
    bpy.context.scene.collection.children.link(c)
bpy.ops.mesh.primitive_plane_add(size=0.12, location=(0, 0, 0))
pad = bpy.context.active_object
bpy.context.scene.collection.objects.unlink(pad); cols["bpf_placement"].objects.link(pad)
bpy.ops.mesh.primitive_cube_add(size=1.0, location=(0, -0.3, height / 2))
wall = bpy.context.active_object
wall.scale = (1.0, 0.02, height)
bpy.context.scene.collection.objects.unlink(wall); cols["bpf_occluders"].objects.link(wall)
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])
os._exit(0)
"""


def _wall_config(tmp_path: Path, wall_height: float, **changes) -> Path:
    blend = tmp_path / f"wall_{wall_height}.blend"
    subprocess.run([sys.executable, "-c", WALL_SCENE, str(blend), str(wall_height)], check=True, capture_output=True)
    config = tiny_config(scene=str(blend), views_per_scene=1,
                         objects=[{"assets": [str(DEMO_ASSETS / "soda_can")], "count": 1, "yaw_deg": 0}],
                         **changes)
    config["camera"].update({"distance_m": 0.6, "elevation_deg": 0.0, "azimuth_deg": -90.0,
                             "target_offset_m": [0.0, 0.0, 0.061]})
    return write_config(tmp_path, config, f"wall_{wall_height}.yaml")


def _metas(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "meta").glob("*.json"))]


def _check_amodal_against_written_masks(out: Path) -> int:
    """Every annotation's amodal mask holds its visible mask, and the recorded figures agree with
    the written files; returns how many annotations were checked."""
    checked = 0
    for meta in _metas(out):
        mask = cv2.imread(str(out / "masks" / f"{meta['image_index']:06d}.png"), cv2.IMREAD_UNCHANGED)
        objects = {o["instance_id"]: o for o in meta["objects"]}
        for ann in meta["annotations"]:
            visible = mask == ann["instance_id"]
            amodal = decode_rle(ann["segmentation_amodal"])
            assert not (visible & ~amodal).any()
            assert ann["area_amodal"] == amodal.sum() > 0
            assert abs(ann["visib_fract"] - visible.sum() / amodal.sum()) < 1e-6
            assert objects[ann["instance_id"]]["visib_fract"] == ann["visib_fract"]
            checked += 1
    return checked



@pytest.mark.render
def test_an_isolated_object_is_wholly_visible(tmp_path):
    config = _wall_config(tmp_path, 0.0001)
    out = tmp_path / "out"
    cli("render", config, "-o", out, "-n", 2, "-q", check=True)
    for meta in _metas(out):
        (obj,) = meta["objects"]
        assert obj["visib_fract"] == 1.0 and obj["truncated"] == 0.0 and obj["label"] == "annotated"
    assert _check_amodal_against_written_masks(out) == 2


@pytest.mark.render
def test_an_object_half_behind_an_occluder_follows_the_label_policy(tmp_path):
    out = tmp_path / "drop"
    cli("render", _wall_config(tmp_path, 0.061, labels={"min_visib_fract": 0.8}), "-o", out, "-n", 1, "-q", check=True)
    (meta,) = _metas(out)
    (obj,) = meta["objects"]
    assert 0.3 < obj["visib_fract"] < 0.7 and obj["label"] == "dropped" and meta["annotations"] == []
    mask = cv2.imread(str(out / "masks" / "000000.png"), cv2.IMREAD_UNCHANGED)
    assert (mask == 1).sum() == obj["visible_pixels"] > 0  # the pixels stay; only the label goes
    cli("validate", out, check=True)
    out = tmp_path / "ignore"
    cli("render", _wall_config(tmp_path, 0.061, labels={"min_visib_fract": 0.8, "below_threshold": "ignore"}),
        "-o", out, "-n", 1, "-q", check=True)
    (meta,) = _metas(out)
    (ann,) = meta["annotations"]
    assert ann["iscrowd"] == 1 and meta["objects"][0]["label"] == "ignored"
    assert _check_amodal_against_written_masks(out) == 1
    cli("validate", out, check=True)


@pytest.mark.render
def test_an_object_wholly_behind_an_occluder_is_not_annotated_but_its_amodal_size_is_recorded(tmp_path):
    out = tmp_path / "out"
    cli("render", _wall_config(tmp_path, 0.3), "-o", out, "-n", 1, "-q", check=True)
    (meta,) = _metas(out)
    (obj,) = meta["objects"]
    assert obj["visible_pixels"] == 0 and obj["label"] == "not visible" and meta["annotations"] == []
    cli("validate", out, check=True)


OCCLUSION_SMALL = ["--set", "camera.resolution=[96,72]", "--set", "camera.K={fx: 93, fy: 93, cx: 47.5, cy: 35.5}",
                   "--set", "render.samples=4"]


@pytest.mark.render
def test_occlusion_targets_are_met_and_distractors_labelled_as_configured(tmp_path):
    out = tmp_path / "out"
    result = cli("render", REPO / "configs" / "occlusion-tabletop.yaml", "-o", out, "-n", 4, "--seed", 3,
                 *OCCLUSION_SMALL, "--set", "objects[2].count=2", check=True)
    assert "occlusion target met in 4/4 images" in result.stdout
    coco = json.loads((out / "coco.json").read_text())
    foreign = next(c["id"] for c in coco["categories"] if c["name"] == "foreign_object")
    crowd = 0
    for meta in _metas(out):
        occ = meta["occlusion"]
        assert occ["target_met"] and 1 <= occ["attempts"] <= 12
        assert all(0.3 <= occ["visib_fract"][str(i)] <= 0.7 for i in occ["in_range"])
        objects = {o["instance_id"]: o for o in meta["objects"]}
        groups = {o["instance_id"]: s["group"] for o, s in zip(meta["objects"], meta["sampled"]["objects"], strict=True)}
        for ann in meta["annotations"]:
            if groups[ann["instance_id"]] > 0:
                assert ann["category_id"] == foreign and objects[ann["instance_id"]]["category"] == "foreign_object"
            assert ann["iscrowd"] == (groups[ann["instance_id"]] == 2 or ann["visib_fract"] < 0.05)
            crowd += ann["iscrowd"]
    assert crowd > 0
    assert _check_amodal_against_written_masks(out) > 10
    cli("validate", out, check=True)
    cli("report", out, "-o", tmp_path / "report", check=True)
    page = (tmp_path / "report" / "index.html").read_text()
    assert "Visible fraction" in page and "Most occluded instances" in page


@pytest.mark.render
def test_background_distractors_hide_objects_but_are_not_labelled(tmp_path):
    out = tmp_path / "out"
    cli("render", REPO / "configs" / "occlusion-tabletop.yaml", "-o", out, "-n", 2, *OCCLUSION_SMALL,
        "--set", "objects[1].label=background", "--set", "occlusion.max_attempts=2", check=True)
    coco = json.loads((out / "coco.json").read_text())
    assert "foreign_object" in [c["name"] for c in coco["categories"]]  # group 2 still uses it
    for meta in _metas(out):
        mask = cv2.imread(str(out / "masks" / f"{meta['image_index']:06d}.png"), cv2.IMREAD_UNCHANGED)
        groups = [s["group"] for s in meta["sampled"]["objects"]]
        for obj, group in zip(meta["objects"], groups, strict=True):
            if group == 1:
                assert obj["label"] == "background" and obj["category_id"] == 0
                assert not (mask == obj["instance_id"]).any()
    cli("validate", out, check=True)


@pytest.mark.render
def test_the_chosen_layout_does_not_depend_on_which_views_of_a_scene_are_rendered(tmp_path):
    whole, part = tmp_path / "whole", tmp_path / "part"
    args = [*OCCLUSION_SMALL, "--set", "views_per_scene=2", "--set", "occlusion.max_attempts=4"]
    cli("render", REPO / "configs" / "occlusion-tabletop.yaml", "-o", whole, "-n", 2, "-q", *args, check=True)
    cli("render", REPO / "configs" / "occlusion-tabletop.yaml", "-o", part, "-n", 1, "--start", 1, "-q", *args, check=True)
    assert (whole / "meta" / "000001.json").read_text() == (part / "meta" / "000001.json").read_text()
    assert (whole / "masks" / "000001.png").read_bytes() == (part / "masks" / "000001.png").read_bytes()


def _pile(seed: int):
    from bproc_factory.assets.asset import resolve_assets
    from bproc_factory.assets.environment import PlacementArea, SceneInfo
    from bproc_factory.plan.objects import plan_objects

    loaded = load_scenario(REPO / "configs" / "occlusion-bin-pile.yaml")
    area = PlacementArea("bin_floor", ((-0.28, -0.18), (0.28, -0.18), (0.28, 0.18), (-0.28, 0.18)), 0.816)
    info = SceneInfo(placement_areas=(area,), camera_target=(0.0, 0.0, 0.85))
    return area, plan_objects(loaded, resolve_assets(loaded), info, seed, 0)


def test_dropped_objects_settle_inside_the_area_touching_but_never_interpenetrating():
    import trimesh
    from scipy.spatial import Delaunay

    stacked = 0
    for seed in (1, 2, 3):
        area, objects = _pile(seed)
        hulls = [o.hull_world for o in objects]
        for o, h in zip(objects, hulls):
            assert h[:, :2].min(axis=0).tolist() >= [-0.283, -0.183] and h[:, :2].max(axis=0).tolist() <= [0.283, 0.183]
            assert h[:, 2].min() > area.z - 0.002
            stacked += h[:, 2].min() > area.z + 0.005  # resting on another object
            assert o.sampled["settle"]["max_penetration_m"] < 0.002
        solids = [Delaunay(h) for h in hulls]
        for a in range(len(hulls)):
            surface = trimesh.Trimesh(hulls[a]).convex_hull.sample(400, seed=0)
            centre = hulls[a].mean(axis=0)
            shrunk = centre + (surface - centre) * (1 - 0.002 / np.linalg.norm(surface - centre, axis=1))[:, None]
            for b in range(len(hulls)):
                if a != b:
                    assert (solids[b].find_simplex(shrunk) < 0).all(), (seed, a, b)
    assert stacked >= 1


def test_settling_is_reproducible_from_the_seed():
    _, first = _pile(5)
    _, again = _pile(5)
    assert len(first) > 1 and len(again) == len(first)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.obj_to_world, b.obj_to_world)


@pytest.mark.render
def test_a_settled_pile_renders_with_exact_masks_and_meets_its_occlusion_target(tmp_path):
    out = tmp_path / "out"
    result = cli("render", REPO / "configs" / "occlusion-bin-pile.yaml", "-o", out, "-n", 2, "--seed", 1,
                 "--set", "camera.resolution=[96,72]", "--set", "camera.K={fx: 78, fy: 78, cx: 47.5, cy: 35.5}",
                 "--set", "render.samples=4", check=True)
    assert "occlusion target met in 2/2 images" in result.stdout
    assert _check_amodal_against_written_masks(out) > 10
    cli("validate", out, check=True)
