"""Billboard assets in Blender: an upright card per instance, turned about its vertical axis to
face each camera frame, showing the captured card nearest the camera's azimuth (and elevation)
around the object. The cards sit in one atlas image; a keyed mapping offset picks the cell per
frame. Alpha is clipped in the shader (a binary mix with a transparent BSDF), so the index pass
and the colour share one silhouette and masks stay exact.
"""
from __future__ import annotations

import math
from pathlib import Path

import bpy
import cv2
import numpy as np
from mathutils import Matrix

from bproc_factory.assets import Asset
from bproc_factory.plan import ObjectPlan


class CardLibrary:
    """One card mesh and atlas material per billboard asset, for the life of the open file."""

    def __init__(self, work: Path) -> None:
        self._work = work
        self._cards: dict[Path, tuple[bpy.types.Mesh, int, int]] = {}

    def mesh(self, asset: Asset) -> bpy.types.Mesh:
        if asset.folder not in self._cards:
            self._cards[asset.folder] = self._build(asset)
        return self._cards[asset.folder][0]

    def grid(self, asset: Asset) -> tuple[int, int]:
        return self._cards[asset.folder][1:]

    def _build(self, asset: Asset) -> tuple[bpy.types.Mesh, int, int]:
        board = asset.billboard
        images = [cv2.imread(str(c.path), cv2.IMREAD_UNCHANGED) for c in board.cards]
        h, w = images[0].shape[:2]
        cols = math.ceil(math.sqrt(len(images)))
        rows = math.ceil(len(images) / cols)
        atlas = np.zeros((rows * h, cols * w, 4), np.uint8)
        for k, img in enumerate(images):
            r, c = divmod(k, cols)
            atlas[r * h:(r + 1) * h, c * w:(c + 1) * w] = img
        path = self._work / f"card_atlas_{len(self._cards)}_{asset.name}.png"
        cv2.imwrite(str(path), atlas)

        hw, ht = board.half_width_m, board.height_m
        me = bpy.data.meshes.new(f"bpf_card_{asset.name}")
        me.from_pydata([(-hw, 0, 0), (hw, 0, 0), (hw, 0, ht), (-hw, 0, ht)], [], [(0, 1, 2, 3)])
        uv = me.uv_layers.new(name="UVMap")
        # cell (0, 0) is the atlas's top-left card; the mapping offset moves to card k
        corners = [(0, 1 - 1 / rows), (1 / cols, 1 - 1 / rows), (1 / cols, 1.0), (0, 1.0)]
        for loop, corner in zip(me.loops, corners):
            uv.data[loop.index].uv = corner
        me.materials.append(_material(asset.name, path))
        return me, cols, rows


def _material(name: str, atlas: Path) -> bpy.types.Material:
    mat = bpy.data.materials.new(f"bpf_card_{name}")
    mat.use_nodes = True
    mat.blend_method = "CLIP"
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = nodes["Principled BSDF"]
    bsdf.inputs["Roughness"].default_value = 0.7
    coords = nodes.new("ShaderNodeTexCoord")
    mapping = nodes.new("ShaderNodeMapping")
    mapping.name = "card_offset"
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = bpy.data.images.load(str(atlas))
    tex.image.pack()
    tex.image.alpha_mode = "STRAIGHT"
    tex.extension = "CLIP"
    tex.interpolation = "Closest"  # no bleeding of a neighbouring cell or of cut-away pixels
    clip = nodes.new("ShaderNodeMath")
    clip.operation = "GREATER_THAN"
    clip.inputs[1].default_value = 0.5
    transparent = nodes.new("ShaderNodeBsdfTransparent")
    mix = nodes.new("ShaderNodeMixShader")
    output = nodes["Material Output"]
    links.new(coords.outputs["UV"], mapping.inputs["Vector"])
    links.new(mapping.outputs["Vector"], tex.inputs["Vector"])
    links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    links.new(tex.outputs["Alpha"], clip.inputs[0])
    links.new(clip.outputs[0], mix.inputs["Fac"])
    links.new(transparent.outputs["BSDF"], mix.inputs[1])
    links.new(bsdf.outputs["BSDF"], mix.inputs[2])
    links.new(mix.outputs["Shader"], output.inputs["Surface"])
    return mat


def key_cards(cards: CardLibrary, objects: dict[int, bpy.types.Object], plans: tuple[ObjectPlan, ...],
              frames: list[tuple[int, np.ndarray]]) -> None:
    """For each (frame, camera pose): turn every billboard to the camera and pick its card, held
    over the frame's exposure (half a frame either side; billboards do not take object motion)."""
    for plan in plans:
        if plan.asset.billboard is None:
            continue
        obj = objects[plan.instance_id]
        obj.rotation_mode = "XYZ"
        mapping = obj.active_material.node_tree.nodes["card_offset"]
        obj.active_material.node_tree.animation_data_clear()
        cols, rows = cards.grid(plan.asset)
        for frame, cam_to_world in frames:
            matrix, card = plan.asset.billboard.facing(plan.obj_to_world, cam_to_world)
            mat = Matrix(matrix.tolist())
            obj.location = mat.to_translation()
            obj.rotation_euler = mat.to_euler("XYZ", obj.rotation_euler)
            r, c = divmod(card, cols)
            mapping.inputs["Location"].default_value = (c / cols, -r / rows, 0.0)
            for f in (frame - 0.5, frame, frame + 0.5):
                obj.keyframe_insert("location", frame=f)
                obj.keyframe_insert("rotation_euler", frame=f)
                mapping.inputs["Location"].keyframe_insert("default_value", frame=f)
        for fcurve in obj.active_material.node_tree.animation_data.action.fcurves:
            for key in fcurve.keyframe_points:
                key.interpolation = "CONSTANT"
