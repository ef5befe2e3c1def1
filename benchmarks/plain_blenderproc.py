"""A plain BlenderProc script that re-renders the scenes of a factory dataset: the baseline of the
factory-overhead benchmark (``overhead_benchmark.py``).

It is what a BlenderProc user would write by hand for the same images: load the .blend, then per
scene import the asset meshes with Blender's importers, pose them, the lights and the world from
the factory's ``meta/*.json``, key the camera views, render RGB + instance segmentation in one
``bproc.renderer.render()`` call and write COCO with ``bproc.writer.write_coco_annotations``. The
render settings (samples, noise threshold, bounces, OIDN quality, guides and prefilter, light tree)
are the factory's.

Usage: ``python benchmarks/plain_blenderproc.py FACTORY_DATASET SCENE.blend ASSETS_DIR OUT
[--samples 32 --noise-threshold 0.1 --max-bounces 4]``
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import bpy
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# BlenderProc 2.8.0 refuses to import outside ``blenderproc run``; this is the only factory code used.
from bproc_factory.blender.bootstrap import import_blenderproc  # noqa: E402

bproc = import_blenderproc(tempfile.mkdtemp(prefix="plain_bproc_"))
from blenderproc.python.utility.Initializer import _Initializer  # noqa: E402
from mathutils import Matrix  # noqa: E402

# The glTF importer turns Y-up file coordinates into Blender's Z-up: (x, y, z) -> (x, -z, y).
GLTF_AXES = np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=float)


def load_asset(folder: Path) -> list:
    """Import an asset's mesh; returns (object, matrix from file to imported coordinates) pairs."""
    path = folder / yaml.safe_load((folder / "asset.yaml").read_text())["mesh"]
    # Keep OBJ vertices in file coordinates (the importer's default turns Y-up into Z-up).
    kwargs = {"forward_axis": "Y", "up_axis": "Z"} if path.suffix == ".obj" else {}
    axes = GLTF_AXES if path.suffix in (".glb", ".gltf") else np.eye(4)
    return [(o, axes) for o in bproc.loader.load_obj(str(path), **kwargs)]


def add_light(light: dict, sampled: dict, k: int):
    obj = bproc.types.Light(light_type=light["type"].upper(), name=f"light_{k}")
    obj.set_energy(light["energy_w"])
    obj.set_color(light["color_rgb"])
    obj.set_local2world_mat(Matrix(light["light_to_world"]))
    data = obj.blender_obj.data
    if light["type"] == "area":
        data.size = sampled["size_m"]
    elif light["type"] != "sun":
        data.shadow_soft_size = sampled["size_m"]
    return obj


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("scene", type=Path)
    parser.add_argument("assets", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--noise-threshold", type=float, default=0.1)
    parser.add_argument("--max-bounces", type=int, default=4)
    parser.add_argument("--denoise-guides", default="albedo_normal", choices=["none", "albedo", "albedo_normal"])
    parser.add_argument("--denoise-prefilter", default="accurate", choices=["none", "fast", "accurate"])
    parser.add_argument("--light-tree", action="store_true", help="Cycles' light tree (bproc.init turns it off)")
    args = parser.parse_args()

    scenes: dict[int, list[dict]] = defaultdict(list)
    for path in sorted((args.dataset / "meta").glob("*.json")):
        meta = json.loads(path.read_text())
        scenes[meta["scene_index"]].append(meta)

    # bproc.init(clean_up_scene=False) on the designer's file, minus its en_US locale switch (the
    # bpy wheel ships no locales, so that line raises).
    bpy.ops.wm.open_mainfile(filepath=str(args.scene), load_ui=False, use_scripts=False)
    bpy.context.preferences.filepaths.use_relative_paths = False  # textures beside the meshes
    bpy.context.scene.render.engine = "CYCLES"
    if bpy.context.scene.camera is None:
        camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
        bpy.context.scene.collection.objects.link(camera)
        bpy.context.scene.camera = camera
    bproc.renderer.set_render_devices()
    world = bpy.context.scene.world.node_tree.nodes["Background"]
    designer_colour = list(world.inputs["Color"].default_value)
    _Initializer.set_default_parameters()
    world.inputs["Color"].default_value = designer_colour  # the defaults replace the scene's world
    bproc.renderer.set_max_amount_of_samples(args.samples)
    bproc.renderer.set_noise_threshold(args.noise_threshold)
    bproc.renderer.set_light_bounces(diffuse_bounces=args.max_bounces, glossy_bounces=args.max_bounces,
                                     max_bounces=args.max_bounces, transmission_bounces=args.max_bounces,
                                     volume_bounces=args.max_bounces)
    # The factory's denoiser: Cycles' own OIDN (BlenderProc's "INTEL" is a compositor node instead).
    bproc.renderer.set_denoiser(None)
    cycles = bpy.context.scene.cycles
    cycles.use_denoising, cycles.denoiser = True, "OPENIMAGEDENOISE"
    bpy.context.view_layer.cycles.use_denoising = True  # set_denoiser(None) turned the view layer's off
    cycles.denoising_quality, cycles.denoising_prefilter = "BALANCED", args.denoise_prefilter.upper()
    cycles.denoising_input_passes = {"none": "RGB", "albedo": "RGB_ALBEDO",
                                     "albedo_normal": "RGB_ALBEDO_NORMAL"}[args.denoise_guides]
    cycles.use_light_tree = args.light_tree
    bproc.renderer.enable_segmentation_output(map_by=["instance", "category_id", "instance_id"],
                                              default_values={"category_id": 0, "instance_id": 0})

    for _, views in sorted(scenes.items()):
        first = views[0]
        added = []
        for obj in first["objects"]:
            for mesh, axes in load_asset(args.assets / obj["asset"]):
                imported = np.array(mesh.get_local2world_mat())
                mesh.set_local2world_mat(np.array(obj["obj_to_world"]) @ np.linalg.inv(axes) @ imported)
                mesh.set_cp("category_id", obj["category_id"])
                mesh.set_cp("instance_id", obj["instance_id"])
                added.append(mesh)
        lights = [add_light(lt, s, k) for k, (lt, s)
                  in enumerate(zip(first["lights"], first["sampled"]["lights"]))]
        world.inputs["Strength"].default_value = first["sampled"]["world"]["strength"]
        for index, obj in enumerate(bproc.object.get_all_mesh_objects()):  # ids for the index pass
            obj.blender_obj.pass_index = index + 1

        cam = first["camera"]
        bproc.camera.set_intrinsics_from_K_matrix(cam["K"], cam["width"], cam["height"])
        bproc.utility.reset_keyframes()
        for view in views:
            cv_to_world = np.array(view["camera"]["cam_to_world"])
            bproc.camera.add_camera_pose(bproc.math.change_source_coordinate_frame_of_transformation_matrix(
                cv_to_world, ["X", "-Y", "-Z"]))
        bpy.context.scene.cycles.seed = first["cycles_seed"]
        data = bproc.renderer.render()
        bproc.writer.write_coco_annotations(str(args.out), instance_segmaps=data["instance_segmaps"],
                                            instance_attribute_maps=data["instance_attribute_maps"],
                                            colors=data["colors"], append_to_existing_output=True)
        for obj in added:
            obj.delete()
        for light in lights:
            light.delete()
    sys.stdout.flush()
    os._exit(0)  # the bpy wheel can crash in static destructors at interpreter exit


if __name__ == "__main__":
    main()
