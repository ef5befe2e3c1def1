"""Build the shipped HDRIs into ``assets/hdri/``: equirectangular Cycles renders (512x256, Radiance
.hdr) of three small modelled interiors, so scenarios have image-based light and reflections with
nothing downloaded. Each room is boxes and emissive panels; the lights are what reflections show.

- ``studio.hdr``: a dark photo studio with a large key softbox, a fill and a rim strip;
- ``office.hdr``: a white office with a daylight window and warm ceiling panels;
- ``warehouse.hdr``: a concrete hall with high-bay lamps and an open loading door.

Run: ``python assets/hdri/build_hdris.py [OUT_DIR]`` (about two minutes on 2 cores).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

WIDTH, HEIGHT, SAMPLES = 512, 256, 64
# The panoramic camera's rotation under which its equirectangular image is exactly what Blender's
# environment texture maps back onto the world (checked by tests/test_environments.py).
PANO_ROTATION = (math.pi / 2, 0.0, -math.pi / 2)
EYE = (0.0, 0.0, 1.0)  # where the panoramas are taken from: 1 m above the middle of the floor

# name: (room size x, y, z; wall, floor and ceiling albedo; emitters: centre, size, facing, colour, strength)
Emitter = tuple[tuple[float, float, float], tuple[float, float], tuple[float, float, float], tuple[float, float, float],
                float]
ROOMS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float], list[Emitter]]] = {
    "studio": ((8.0, 8.0, 4.0), (0.12, 0.06, 0.3), [
        ((2.2, -2.2, 2.4), (1.6, 1.6), (-1.0, 1.0, -0.6), (1.0, 0.97, 0.92), 40.0),   # key softbox
        ((-3.0, -1.0, 1.8), (1.0, 2.0), (1.0, 0.3, 0.0), (0.92, 0.95, 1.0), 10.0),    # fill
        ((0.0, 3.8, 2.6), (0.3, 2.2), (0.0, -1.0, -0.2), (1.0, 1.0, 1.0), 25.0),      # rim strip
    ]),
    "office": ((6.0, 5.0, 3.0), (0.7, 0.25, 0.8), [
        ((0.0, 2.49, 1.6), (3.2, 1.6), (0.0, -1.0, 0.0), (0.62, 0.76, 1.0), 14.0),    # window: daylight
        ((-1.5, 0.0, 2.95), (0.6, 0.6), (0.0, 0.0, -1.0), (1.0, 0.88, 0.72), 30.0),   # ceiling panels, warm
        ((1.5, 0.0, 2.95), (0.6, 0.6), (0.0, 0.0, -1.0), (1.0, 0.88, 0.72), 30.0),
        ((0.0, -1.6, 2.95), (0.6, 0.6), (0.0, 0.0, -1.0), (1.0, 0.88, 0.72), 30.0),
    ]),
    "warehouse": ((20.0, 20.0, 8.0), (0.35, 0.3, 0.2), [
        ((-4.0, -4.0, 7.6), (0.6, 0.6), (0.0, 0.0, -1.0), (1.0, 0.95, 0.85), 150.0),  # high-bay lamps
        ((4.0, -4.0, 7.6), (0.6, 0.6), (0.0, 0.0, -1.0), (1.0, 0.95, 0.85), 150.0),
        ((-4.0, 4.0, 7.6), (0.6, 0.6), (0.0, 0.0, -1.0), (1.0, 0.95, 0.85), 150.0),
        ((4.0, 4.0, 7.6), (0.6, 0.6), (0.0, 0.0, -1.0), (1.0, 0.95, 0.85), 150.0),
        ((9.99, 0.0, 2.0), (4.0, 4.0), (-1.0, 0.0, 0.0), (0.75, 0.85, 1.0), 8.0),     # open loading door
    ]),
}


def _material(name: str, colour: tuple[float, float, float], strength: float = 0.0):
    """A diffuse grey (or an emitter when ``strength`` > 0)."""
    import bpy

    material = bpy.data.materials.new(name)
    material.use_nodes = True
    nodes = material.node_tree.nodes
    bsdf = nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*colour, 1.0)
    bsdf.inputs["Roughness"].default_value = 0.8
    if strength > 0:
        bsdf.inputs["Base Color"].default_value = (0.0, 0.0, 0.0, 1.0)
        bsdf.inputs["Emission Color"].default_value = (*colour, 1.0)
        bsdf.inputs["Emission Strength"].default_value = strength
    return material


def _box(size: tuple[float, float, float], location: tuple[float, float, float], material, inward: bool = False) -> None:
    import bpy

    bpy.ops.mesh.primitive_cube_add(size=1.0, location=location)
    obj = bpy.context.object
    obj.scale = size
    if inward:  # a room: faces point inside
        bpy.ops.object.mode_set(mode="EDIT")
        bpy.ops.mesh.flip_normals()
        bpy.ops.object.mode_set(mode="OBJECT")
    obj.data.materials.append(material)


def _panel(centre, size, facing, colour, strength, k: int) -> None:
    """A flat emitter of ``size`` (width, height) at ``centre`` whose front faces ``facing``."""
    import bpy
    from mathutils import Vector

    bpy.ops.mesh.primitive_plane_add(size=1.0, location=centre)
    obj = bpy.context.object
    obj.scale = (size[0], size[1], 1.0)
    obj.rotation_euler = Vector((0.0, 0.0, 1.0)).rotation_difference(Vector(facing).normalized()).to_euler()
    obj.data.materials.append(_material(f"emitter_{k}", colour, strength))


def build_room(name: str, out: Path) -> Path:
    """Model the room ``name``, render its panorama from 1 m above the floor's centre, save it as .hdr."""
    import bpy  # here, so the room data can be read without Blender (tests do)

    (sx, sy, sz), (wall, floor, ceiling), emitters = ROOMS[name]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    _box((sx, sy, sz), (0.0, 0.0, sz / 2), _material("walls", (wall, wall, wall * 0.96)), inward=True)
    _box((sx * 0.98, sy * 0.98, 0.02), (0.0, 0.0, 0.01), _material("floor", (floor, floor * 0.9, floor * 0.8)))
    _box((sx * 0.98, sy * 0.98, 0.02), (0.0, 0.0, sz - 0.01), _material("ceiling", (ceiling,) * 3))
    for k, emitter in enumerate(emitters):
        _panel(*emitter, k)
    camera = bpy.data.cameras.new("pano")
    camera.type = "PANO"
    camera.panorama_type = "EQUIRECTANGULAR"
    rig = bpy.data.objects.new("pano", camera)
    rig.location = EYE
    rig.rotation_euler = PANO_ROTATION
    scene.collection.objects.link(rig)
    scene.camera = rig
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = SAMPLES
    scene.cycles.seed = 0
    scene.cycles.use_denoising = True
    scene.render.resolution_x, scene.render.resolution_y = WIDTH, HEIGHT
    scene.render.image_settings.file_format = "HDR"
    scene.view_settings.view_transform = "Standard"
    path = out / f"{name}.hdr"
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return path


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    for name in ROOMS:
        print(build_room(name, out))


if __name__ == "__main__":
    main()
