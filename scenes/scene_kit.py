"""Helpers shared by the scripts that build the shipped scenes (run with the project's Python).

They create the designer-convention collections (see scenes/README.md), boxes with library
materials, the camera target and region, and lights, so each build script reads as a layout.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

import bpy

from bproc_factory.blender.materials import build_material
from bproc_factory.assets.materials import resolve_material, sample_material

MARKS = ("bpf_placement", "bpf_camera_target", "bpf_camera_region", "bpf_occluders", "bpf_props",
         "bpf_lights", "bpf_materials")


def new_scene() -> dict[str, bpy.types.Collection]:
    """An empty scene with an 'environment' collection and one collection per designer mark."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.scene.render.engine = "CYCLES"
    collections = {}
    for name in ("environment", *MARKS):
        collections[name] = bpy.data.collections.new(name)
        bpy.context.scene.collection.children.link(collections[name])
    return collections


def material(library_name: str, seed: int) -> bpy.types.Material:
    """A library material with its parameters drawn from ``seed`` (fixed: the scene is reproducible)."""
    spec = resolve_material(library_name, Path.cwd())
    return build_material(library_name, sample_material(spec, seed, "scene"))


def box(name: str, size: tuple[float, float, float], centre: tuple[float, float, float],
        mat: bpy.types.Material | None, *collections: bpy.types.Collection) -> bpy.types.Object:
    """An axis-aligned box (its own mesh) linked into ``collections``."""
    sx, sy, sz = (s / 2 for s in size)
    verts = [(x * sx, y * sy, z * sz) for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    obj.location = centre
    if mat is not None:
        mesh.materials.append(mat)
    for collection in collections:
        collection.objects.link(obj)
    return obj


def camera_target(location: tuple[float, float, float], collection: bpy.types.Collection) -> None:
    empty = bpy.data.objects.new("camera_target", None)
    empty.location = location
    collection.objects.link(empty)


def camera_region(name: str, size: tuple[float, float, float], centre: tuple[float, float, float],
                  collection: bpy.types.Collection) -> None:
    """A box the camera must stay inside; never rendered, drawn as wire in the viewport."""
    region = box(name, size, centre, None, collection)
    region.hide_render = True
    region.display_type = "WIRE"


def area_light(name: str, energy: float, size: float, location: tuple[float, float, float],
               rotation: tuple[float, float, float], *collections: bpy.types.Collection) -> None:
    light = bpy.data.lights.new(name, "AREA")
    light.energy = energy
    light.size = size
    obj = bpy.data.objects.new(name, light)
    obj.location = location
    obj.rotation_euler = rotation
    for collection in collections:
        collection.objects.link(obj)


def world(color: tuple[float, float, float], strength: float) -> None:
    w = bpy.data.worlds.new("World")
    w.use_nodes = True
    w.node_tree.nodes["Background"].inputs["Color"].default_value = (*color, 1.0)
    w.node_tree.nodes["Background"].inputs["Strength"].default_value = strength
    bpy.context.scene.world = w


def save(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(path), compress=True)
    print(f"wrote {path}")


def main(build: Callable[[Path], None], default_name: str) -> None:
    """Build into ``argv[1]`` (default: ``scenes/DEFAULT_NAME``), then exit without the bpy
    wheel's static destructors (they can crash at interpreter exit)."""
    build(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parent / default_name)
    os._exit(0)
