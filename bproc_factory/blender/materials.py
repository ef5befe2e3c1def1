"""Procedural PBR materials as Blender node trees, from drawn library parameters (see
``bproc_factory.assets.materials``). Patterns use object coordinates, so no UV map is needed."""
from __future__ import annotations

from typing import Any

import bpy
import numpy as np

from bproc_factory.sensor import srgb_decode


def _rgba(srgb: list[float]) -> tuple[float, float, float, float]:
    """Library colours are display sRGB; Blender's Base Color is scene-linear."""
    r, g, b = (float(v) for v in srgb_decode(np.asarray(srgb, float)))
    return (r, g, b, 1.0)


def use_material(slot: bpy.types.MaterialSlot, material: bpy.types.Material) -> None:
    """Put ``material`` in an object's slot, linked to the object (the mesh keeps its own)."""
    slot.link = "OBJECT"
    slot.material = material


def build_material(name: str, params: dict[str, Any]) -> bpy.types.Material:
    """A new material whose base colour varies by ``params["pattern"]`` between two tones."""
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = nodes["Principled BSDF"]
    bsdf.inputs["Roughness"].default_value = params["roughness"]
    bsdf.inputs["Metallic"].default_value = params["metallic"]
    pattern = params["pattern"]
    if pattern == "plain":
        bsdf.inputs["Base Color"].default_value = _rgba(params["color"])
        return mat
    coord = nodes.new("ShaderNodeTexCoord")
    mapping = nodes.new("ShaderNodeMapping")
    scale = params["pattern_scale"]
    stretch = {"wood": (0.15, 1.0, 1.0), "brushed": (1.0, 40.0, 1.0)}.get(pattern, (1.0, 1.0, 1.0))
    mapping.inputs["Scale"].default_value = tuple(scale * s for s in stretch)
    links.new(coord.outputs["Object"], mapping.inputs["Vector"])
    factor = _pattern(pattern, nodes, links, mapping.outputs["Vector"])
    ramp = nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].color = _rgba(params["color2"])
    ramp.color_ramp.elements[1].color = _rgba(params["color"])
    links.new(factor, ramp.inputs["Fac"])
    links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
    if params["bump"] > 0:
        bump = nodes.new("ShaderNodeBump")
        bump.inputs["Strength"].default_value = params["bump"]
        links.new(factor, bump.inputs["Height"])
        links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
    return mat


def _pattern(pattern: str, nodes, links, vector) -> bpy.types.NodeSocket:
    """A 0..1 factor socket that varies over the surface in the pattern's way."""
    if pattern == "wood":
        wave = nodes.new("ShaderNodeTexWave")
        wave.wave_type = "RINGS"
        wave.inputs["Distortion"].default_value = 1.5
        wave.inputs["Detail"].default_value = 4.0
        links.new(vector, wave.inputs["Vector"])
        return wave.outputs["Fac"]
    if pattern == "fabric":
        mix = nodes.new("ShaderNodeMath")
        mix.operation = "MULTIPLY"
        for k, direction in enumerate(("X", "Y")):
            wave = nodes.new("ShaderNodeTexWave")
            wave.bands_direction = direction
            links.new(vector, wave.inputs["Vector"])
            links.new(wave.outputs["Fac"], mix.inputs[k])
        return mix.outputs["Value"]
    noise = nodes.new("ShaderNodeTexNoise")
    noise.inputs["Detail"].default_value = {"concrete": 10.0, "brushed": 2.0}.get(pattern, 6.0)
    links.new(vector, noise.inputs["Vector"])
    if pattern not in ("concrete", "cardboard"):
        return noise.outputs["Fac"]
    extra = nodes.new("ShaderNodeTexVoronoi") if pattern == "concrete" else nodes.new("ShaderNodeTexWave")
    links.new(vector, extra.inputs["Vector"])
    if pattern == "cardboard":
        extra.inputs["Scale"].default_value = 0.5  # flutes, coarser than the fibres
    mix = nodes.new("ShaderNodeMath")
    mix.operation = "MINIMUM" if pattern == "concrete" else "MULTIPLY"
    links.new(noise.outputs["Fac"], mix.inputs[0])
    links.new(extra.outputs["Distance" if pattern == "concrete" else "Fac"], mix.inputs[1])
    return mix.outputs["Value"]
