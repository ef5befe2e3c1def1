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
    """A new material: base colour varying by ``params["pattern"]`` between two tones, the optical
    layers (anisotropy, transmission, coat, subsurface) and the surface imperfections it names."""
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = nodes["Principled BSDF"]
    bsdf.inputs["Metallic"].default_value = params["metallic"]
    coord = nodes.new("ShaderNodeTexCoord")
    colour = _base_colour(params, nodes, links, coord, bsdf)
    roughness = _imperfect_roughness(params, nodes, links, coord)
    colour, roughness = _dust(params, nodes, links, coord, colour, roughness)
    links.new(colour, bsdf.inputs["Base Color"])
    links.new(roughness, bsdf.inputs["Roughness"])
    _optical_layers(params, bsdf)
    if params.get("transmission", 0) > 0 and params.get("thin_walled"):
        _thin_walled(mat, params, colour, roughness)
    return mat


FINISH_INPUTS = {"metallic": "Metallic", "roughness": "Roughness", "anisotropic": "Anisotropic",
                 "coat": "Coat Weight", "coat_roughness": "Coat Roughness", "transmission": "Transmission Weight",
                 "ior": "IOR", "subsurface": "Subsurface Weight"}


def apply_finish(material: bpy.types.Material, finish: dict[str, float]) -> bpy.types.Material:
    """Set the finish's values on every Principled BSDF of ``material`` (a texture feeding one of
    those inputs is disconnected; the colour and its texture stay)."""
    if material.use_nodes:
        for node in material.node_tree.nodes:
            if node.type == "BSDF_PRINCIPLED":
                for key, value in finish.items():
                    socket = node.inputs[FINISH_INPUTS[key]]
                    for link in list(socket.links):
                        material.node_tree.links.remove(link)
                    socket.default_value = value
    return material


def _value(nodes, value: float) -> bpy.types.NodeSocket:
    node = nodes.new("ShaderNodeValue")
    node.outputs[0].default_value = value
    return node.outputs[0]


def _math(nodes, links, operation: str, a, b, clamp: bool = False) -> bpy.types.NodeSocket:
    """``a operation b`` (sockets or numbers)."""
    node = nodes.new("ShaderNodeMath")
    node.operation, node.use_clamp = operation, clamp
    for k, operand in enumerate((a, b)):
        if isinstance(operand, (int, float)):
            node.inputs[k].default_value = operand
        else:
            links.new(operand, node.inputs[k])
    return node.outputs[0]


def _noise(nodes, links, coord, scale: float, detail: float = 2.0) -> bpy.types.NodeSocket:
    noise = nodes.new("ShaderNodeTexNoise")
    noise.inputs["Scale"].default_value = scale
    noise.inputs["Detail"].default_value = detail
    links.new(coord.outputs["Object"], noise.inputs["Vector"])
    return noise.outputs["Fac"]


def _base_colour(params: dict[str, Any], nodes, links, coord, bsdf) -> bpy.types.NodeSocket:
    """The base colour: plain, or the pattern's factor between the two tones (bumping the surface)."""
    pattern = params["pattern"]
    if pattern == "plain":
        rgb = nodes.new("ShaderNodeRGB")
        rgb.outputs[0].default_value = _rgba(params["color"])
        return rgb.outputs[0]
    mapping = nodes.new("ShaderNodeMapping")
    scale = params["pattern_scale"]
    stretch = {"wood": (0.25, 1.0, 1.0), "brushed": (1.0, 40.0, 1.0)}.get(pattern, (1.0, 1.0, 1.0))
    mapping.inputs["Scale"].default_value = tuple(scale * s for s in stretch)
    links.new(coord.outputs["Object"], mapping.inputs["Vector"])
    factor = _pattern(pattern, nodes, links, mapping.outputs["Vector"])
    ramp = nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].color = _rgba(params["color2"])
    ramp.color_ramp.elements[1].color = _rgba(params["color"])
    links.new(factor, ramp.inputs["Fac"])
    if params["bump"] > 0:
        bump = nodes.new("ShaderNodeBump")
        bump.inputs["Strength"].default_value = params["bump"]
        links.new(factor, bump.inputs["Height"])
        links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
    return ramp.outputs["Color"]


def _imperfect_roughness(params: dict[str, Any], nodes, links, coord) -> bpy.types.NodeSocket:
    """Roughness with patchy gloss, smudges (dull blotches) and scratches (thin dull lines) added."""
    rough = _value(nodes, params["roughness"])
    if params.get("roughness_variation", 0) > 0:  # +-half the variation, in patches a few cm across
        patches = _math(nodes, links, "SUBTRACT", _noise(nodes, links, coord, 25.0), 0.5)
        rough = _math(nodes, links, "ADD", rough, _math(nodes, links, "MULTIPLY", patches,
                                                        params["roughness_variation"]))
    if params.get("smudges", 0) > 0:  # blotches where a low-frequency noise is high
        blotch = _math(nodes, links, "GREATER_THAN", _noise(nodes, links, coord, 12.0, 4.0), 0.58)
        rough = _math(nodes, links, "ADD", rough, _math(nodes, links, "MULTIPLY", blotch, 0.5 * params["smudges"]))
    if params.get("scratches", 0) > 0:  # the edges of a fine Voronoi pattern: thin random lines
        voronoi = nodes.new("ShaderNodeTexVoronoi")
        voronoi.feature = "DISTANCE_TO_EDGE"
        voronoi.inputs["Scale"].default_value = 60.0
        links.new(coord.outputs["Object"], voronoi.inputs["Vector"])
        line = _math(nodes, links, "LESS_THAN", voronoi.outputs["Distance"], 0.03 * params["scratches"])
        rough = _math(nodes, links, "ADD", rough, _math(nodes, links, "MULTIPLY", line, 0.4))
    return _math(nodes, links, "MINIMUM", _math(nodes, links, "MAXIMUM", rough, 0.0), 1.0)


