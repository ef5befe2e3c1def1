"""The two render passes of every scene: a fast *label* pass and the full *beauty* pass.

The label pass renders only the object-index pass, one sample per pixel through the pixel centre
(box filter of width 0.01), with no bounces, depth of field or motion blur: each mask pixel is the
surface at the pixel centre, through a pinhole, at mid-exposure. The beauty pass renders the RGB
with the scenario's samples, denoiser, depth of field and motion blur.
"""
from __future__ import annotations

import os
from pathlib import Path

import bpy

from bproc_factory.config import RenderConfig

LABEL_PREFIX = "label_"
INDEX_PREFIX = "index_"
RGB_PREFIX = "rgb_"
SHADOW_PREFIX = "shadow_"
PIXEL_CENTRE_FILTER = 0.01  # Cycles' smallest filter width: rays within 0.005 px of the centre


def setup_outputs(work: Path, render: RenderConfig, shadow_catcher: bool) -> dict[str, bpy.types.Node]:
    """Linear EXR output; compositor nodes writing the object-index pass (``index``, muted during
    beauty passes) and, for backplates, the shadow-catcher pass (``shadow``, beauty passes only)."""
    scene = bpy.context.scene
    scene.render.image_settings.file_format = "OPEN_EXR"
    scene.render.image_settings.color_depth = "32"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.image_settings.exr_codec = "ZIP"
    threads = int(os.environ.get("BPF_CYCLES_THREADS", "0"))  # set by bproc_factory.run.workers
    scene.render.threads_mode = "FIXED" if threads > 0 else "AUTO"
    if threads > 0:
        scene.render.threads = threads
    # Persistent data lets Cycles refit the previous scene's BVH, so an image's pixels would
    # depend on which scenes this process rendered before it; rebuild per render instead.
    scene.render.use_persistent_data = False
    view_layer = bpy.context.view_layer
    view_layer.use_pass_object_index = True
    view_layer.pass_alpha_threshold = render.pass_alpha_threshold
    scene.use_nodes = True
    tree = scene.node_tree
    layers = next(n for n in tree.nodes if n.bl_idname == "CompositorNodeRLayers")
    nodes = {"index": _exr_output(tree, work, INDEX_PREFIX)}
    # A lone float input is written as a one-channel EXR, which OpenCV cannot read: copy the
    # index into R, G and B (exact for integers below 2**24 in float32).
    combine = tree.nodes.new("CompositorNodeCombineColor")
    combine.mode = "RGB"
    for channel in ("Red", "Green", "Blue"):
        tree.links.new(layers.outputs["IndexOB"], combine.inputs[channel])
    tree.links.new(combine.outputs["Image"], nodes["index"].inputs[0])
    if shadow_catcher:
        view_layer.cycles.use_pass_shadow_catcher = True
        nodes["shadow"] = _exr_output(tree, work, SHADOW_PREFIX)
        tree.links.new(layers.outputs["Shadow Catcher"], nodes["shadow"].inputs[0])
    return nodes


def _exr_output(tree: bpy.types.NodeTree, work: Path, prefix: str) -> bpy.types.Node:
    out = tree.nodes.new("CompositorNodeOutputFile")
    out.base_path = str(work)
    out.format.file_format = "OPEN_EXR"
    out.format.color_depth = "32"
    out.format.color_mode = "RGB"
    out.file_slots[0].path = prefix
    return out


def label_pass(outputs: dict[str, bpy.types.Node]) -> None:
    """Settings of the label pass (see the module docstring)."""
    scene = bpy.context.scene
    cycles = scene.cycles
    cycles.samples = 1
    cycles.use_adaptive_sampling = False
    cycles.use_denoising = False
    cycles.max_bounces = 0
    cycles.transparent_max_bounces = 8  # see through alpha cut-outs as in the beauty pass
    cycles.filter_type = "BOX"
    cycles.filter_width = PIXEL_CENTRE_FILTER
    scene.render.use_motion_blur = False
    scene.render.film_transparent = False
    scene.render.image_settings.color_mode = "RGB"
    scene.camera.data.dof.use_dof = False
    _world_light_map(scene, None)  # no lighting is computed: skip the world's importance map
    outputs["index"].mute = False
    if "shadow" in outputs:
        outputs["shadow"].mute = True


def beauty_pass(outputs: dict[str, bpy.types.Node], render: RenderConfig, dof: bool, motion_blur: bool) -> None:
    """Settings of the beauty pass from the scenario; with a shadow catcher (backplates) the film is
    transparent and the RGBA output is composited over the photo afterwards."""
    scene = bpy.context.scene
    cycles = scene.cycles
    cycles.samples = render.samples
    cycles.use_adaptive_sampling = render.noise_threshold > 0
    if render.noise_threshold > 0:
        cycles.adaptive_threshold = render.noise_threshold
    cycles.use_denoising = render.denoiser == "oidn"
    if cycles.use_denoising:
        cycles.denoiser = "OPENIMAGEDENOISE"
        cycles.denoising_quality = "BALANCED"
        cycles.denoising_input_passes = DENOISE_GUIDES[render.denoise_guides]
        cycles.denoising_prefilter = render.denoise_prefilter.upper()
    cycles.use_light_tree = render.light_tree
    cycles.use_guiding = render.path_guiding  # Cycles guides paths on the CPU only, and ignores it on a GPU
    cycles.use_animated_seed = False
    cycles.max_bounces = render.max_bounces
    for name in ("diffuse_bounces", "glossy_bounces", "transmission_bounces", "volume_bounces"):
        setattr(cycles, name, render.max_bounces)
    cycles.transparent_max_bounces = max(8, render.max_bounces)
    cycles.filter_type = "BLACKMAN_HARRIS"
    cycles.filter_width = 1.5
    scene.render.use_motion_blur = motion_blur
    if motion_blur:
        scene.render.motion_blur_shutter = 1.0  # frames: keys sit half a frame either side
        scene.render.motion_blur_position = "CENTER"
    scene.camera.data.dof.use_dof = dof
    _world_light_map(scene, WORLD_MAP_RESOLUTION)
    outputs["index"].mute = True
    if "shadow" in outputs:
        outputs["shadow"].mute = False
        scene.render.film_transparent = True
        scene.render.image_settings.color_mode = "RGBA"


DENOISE_GUIDES = {"none": "RGB", "albedo": "RGB_ALBEDO", "albedo_normal": "RGB_ALBEDO_NORMAL"}
WORLD_MAP_RESOLUTION = 1024  # the world's importance map; Cycles' automatic choice took 1.6 s per render call


def _world_light_map(scene: bpy.types.Scene, resolution: int | None) -> None:
    """Importance-sample a textured world (an HDRI, a sky) with a map of ``resolution``, or not at
    all (``None``); a plain-colour world keeps Cycles' automatic choice."""
    if scene.world is None:
        return
    settings = scene.world.cycles
    textured = scene.world.use_nodes and any(node.type == "BACKGROUND" and node.inputs["Color"].is_linked
                                             for node in scene.world.node_tree.nodes)
    settings.sampling_method = "NONE" if resolution is None else ("MANUAL" if textured else "AUTOMATIC")
    if resolution is not None:
        settings.sample_map_resolution = resolution
