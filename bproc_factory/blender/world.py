"""The environment a session renders in: a designer .blend (opened once, reset between scenes)
or a photo backplate (a generated ground plane that catches shadows). Per-scene changes (world
light, swapped surface materials, randomised scene lights) are undone by ``reset``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy
import numpy as np

from bproc_factory.assets import SceneInfo, is_backplate, load_backplate
from bproc_factory.blender.materials import build_material, use_material
from bproc_factory.blender.scene import make_environment_background, open_scene, read_scene_info

GROUND_SIZE_M = 200.0


class Environment:
    """Loads the scene and applies / undoes the per-scene environment changes of a plan."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if is_backplate(path):
            self.info: SceneInfo = load_backplate(path)
            _build_ground()
        else:
            open_scene(path)
            self.info = read_scene_info(path)
        make_environment_background()
        self._world = _world_background()
        self._world_defaults = (list(self._world.inputs["Color"].default_value),
                                float(self._world.inputs["Strength"].default_value))
        self._undo: list[tuple[Any, str, Any]] = []  # (owner, attribute, value) to restore
        self._unlinked: list[bpy.types.NodeSocket] = []  # world colour inputs a planned colour replaced
        self._materials: list[bpy.types.Material] = []
        self._nodes: list[bpy.types.Node] = []  # sky or HDRI nodes of the current scene
        self._images: dict[str, bpy.types.Image] = {}  # HDRIs, loaded once per session

    @property
    def backplate(self) -> bool:
        return self.info.backplate is not None

    def apply(self, world: dict[str, Any], surfaces: dict[str, dict[str, Any]],
              scene_lights: dict[str, dict[str, Any]]) -> None:
        """Set the planned world light, swap surface materials and randomise scene lights."""
        if "color" in world:
            self._unlink_colour()
            self._world.inputs["Color"].default_value = (*world["color"], 1.0)
        if "strength" in world:
            self._world.inputs["Strength"].default_value = world["strength"]
        for kind, build in (("sky", self._sky), ("hdri", self._hdri)):
            if kind in world:
                self._unlink_colour()
                self._world.id_data.links.new(build(world[kind]), self._world.inputs["Color"])
                self._world.inputs["Strength"].default_value = world[kind]["strength"]
        for name, params in surfaces.items():
            obj = bpy.data.objects[name]
            material = build_material(f"bpf_surface_{name}", params)
            self._materials.append(material)
            for slot in obj.material_slots:
                self._remember(slot, "link")
                self._remember(slot, "material")
                use_material(slot, material)
        for name, values in scene_lights.items():
            light = bpy.data.objects[name].data
            self._remember(light, "energy")
            light.energy *= values["energy_scale"]
            if "color_rgb" in values:
                self._remember(light, "color")
                light.color = values["color_rgb"]

    def _unlink_colour(self) -> None:
        """Detach what feeds the world colour (e.g. the scene's environment texture), to restore later."""
        links = self._world.id_data.links
        for link in list(self._world.inputs["Color"].links):
            if link.from_node not in self._nodes:
                self._unlinked.append(link.from_socket)
            links.remove(link)

    def _sky(self, sky: dict[str, Any]) -> bpy.types.NodeSocket:
        """A Nishita sky node for the planned values; its sun disc is off (a sun lamp is the sun)."""
        node = self._new_node("ShaderNodeTexSky")
        node.sky_type = "NISHITA"
        node.sun_disc = False
        node.sun_elevation = np.radians(sky["sun_elevation_deg"])
        node.sun_rotation = np.radians(90.0 - sky["sun_azimuth_deg"])  # Nishita turns from +Y, clockwise
        node.air_density, node.dust_density, node.ozone_density = sky["air"], sky["dust"], sky["ozone"]
        return node.outputs["Color"]

    def _hdri(self, hdri: dict[str, Any]) -> bpy.types.NodeSocket:
        """An environment texture of the HDRI, turned ``rotation_deg`` about the vertical axis."""
        path = hdri["path"]
        if path not in self._images:
            self._images[path] = bpy.data.images.load(path, check_existing=True)
        coords = self._new_node("ShaderNodeTexCoord")
        mapping = self._new_node("ShaderNodeMapping")
        mapping.inputs["Rotation"].default_value = (0.0, 0.0, np.radians(hdri["rotation_deg"]))
        texture = self._new_node("ShaderNodeTexEnvironment")
        texture.image = self._images[path]
        links = self._world.id_data.links
        links.new(coords.outputs["Generated"], mapping.inputs["Vector"])
        links.new(mapping.outputs["Vector"], texture.inputs["Vector"])
        return texture.outputs["Color"]

    def _new_node(self, kind: str) -> bpy.types.Node:
        node = self._world.id_data.nodes.new(kind)
        self._nodes.append(node)
        return node

    def _remember(self, owner: Any, attribute: str) -> None:
        value = getattr(owner, attribute)
        self._undo.append((owner, attribute, tuple(value) if attribute == "color" else value))

    def reset(self) -> None:
        """Undo everything ``apply`` changed, newest first."""
        self._world.inputs["Color"].default_value = self._world_defaults[0]
        self._world.inputs["Strength"].default_value = self._world_defaults[1]
        for node in self._nodes:
            self._world.id_data.nodes.remove(node)
        self._nodes.clear()
        for socket in self._unlinked:
            self._world.id_data.links.new(socket, self._world.inputs["Color"])
        self._unlinked.clear()
        for owner, attribute, value in reversed(self._undo):
            setattr(owner, attribute, value)
        self._undo.clear()
        for material in self._materials:
            bpy.data.materials.remove(material)
        self._materials.clear()


def _world_background() -> bpy.types.Node:
    """The world's Background node, creating a plain world if the scene has none."""
    scene = bpy.context.scene
    if scene.world is None:
        scene.world = bpy.data.worlds.new("World")
    world = scene.world
    world.use_nodes = True
    node = world.node_tree.nodes.get("Background")
    if node is None:
        node = world.node_tree.nodes.new("ShaderNodeBackground")
        output = world.node_tree.nodes.get("World Output") or world.node_tree.nodes.new("ShaderNodeOutputWorld")
        world.node_tree.links.new(node.outputs["Background"], output.inputs["Surface"])
    return node


def _build_ground() -> None:
    """An empty scene with a large ground plane at z = 0 that only catches shadows."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    mesh = bpy.data.meshes.new("bpf_ground")
    half = GROUND_SIZE_M / 2
    mesh.from_pydata([(-half, -half, 0), (half, -half, 0), (half, half, 0), (-half, half, 0)], [], [(0, 1, 2, 3)])
    ground = bpy.data.objects.new("bpf_ground", mesh)
    ground.is_shadow_catcher = True
    bpy.context.scene.collection.objects.link(ground)