DUST_RGB = (0.47, 0.44, 0.40)  # display sRGB of a light grey-beige dust film


def _dust(params: dict[str, Any], nodes, links, coord, colour, roughness):
    """A dust film mixed over colour and roughness, thickest on upward-facing parts."""
    amount = params.get("dust", 0)
    if amount <= 0:
        return colour, roughness
    geometry = nodes.new("ShaderNodeNewGeometry")
    up = nodes.new("ShaderNodeSeparateXYZ")
    links.new(geometry.outputs["Normal"], up.inputs[0])
    facing_up = _math(nodes, links, "MAXIMUM", up.outputs["Z"], 0.0)
    film = _math(nodes, links, "MULTIPLY", _math(nodes, links, "MULTIPLY", facing_up, amount),
                 _noise(nodes, links, coord, 40.0, 6.0), clamp=True)
    mix = nodes.new("ShaderNodeMix")
    mix.data_type = "RGBA"
    links.new(film, mix.inputs["Factor"])
    links.new(colour, mix.inputs[6])  # A (colour)
    mix.inputs[7].default_value = _rgba(list(DUST_RGB))  # B (colour)
    dull = _math(nodes, links, "ADD", roughness, _math(nodes, links, "MULTIPLY", film, 0.6), clamp=True)
    return mix.outputs[2], dull


def _optical_layers(params: dict[str, Any], bsdf) -> None:
    """Anisotropy, transmission and IOR, coat and subsurface scattering on the Principled BSDF."""
    inputs = bsdf.inputs
    inputs["Anisotropic"].default_value = params.get("anisotropic", 0.0)
    inputs["Anisotropic Rotation"].default_value = params.get("anisotropic_rotation", 0.0)
    inputs["Transmission Weight"].default_value = params.get("transmission", 0.0)
    inputs["IOR"].default_value = params.get("ior", 1.5)
    inputs["Coat Weight"].default_value = params.get("coat", 0.0)
    inputs["Coat Roughness"].default_value = params.get("coat_roughness", 0.05)
    inputs["Subsurface Weight"].default_value = params.get("subsurface", 0.0)
    inputs["Subsurface Scale"].default_value = params.get("subsurface_radius_mm", 5.0) / 1000.0  # metres


def _thin_walled(mat: bpy.types.Material, params: dict[str, Any], colour, roughness) -> None:
    """A thin sheet: a Fresnel mix of a gloss and an IOR 1 refraction (light passes straight through),
    replacing the Principled BSDF; still a surface that the label pass sees, not a cut-out."""
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    fresnel = nodes.new("ShaderNodeFresnel")
    fresnel.inputs["IOR"].default_value = params.get("ior", 1.5)
    through = nodes.new("ShaderNodeBsdfRefraction")
    through.inputs["IOR"].default_value = 1.0
    links.new(colour, through.inputs["Color"])
    gloss = nodes.new("ShaderNodeBsdfGlossy")
    links.new(roughness, gloss.inputs["Roughness"])
    links.new(roughness, through.inputs["Roughness"])
    mix = nodes.new("ShaderNodeMixShader")
    links.new(fresnel.outputs["Fac"], mix.inputs["Fac"])
    links.new(through.outputs["BSDF"], mix.inputs[1])
    links.new(gloss.outputs["BSDF"], mix.inputs[2])
    links.new(mix.outputs["Shader"], nodes["Material Output"].inputs["Surface"])


def _pattern(pattern: str, nodes, links, vector) -> bpy.types.NodeSocket:
    """A 0..1 factor socket that varies over the surface in the pattern's way."""
    if pattern == "wood":  # few, irregular rings (regular fine rings alias into moire at a distance)
        wave = nodes.new("ShaderNodeTexWave")
        wave.wave_type = "RINGS"
        wave.inputs["Scale"].default_value = 2.0
        wave.inputs["Distortion"].default_value = 6.0
        wave.inputs["Detail"].default_value = 3.0
        wave.inputs["Detail Scale"].default_value = 1.5
        links.new(vector, wave.inputs["Vector"])
        grain = nodes.new("ShaderNodeTexNoise")
        grain.inputs["Scale"].default_value = 6.0
        links.new(vector, grain.inputs["Vector"])
        return _math(nodes, links, "MULTIPLY", wave.outputs["Fac"],
                     _math(nodes, links, "ADD", _math(nodes, links, "MULTIPLY", grain.outputs["Fac"], 0.6), 0.5))
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
