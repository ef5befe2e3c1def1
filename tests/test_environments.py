"""Target environments: scene conventions and `scene check`, the shipped scenes and configs, photo
backplates, and per-scene reset of randomised surfaces and lights."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import trimesh
import yaml
from conftest import REPO, cli, tiny_config, write_config

from bproc_factory.assets.asset import load_asset

pytestmark = pytest.mark.render

SHIPPED_CONFIGS = ["demo.yaml", "retail-shelf.yaml", "conveyor-bin.yaml", "backplate-coffee.yaml"]

BROKEN_SCENE = """
import bpy, sys, os
bpy.ops.wm.read_factory_settings(use_empty=True)
names = ["bpf_camera_target", "bpf_lights", "bpf_materials"]
cols = {n: bpy.data.collections.new(n) for n in names}
for c in cols.values():
    bpy.context.scene.collection.children.link(c)
for k in range(2):
    e = bpy.data.objects.new(f"target_{k}", None); cols["bpf_camera_target"].objects.link(e)
bpy.ops.mesh.primitive_cube_add(); cube = bpy.context.active_object
cols["bpf_lights"].objects.link(cube); cols["bpf_materials"].objects.link(cube)
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])
os._exit(0)
"""


@pytest.mark.parametrize("scene", ["tabletop.blend", "retail_shelf.blend", "conveyor_bin.blend",
                                   "backplates/coffee_table.yaml"])
def test_scene_check_lists_the_marks_of_every_shipped_scene(scene):
    result = cli("scene", "check", REPO / "scenes" / scene, check=True)
    assert result.stdout.startswith("OK") and "placement area:" in result.stdout


def test_scene_check_lists_every_error_of_a_broken_scene(tmp_path):
    blend = tmp_path / "broken.blend"
    subprocess.run([sys.executable, "-c", BROKEN_SCENE, str(blend)], check=True, capture_output=True)
    result = cli("scene", "check", blend)
    assert result.returncode == 2
    text = " ".join(result.stderr.split())
    for message in ("no 'bpf_placement' collection", "'bpf_camera_target' holds 2 objects",
                    "'Cube' in 'bpf_lights' is a mesh, not a light",
                    "'Cube' in 'bpf_materials' needs to be a mesh with a material slot", "4 error(s)"):
        assert message in text, message


SCRIPTED_SCENE = """
import bpy, sys, os
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
bpy.data.texts.new("setup.py").write("import bpy\\nbpy.data.objects[0].location.z += 5\\n")
driven = bpy.data.objects[0].driver_add("location", 2).driver
driven.expression = "bpy.context.scene.frame_current * 0.0"  # needs Python: not a simple expression
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[2])
os._exit(0)
"""


def test_scene_check_warns_that_a_files_scripts_and_python_drivers_will_not_run(tmp_path):
    blend = tmp_path / "scripted.blend"
    subprocess.run([sys.executable, "-c", SCRIPTED_SCENE, str(REPO / "scenes" / "tabletop.blend"), str(blend)],
                   check=True, capture_output=True)
    result = cli("scene", "check", blend, check=True)
    said = " ".join((result.stdout + result.stderr).split())
    assert "the file holds Python text blocks (setup.py); they do not run" in said
    assert "1 driver(s) need Python" in said and "location" in said


def test_render_refuses_a_broken_scene_naming_it_before_writing_anything(tmp_path):
    blend = tmp_path / "broken.blend"
    subprocess.run([sys.executable, "-c", BROKEN_SCENE, str(blend)], check=True, capture_output=True)
    config = write_config(tmp_path, tiny_config(scene=str(blend)))
    result = cli("render", config, "-o", tmp_path / "out", "-n", 1, "-q")
    assert result.returncode == 2
    assert f"{blend}: no 'bpf_placement' collection" in " ".join(result.stderr.split())
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("config", SHIPPED_CONFIGS)
def test_every_shipped_environment_renders_with_exact_masks(tmp_path, config):
    from bproc_factory.run.preview import preview_overrides

    path = REPO / "configs" / config
    overrides = [a for o in preview_overrides(path, (), 64, 4) for a in ("--set", o)]
    out = tmp_path / "out"
    cli("render", path, "-o", out, "-n", "2", "--seed", "3", "-q", *overrides, check=True)
    assert cli("validate", out).returncode == 0
    meta = json.loads((out / "meta" / "000000.json").read_text())
    assert meta["objects"], "objects were placed"


def test_randomised_surfaces_and_lights_are_undone_between_scenes(tmp_path):
    """Image 2 rendered alone equals image 2 rendered after scene 0 in the same process (which
    swapped materials and scaled lights), and equals a run that reopens the file per scene."""
    config = REPO / "configs" / "retail-shelf.yaml"
    small = ["--set", "camera.resolution=[64, 48]", "--set", "camera.K={fx: 56, fy: 56, cx: 31.5, cy: 23.5}",
             "--set", "render.samples=4", "--set", "surfaces.probability=1.0"]
    cli("render", config, "-o", tmp_path / "all", "-n", "4", "--seed", "5", "-q", *small, check=True)
    cli("render", config, "-o", tmp_path / "alone", "--start", "2", "-n", "1", "--seed", "5", "-q", *small, check=True)
    cli("render", config, "-o", tmp_path / "reload", "-n", "4", "--seed", "5", "-q", *small,
        "--set", "scene_reload=true", check=True)
    for sub in ("images", "masks"):
        name = "000002.png"
        assert (tmp_path / "all" / sub / name).read_bytes() == (tmp_path / "alone" / sub / name).read_bytes()
        assert (tmp_path / "all" / sub / name).read_bytes() == (tmp_path / "reload" / sub / name).read_bytes()
    meta = json.loads((tmp_path / "all" / "meta" / "000002.json").read_text())
    assert set(meta["sampled"]["surfaces"]) == {"back_panel", "floor", "shelf_1", "shelf_2", "shelf_3"}
    assert all(s["material"] in ("painted_metal", "wood", "plastic") for s in meta["sampled"]["surfaces"].values())
    assert set(meta["sampled"]["scene_lights"]) == {"ceiling_light_0", "ceiling_light_1"}


def test_backplate_objects_stand_inside_the_polygon_and_cast_shadows_on_the_photo(tmp_path):
    config = REPO / "configs" / "backplate-coffee.yaml"
    out = tmp_path / "out"
    cli("render", config, "-o", out, "-n", "3", "--seed", "2", "-q", "--set", "render.samples=8",
        "--set", "render.denoiser=none", check=True)
    assert cli("validate", out).returncode == 0
    annotation = yaml.safe_load((REPO / "scenes" / "backplates" / "coffee_table.yaml").read_text())
    polygon = np.array(annotation["placement_polygon"], np.float32)
    photo = cv2.imread(str(REPO / "scenes" / "backplates" / "coffee_table.png")).astype(int)
    for i in range(3):
        meta = json.loads((out / "meta" / f"{i:06d}.json").read_text())
        K, pose = np.array(meta["camera"]["K"]), np.array(meta["camera"]["cam_to_world"])
        for obj in meta["objects"]:
            asset = load_asset(REPO / "assets" / "demo" / obj["asset"])
            mesh = trimesh.load(str(asset.mesh_path), force="mesh", process=False)
            T = np.array(obj["obj_to_world"])
            world = mesh.vertices @ T[:3, :3].T + T[:3, 3]
            contact = world[world[:, 2] < world[:, 2].min() + 1e-4]
            assert abs(world[:, 2].min()) < 1e-6  # standing on the ground plane
            w2c = np.linalg.inv(pose)
            uv = (K @ (contact @ w2c[:3, :3].T + w2c[:3, 3]).T).T
            for u, v in uv[:, :2] / uv[:, 2:]:
                assert cv2.pointPolygonTest(polygon, (float(u), float(v)), True) >= -1.0
        image = cv2.imread(str(out / "images" / f"{i:06d}.png")).astype(int)
        mask = cv2.imread(str(out / "masks" / f"{i:06d}.png"), cv2.IMREAD_UNCHANGED)
        background = mask == 0
        diff = (photo - image).max(axis=2)
        assert (np.abs(photo - image).max(axis=2)[background] <= 3).mean() > 0.8  # the photo shows through
        assert (diff[background] > 15).sum() > 50  # and shadows darken it near the objects


HDRI = REPO / "assets" / "hdri" / "studio.hdr"


@pytest.mark.parametrize("world,kind", [({"sky": {"sun_elevation_deg": 35, "sun_azimuth_deg": 200}}, "sky"),
                                        ({"hdri": {"file": str(HDRI), "strength": 0.6}}, "hdri")], ids=["sky", "hdri"])
def test_each_kind_of_world_renders_and_is_recorded_in_meta(tmp_path, world, kind):
    out = tmp_path / "out"
    cli("render", write_config(tmp_path, tiny_config(world=world, views_per_scene=1)), "-o", out, "-n", "1", "-q",
        check=True)
    assert cli("validate", out).returncode == 0
    text = (out / "meta" / "000000.json").read_text()
    meta = json.loads(text)
    assert kind in meta["sampled"]["world"]
    if kind == "sky":
        assert meta["sampled"]["lights"][-1]["from"] == "sky" and meta["lights"][-1]["type"] == "sun"
    if kind == "hdri":
        assert meta["sampled"]["world"]["hdri"]["file"] == "studio.hdr" and str(REPO) not in text  # no local paths
    image = cv2.imread(str(out / "images" / "000000.png"))
    assert 10 < image.mean() < 245, "the world lit the scene"


def test_turning_the_hdri_changes_the_light_and_not_the_labels(tmp_path):
    outs = []
    for k, turn in enumerate((0, 180)):
        outs.append(tmp_path / f"out{k}")
        world = {"hdri": {"file": str(HDRI), "strength": 1.0, "rotation_deg": turn}}
        cli("render", write_config(tmp_path, tiny_config(world=world, lights=[]), f"c{k}.yaml"), "-o", outs[-1],
            "-n", "1", "-q", check=True)
    images = [cv2.imread(str(o / "images" / "000000.png")).astype(int) for o in outs]
    masks = [cv2.imread(str(o / "masks" / "000000.png"), cv2.IMREAD_UNCHANGED) for o in outs]
    assert np.array_equal(masks[0], masks[1])
    assert np.abs(images[0] - images[1]).mean() > 2.0


PANORAMA_CONVENTION = """
import math, sys
import numpy as np
import bpy
sys.path.insert(0, sys.argv[2])
from build_hdris import PANO_ROTATION

