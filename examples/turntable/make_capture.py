"""Render a synthetic turntable capture with ground truth, for the ingest tests and benchmark.

A textured "house" prism (a box with an off-centre gable roof, 8 x 5 x 14 cm) stands on the
printable ArUco sheet (``bproc_factory.ingest.markers``) on a grey turntable in front of a grey
backdrop, lit by a soft area light that casts its shadow on the sheet. The turntable turns once
with uneven speed (a hand-spun wobble), and a fixed camera films it. Written to ``OUT``:
``capture.mp4`` (or ``frames/`` with ``--photos``), ``truth.json`` (per frame: turntable angle;
camera K, elevation, distance), ``masks/{k:04d}.png`` ground-truth object masks and
``object.ply`` (the object in sheet coordinates, metres).

Usage: ``python examples/turntable/make_capture.py OUT [--frames 60] [--size 480x360]
[--no-markers] [--photos] [--wobble-deg 5] [--samples 16] [--fps 6] [--texture checker|speckled]
[--plate grey|white|cork] [--object house|mug] [--orbit 20,45]``

With ``--orbit``, the turntable stands still and the camera walks around it instead (a walk-around
capture): one hand-held ring per elevation with drift in distance, aim, elevation and roll, on a
textured floor; ``truth.json`` adds per-frame ``camera_azimuth_deg`` and ``camera_elevation_deg``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import bpy
import cv2
import numpy as np
import trimesh

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bproc_factory.ingest.markers import SheetLayout  # noqa: E402

ELEVATION_DEG = 30.0
DISTANCE_M = 0.5
TARGET_Z = 0.06


def house_mesh() -> trimesh.Trimesh:
    """Box 8 x 5 cm, walls 10 cm, a gable roof whose ridge (14 cm) is 1.5 cm off-centre."""
    profile = [(-0.04, 0.0), (0.04, 0.0), (0.04, 0.10), (0.015, 0.14), (-0.04, 0.10)]  # x, z; convex
    n = len(profile)
    verts = [(x, y, z) for y in (-0.025, 0.025) for x, z in profile]
    caps = [(0, k, k + 1) for k in range(1, n - 1)] + [(n, n + k + 1, n + k) for k in range(1, n - 1)]
    sides = [f for k in range(n) for f in ((k, (k + 1) % n, n + (k + 1) % n), (k, n + (k + 1) % n, n + k))]
    prism = trimesh.Trimesh(verts, caps + sides, process=True)
    trimesh.repair.fix_normals(prism)
    return prism


def mug_mesh() -> trimesh.Trimesh:
    """A mug 10 cm tall, 8 cm wide, with a ring handle whose hole shows the background from the side."""
    body = trimesh.creation.cylinder(radius=0.04, height=0.10, sections=64).apply_translation([0, 0, 0.05])
    handle = trimesh.creation.torus(major_radius=0.027, minor_radius=0.007, major_sections=48, minor_sections=16)
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    handle.apply_translation([0.052, 0, 0.05])
    return trimesh.util.concatenate([body, handle])


def angles(frames: int, wobble_deg: float) -> list[float]:
    """One revolution, uneven: a 2-per-turn speed wobble of +-``wobble_deg``."""
    return [360.0 * k / frames + wobble_deg * math.sin(4 * math.pi * k / frames) for k in range(frames)]


def material(name: str, build) -> bpy.types.Material:
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    build(mat.node_tree.nodes, mat.node_tree.links, mat.node_tree.nodes["Principled BSDF"])
    return mat


def object_material(nodes, links, bsdf, speckled: bool = False) -> None:
    """Red/yellow checker squares; ``speckled`` adds fine, high-contrast blotches (printed packaging,
    wood grain) that structure-from-motion can track, where plain squares give only corners."""
    coords = nodes.new("ShaderNodeTexCoord")
    checker = nodes.new("ShaderNodeTexChecker")
    checker.inputs["Scale"].default_value = 30.0
    checker.inputs["Color1"].default_value = (0.75, 0.12, 0.05, 1)
    checker.inputs["Color2"].default_value = (0.9, 0.7, 0.1, 1)
    noise = nodes.new("ShaderNodeTexNoise")
    noise.inputs["Scale"].default_value = 120.0 if speckled else 30.0
    if speckled:
        noise.inputs["Detail"].default_value = 6.0
    mix = nodes.new("ShaderNodeMixRGB")
    mix.blend_type = "MULTIPLY"
    mix.inputs["Fac"].default_value = 1.0 if speckled else 0.5
    links.new(coords.outputs["Object"], checker.inputs["Vector"])
    links.new(coords.outputs["Object"], noise.inputs["Vector"])
    links.new(checker.outputs["Color"], mix.inputs[1])
    if speckled:
        ramp = nodes.new("ShaderNodeValToRGB")  # noise around 0.5 stretched to dark/light blotches
        ramp.color_ramp.elements[0].position = 0.35
        ramp.color_ramp.elements[1].position = 0.65
        links.new(noise.outputs["Fac"], ramp.inputs["Fac"])
        links.new(ramp.outputs["Color"], mix.inputs[2])
    else:
        links.new(noise.outputs["Color"], mix.inputs[2])
    links.new(mix.outputs["Color"], bsdf.inputs["Base Color"])
    bsdf.inputs["Roughness"].default_value = 0.6


def plate_material(kind: str):
    """The turntable plate: plain grey or white, or cork-like (brown blotches that turn with it)."""
    if kind != "cork":
        return flat({"grey": (0.3, 0.3, 0.32), "white": (0.8, 0.8, 0.8)}[kind])

    def build(nodes, links, bsdf):
        coords = nodes.new("ShaderNodeTexCoord")
        noise = nodes.new("ShaderNodeTexNoise")
        noise.inputs["Scale"].default_value = 60.0
        noise.inputs["Detail"].default_value = 4.0
        ramp = nodes.new("ShaderNodeValToRGB")
        ramp.color_ramp.elements[0].color = (0.25, 0.13, 0.05, 1)
        ramp.color_ramp.elements[1].color = (0.65, 0.45, 0.25, 1)
        links.new(coords.outputs["Object"], noise.inputs["Vector"])
        links.new(noise.outputs["Fac"], ramp.inputs["Fac"])
        links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
        bsdf.inputs["Roughness"].default_value = 0.9
    return build


def flat(rgb, roughness=0.8):
    def build(nodes, links, bsdf):
        bsdf.inputs["Base Color"].default_value = (*rgb, 1)
        bsdf.inputs["Roughness"].default_value = roughness
    return build


def mesh_object(name: str, tm: trimesh.Trimesh, mat) -> bpy.types.Object:
    me = bpy.data.meshes.new(name)
    me.from_pydata(tm.vertices.tolist(), [], tm.faces.tolist())
    me.materials.append(mat)
    obj = bpy.data.objects.new(name, me)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def place_camera(cam, azimuth_deg: float, elevation_deg: float, distance_m: float = DISTANCE_M,
                 target=(0.0, 0.0, TARGET_Z), roll_deg: float = 0.0) -> np.ndarray:
    """Point the camera at ``target`` from the given azimuth/elevation; returns its OpenCV
    camera-to-world transform."""
    a, e = math.radians(azimuth_deg), math.radians(elevation_deg)
    target = np.asarray(target, float)
    eye = target + distance_m * np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])
    forward = target - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0, 0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    r = math.radians(roll_deg)  # a hand-held phone is never quite level
    right, down = math.cos(r) * right + math.sin(r) * down, -math.sin(r) * right + math.cos(r) * down
    cv_to_world = np.eye(4)
    cv_to_world[:3, :3] = np.stack([right, down, forward], axis=1)
    cv_to_world[:3, 3] = eye
    blender = cv_to_world.copy()
    blender[:3, 1:3] *= -1  # OpenCV (y down, z forward) -> Blender camera (y up, -z forward)
    from mathutils import Matrix
    cam.matrix_world = Matrix(blender.tolist())
    return cv_to_world


def orbit_poses(frames: int, elevations: list[float], rng: np.random.Generator) -> list[dict]:
    """A hand-held walk around the object: one ring per elevation, frames split evenly, with slow
    random drift in distance (+-4 %), aim (+-1 cm), elevation (+-2 deg) and roll (+-3 deg)."""
    poses = []
    rings = np.array_split(np.arange(frames), len(elevations))
    walk = np.cumsum(rng.normal(0, 1, (frames, 5)), axis=0)  # random walks, scaled to [-1, 1]
    walk -= walk.mean(axis=0)
    drift = walk / np.maximum(np.abs(walk).max(axis=0), 1e-9)
    for ring, elevation in zip(rings, elevations):
        for j, k in enumerate(ring):
            poses.append({"azimuth_deg": -90.0 + 360.0 * j / len(ring) + 2.0 * drift[k, 0],
                          "elevation_deg": elevation + 2.0 * drift[k, 1],
                          "distance_m": DISTANCE_M * (1 + 0.04 * drift[k, 2]),
                          "target": [0.01 * drift[k, 3], 0.01 * drift[k, 4], TARGET_Z],
                          "roll_deg": 3.0 * drift[k, 2]})
    return poses


def build_scene(args, layout: SheetLayout, work: Path) -> tuple:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    w, h = args.size
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = args.samples
    scene.cycles.use_denoising = True
    scene.cycles.denoiser = "OPENIMAGEDENOISE"
    scene.render.resolution_x, scene.render.resolution_y = w, h
    scene.render.resolution_percentage = 100
    scene.view_settings.view_transform = "Standard"
    scene.render.image_settings.file_format = "PNG"
    scene.render.use_persistent_data = True  # only the turntable (or the camera) moves: keep the BVH
    scene.cycles.max_bounces = 3
    world = bpy.data.worlds.new("world")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.15
    scene.world = world

    grey = material("backdrop", flat((0.42, 0.43, 0.45)))
    floor = trimesh.creation.box([3, 3, 0.02])
    floor.apply_translation([0, 0, -0.04])
    mesh_object("floor", floor, material("floor", plate_material("cork")) if args.orbit else grey)
    wall = trimesh.creation.box([3, 0.02, 2])
    wall.apply_translation([0, 0.6, 0.9])
    mesh_object("wall", wall, grey)

    disc = mesh_object("turntable", trimesh.creation.cylinder(radius=0.17, height=0.03, sections=96)
                       .apply_translation([0, 0, -0.0155]), material("disc", plate_material(args.plate)))
    parts = []
    if args.markers:
        sheet_png = work / "sheet.png"
        cv2.imwrite(str(sheet_png), layout.sheet_image(px_per_m=3000))
        bpy.ops.mesh.primitive_plane_add(size=layout.sheet_m, location=(0, 0, 0))
        sheet = bpy.context.active_object

        def paper(nodes, links, bsdf):
            tex = nodes.new("ShaderNodeTexImage")
            tex.image = bpy.data.images.load(str(sheet_png))
            tex.interpolation = "Closest"
            links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
            bsdf.inputs["Roughness"].default_value = 0.9
        sheet.data.materials.append(material("sheet", paper))
        parts.append(sheet)
    house = mug_mesh() if args.object == "mug" else house_mesh()
    obj = mesh_object("object", house, material("object", lambda n, l, b: object_material(
        n, l, b, speckled=args.texture == "speckled")))
    obj.pass_index = 1
    parts.append(obj)
    for p in parts:
        p.parent = disc

    light = bpy.data.lights.new("key", "AREA")
    light.energy = 12.0
    light.size = 0.5
    key = bpy.data.objects.new("key", light)
    key.location = (-0.5, -0.6, 0.9)
    key.rotation_euler = (math.radians(45), 0, math.radians(-40))
    scene.collection.objects.link(key)

    cam_data = bpy.data.cameras.new("camera")
    cam_data.sensor_fit = "HORIZONTAL"
    cam_data.sensor_width = 36.0
    fx = 0.9 * w
    cam_data.lens = fx * cam_data.sensor_width / w
    cam = bpy.data.objects.new("camera", cam_data)
    scene.collection.objects.link(cam)
    scene.camera = cam
    cv_to_world = place_camera(cam, -90.0, ELEVATION_DEG)
    K = np.array([[fx, 0, (w - 1) / 2], [0, fx, (h - 1) / 2], [0, 0, 1]])

    scene.view_layers[0].use_pass_object_index = True
    scene.use_nodes = True
    tree = scene.node_tree
    layers = tree.nodes["Render Layers"]
    compare = tree.nodes.new("CompositorNodeMath")
    compare.operation = "GREATER_THAN"
    compare.inputs[1].default_value = 0.5
    tree.links.new(layers.outputs["IndexOB"], compare.inputs[0])
    out = tree.nodes.new("CompositorNodeOutputFile")
    out.base_path = str(Path(args.out) / "masks")
    out.format.file_format = "PNG"
    out.format.color_mode = "BW"
    out.file_slots[0].path = ""
    tree.links.new(compare.outputs[0], out.inputs[0])
    scene.render.dither_intensity = 0.0
    return disc, K, cv_to_world, house, cam


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--size", default="480x360")
    parser.add_argument("--no-markers", dest="markers", action="store_false")
    parser.add_argument("--photos", action="store_true", help="write frames/*.png instead of a video")
    parser.add_argument("--wobble-deg", type=float, default=5.0)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--fps", type=float, default=6.0)
    parser.add_argument("--noise", type=float, default=2.0, help="sensor noise, grey levels (std)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--object", choices=["house", "mug"], default="house",
                        help="a gabled house, or a mug whose handle leaves a hole in its silhouette")
    parser.add_argument("--texture", choices=["checker", "speckled"], default="checker",
                        help="the object's paint: large squares only, or squares with fine blotches")
    parser.add_argument("--plate", choices=["grey", "white", "cork"], default="grey",
                        help="the turntable plate: plain grey or white, or a cork-like texture")
    parser.add_argument("--orbit", type=lambda v: [float(e) for e in v.split(",")], default=None,
                        metavar="ELEV,ELEV", help="walk around the still object instead: one hand-held ring per "
                                                  "camera elevation (degrees), on a textured floor")
    args = parser.parse_args()
    args.size = tuple(int(v) for v in args.size.split("x"))
    layout = SheetLayout()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="turntable_"))
    disc, K, cv_to_world, house, cam = build_scene(args, layout, work)
    scene = bpy.context.scene
    rng = np.random.default_rng(args.seed)
    poses = orbit_poses(args.frames, args.orbit, rng) if args.orbit else []
    truth_angles = [0.0] * args.frames if args.orbit else angles(args.frames, args.wobble_deg)
    cams_to_world = []
    images = []
    for k, a in enumerate(truth_angles):
        scene.frame_set(k)
        disc.rotation_euler = (0, 0, math.radians(a))
        cams_to_world.append(place_camera(cam, **poses[k]) if args.orbit else cv_to_world)
        scene.render.filepath = str(work / f"{k:04d}.png")
        bpy.ops.render.render(write_still=True)
        img = cv2.imread(str(work / f"{k:04d}.png")).astype(np.float32)
        img += rng.normal(0, args.noise, img.shape)
        images.append(np.clip(img, 0, 255).astype(np.uint8))
    if args.photos:
        (args.out / "frames").mkdir(exist_ok=True)
        for k, img in enumerate(images):
            cv2.imwrite(str(args.out / "frames" / f"{k:04d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    else:
        w, h = args.size
        writer = cv2.VideoWriter(str(args.out / "capture.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), args.fps, (w, h))
        for img in images:
            writer.write(img)
        writer.release()
    truth = {
        "frames": args.frames, "size": list(args.size), "K": K.tolist(),
        "turntable_angle_deg": truth_angles, "elevation_deg": ELEVATION_DEG, "distance_m": DISTANCE_M,
        "object_height_m": float(house.bounds[1][2]), "markers": args.markers,
        # sheet -> camera (OpenCV) per frame: the sheet turned by the angle, the camera fixed (or,
        # walking around, the sheet still and the camera moving)
        "sheet_to_camera": [(np.linalg.inv(c) @ _rot_z(a)).tolist() for c, a in zip(cams_to_world, truth_angles)],
    }
    if args.orbit:
        truth.update({"walk_around": True, "camera_azimuth_deg": [p["azimuth_deg"] for p in poses],
                      "camera_elevation_deg": [p["elevation_deg"] for p in poses],
                      "elevation_deg": args.orbit})
    (args.out / "truth.json").write_text(json.dumps(truth, indent=1))
    house.export(str(args.out / "object.ply"))
    for k in range(args.frames):  # the compositor names files by frame number
        src = args.out / "masks" / f"{k:04d}.png"
        if not src.is_file():
            raise SystemExit(f"mask for frame {k} missing")
    sys.stdout.flush()
    os._exit(0)  # the bpy wheel can crash in static destructors at interpreter exit


def _rot_z(deg: float) -> np.ndarray:
    r = np.eye(4)
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    r[:2, :2] = [[c, -s], [s, c]]
    return r


if __name__ == "__main__":
    main()
