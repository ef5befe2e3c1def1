"""Build ``scenes/tabletop.blend``: a wooden table in a room corner, the default environment.

Run with the project's Python (the ``bpy`` wheel): ``python scenes/build_tabletop.py [OUT.blend]``.
Marks follow the designer conventions: the table top is in collection ``bpf_placement`` and an
empty at its centre is in ``bpf_camera_target``. Materials are procedural (no image files).
"""
from __future__ import annotations

import sys
from pathlib import Path

import bpy

TABLE_SIZE = (1.2, 0.8)
TABLE_TOP_Z = 0.75


def _material(name: str, build) -> bpy.types.Material:
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    build(mat.node_tree.nodes, mat.node_tree.links, mat.node_tree.nodes["Principled BSDF"])
    return mat


def _wood(nodes, links, bsdf) -> None:
    coord = nodes.new("ShaderNodeTexCoord")
    mapping = nodes.new("ShaderNodeMapping")
    mapping.inputs["Scale"].default_value = (0.15, 1.0, 1.0)  # grain runs along the table's X
    wave = nodes.new("ShaderNodeTexWave")
    wave.wave_type = "RINGS"
    wave.inputs["Scale"].default_value = 6.0
    wave.inputs["Distortion"].default_value = 1.5
    wave.inputs["Detail"].default_value = 4.0
    wave.inputs["Detail Scale"].default_value = 1.5
    ramp = nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].color = (0.20, 0.10, 0.04, 1.0)
    ramp.color_ramp.elements[1].color = (0.42, 0.24, 0.11, 1.0)
    links.new(coord.outputs["Object"], mapping.inputs["Vector"])
    links.new(mapping.outputs["Vector"], wave.inputs["Vector"])
    links.new(wave.outputs["Fac"], ramp.inputs["Fac"])
    links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
    bsdf.inputs["Roughness"].default_value = 0.45


def _plaster(colour):
    def build(nodes, links, bsdf) -> None:
        noise = nodes.new("ShaderNodeTexNoise")
        noise.inputs["Scale"].default_value = 40.0
        bump = nodes.new("ShaderNodeBump")
        bump.inputs["Strength"].default_value = 0.05
        links.new(noise.outputs["Fac"], bump.inputs["Height"])
        links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
        bsdf.inputs["Base Color"].default_value = (*colour, 1.0)
        bsdf.inputs["Roughness"].default_value = 0.9
    return build


def _box(name: str, size: tuple[float, float, float], centre: tuple[float, float, float],
         material: bpy.types.Material, collection: bpy.types.Collection) -> bpy.types.Object:
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=centre)
    obj = bpy.context.active_object
    obj.name = name
    obj.scale = size
    bpy.ops.object.transform_apply(scale=True)
    obj.data.materials.append(material)
    for c in obj.users_collection:
        c.objects.unlink(obj)
    collection.objects.link(obj)
    return obj


def build(out: Path) -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    env = bpy.data.collections.new("environment")
    placement = bpy.data.collections.new("bpf_placement")
    target = bpy.data.collections.new("bpf_camera_target")
    for c in (env, placement, target):
        scene.collection.children.link(c)

    wood = _material("wood", _wood)
    floor = _material("floor", _plaster((0.35, 0.33, 0.30)))
    wall = _material("wall", _plaster((0.75, 0.74, 0.70)))
    w, d = TABLE_SIZE
    thickness = 0.04
    _box("floor", (6.0, 6.0, 0.02), (0.0, 0.0, -0.01), floor, env)
    _box("wall_back", (6.0, 0.05, 3.0), (0.0, 1.6, 1.5), wall, env)
    _box("wall_left", (0.05, 6.0, 3.0), (-2.0, 0.0, 1.5), wall, env)
    top = _box("table_top", (w, d, thickness), (0.0, 0.0, TABLE_TOP_Z - thickness / 2), wood, env)
    placement.objects.link(top)  # the table top is both scenery and the placement area
    leg_h = TABLE_TOP_Z - thickness
    for sx in (-1, 1):
        for sy in (-1, 1):
            _box(f"table_leg_{sx:+d}{sy:+d}", (0.05, 0.05, leg_h),
                 (sx * (w / 2 - 0.06), sy * (d / 2 - 0.06), leg_h / 2), wood, env)

    empty = bpy.data.objects.new("camera_target", None)
    empty.location = (0.0, 0.0, TABLE_TOP_Z)
    target.objects.link(empty)

    world = bpy.data.worlds.new("World")
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.55, 0.6, 0.7, 1.0)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.4
    scene.world = world

    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    scene.render.engine = "CYCLES"
    out.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(out), compress=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    build(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else
          Path(__file__).resolve().parent / "tabletop.blend")