bpy.ops.wm.read_factory_settings(use_empty=True)
scene = bpy.context.scene
scene.render.engine, scene.cycles.samples, scene.cycles.use_denoising = "CYCLES", 1, False
scene.cycles.filter_width = 0.01
w, h = 64, 32
image = bpy.data.images.new("pattern", w, h, float_buffer=True)
u, v = np.meshgrid((np.arange(w) + 0.5) / w, (np.arange(h) + 0.5) / h)
image.pixels.foreach_set(np.stack([u, v, u * 7 % 1.0, np.ones_like(u)], -1).astype(np.float32).ravel())
scene.world = bpy.data.worlds.new("world")
scene.world.use_nodes = True
nodes = scene.world.node_tree.nodes
texture = nodes.new("ShaderNodeTexEnvironment")
texture.image, texture.interpolation = image, "Closest"
scene.world.node_tree.links.new(texture.outputs["Color"], nodes["Background"].inputs["Color"])
camera = bpy.data.cameras.new("pano")
camera.type, camera.panorama_type = "PANO", "EQUIRECTANGULAR"
rig = bpy.data.objects.new("pano", camera)
rig.rotation_euler = PANO_ROTATION
scene.collection.objects.link(rig)
scene.camera = rig
scene.render.resolution_x, scene.render.resolution_y = w, h
scene.render.image_settings.file_format = "HDR"
scene.view_settings.view_transform = "Standard"
scene.render.filepath = sys.argv[1]
bpy.ops.render.render(write_still=True)
"""


def test_the_hdri_builders_panorama_is_what_the_environment_texture_maps_back(tmp_path):
    """A panorama of a world lit by a pattern, taken as the HDRI build script takes its rooms, is the
    pattern itself: so a built HDRI puts its room's lights where they were modelled."""
    subprocess.run([sys.executable, "-c", PANORAMA_CONVENTION, str(tmp_path / "pano.hdr"), str(REPO / "assets" / "hdri")],
                   check=True, capture_output=True, timeout=300)
    pano = cv2.imread(str(tmp_path / "pano.hdr"), cv2.IMREAD_UNCHANGED)[..., ::-1]
    u, v = np.meshgrid((np.arange(64) + 0.5) / 64, (np.arange(32) + 0.5) / 32)
    pattern = np.stack([u, v, u * 7 % 1.0], -1)[::-1]  # Blender's image rows run bottom-up
    assert np.abs(pano - pattern).max() < 0.01  # Radiance RGBE keeps about 1 % precision
