"""The environment a session renders in: a designer .blend (opened once, reset between scenes)
or a photo backplate (a generated ground plane that catches shadows). Per-scene changes (world
light, swapped surface materials, randomised scene lights) are undone by ``reset``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy

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

    @property
    def backplate(self) -> bool:
        return self.info.backplate is not None

    def apply(self, world: dict[str, Any], surfaces: dict[str, dict[str, Any]],
              scene_lights: dict[str, dict[str, Any]]) -> None:
        """Set the planned world light, swap surface materials and randomise scene lights."""
        if "color" in world:
            links = self._world.id_data.links
            for link in list(self._world.inputs["Color"].links):  # e.g. an environment texture
                self._unlinked.append(link.from_socket)
                links.remove(link)
            self._world.inputs["Color"].default_value = (*world["color"], 1.0)
        if "strength" in world:
            self._world.inputs["Strength"].default_value = world["strength"]
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

    def _remember(self, owner: Any, attribute: str) -> None:
        value = getattr(owner, attribute)
        self._undo.append((owner, attribute, tuple(value) if attribute == "color" else value))

    def reset(self) -> None:
        """Undo everything ``apply`` changed, newest first."""
        self._world.inputs["Color"].default_value = self._world_defaults[0]
        self._world.inputs["Strength"].default_value = self._world_defaults[1]
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
