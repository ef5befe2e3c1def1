"""Asset meshes as Blender datablocks, built from the same trimesh load the planner uses.

Building the mesh from arrays (rather than Blender's importers) keeps the vertex data exactly in
the file's coordinates for every format, so ``obj_to_world`` is the object's whole transform.
"""
from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import trimesh

from bproc_factory.assets import Asset, load_mesh


class MeshLibrary:
    """Caches one Blender mesh (with its material) per asset for the life of the open file."""

    def __init__(self, texture_dir: Path) -> None:
        self._meshes: dict[Path, bpy.types.Mesh] = {}
        self._texture_dir = texture_dir

    def mesh(self, asset: Asset) -> bpy.types.Mesh:
        if asset.folder not in self._meshes:
            self._meshes[asset.folder] = self._build(asset)
        return self._meshes[asset.folder]

    def _build(self, asset: Asset) -> bpy.types.Mesh:
        tm = load_mesh(asset.mesh_path)
        me = bpy.data.meshes.new(f"bpf_{asset.name}")
        verts = np.asarray(tm.vertices, dtype=np.float32)
        faces = np.asarray(tm.faces, dtype=np.int32)
        me.vertices.add(len(verts))
        me.vertices.foreach_set("co", verts.ravel())
        me.loops.add(faces.size)
        me.loops.foreach_set("vertex_index", faces.ravel())
        me.polygons.add(len(faces))
        me.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
        me.polygons.foreach_set("use_smooth", np.ones(len(faces), dtype=bool))
        me.update(calc_edges=True)
        me.validate(clean_customdata=False)
        # Smooth shading with the file's normals (trimesh averages face normals when it has none).
        me.normals_split_custom_set_from_vertices(np.asarray(tm.vertex_normals, dtype=np.float32))
        image, colours = _visuals(tm)
        uv = getattr(tm.visual, "uv", None)
        if uv is not None and len(uv) == len(verts):
            layer = me.uv_layers.new(name="UVMap")
            layer.data.foreach_set("uv", np.asarray(uv, dtype=np.float32)[faces.ravel()].ravel())
        if colours is not None:
            attr = me.color_attributes.new("Col", "FLOAT_COLOR", "POINT")
            attr.data.foreach_set("color", (colours / 255.0).astype(np.float32).ravel())
        me.materials.append(self._material(asset, tm, image, colours is not None and image is None))
        return me

    def _material(self, asset: Asset, tm: trimesh.Trimesh, image, use_vertex_colours: bool):
        mat = bpy.data.materials.new(f"bpf_{asset.name}")
        mat.use_nodes = True
        nodes, links = mat.node_tree.nodes, mat.node_tree.links
        bsdf = nodes["Principled BSDF"]
        base, roughness, metallic = _pbr_factors(tm)
        bsdf.inputs["Base Color"].default_value = base
        bsdf.inputs["Roughness"].default_value = roughness
        bsdf.inputs["Metallic"].default_value = metallic
        if image is not None:
            path = self._texture_dir / f"{len(self._meshes)}_{asset.name}.png"
            image.save(path)
            tex = nodes.new("ShaderNodeTexImage")
            tex.image = bpy.data.images.load(str(path))
            tex.image.pack()
            links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
        elif use_vertex_colours:
            attr = nodes.new("ShaderNodeVertexColor")
            attr.layer_name = "Col"
            links.new(attr.outputs["Color"], bsdf.inputs["Base Color"])
        return mat


def _visuals(tm: trimesh.Trimesh):
    """The base-colour texture (PIL image) and per-vertex colours (N x 4 uint8), when present."""
    visual = tm.visual
    if visual.kind == "texture":
        material = visual.material
        image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
        return (image.convert("RGBA") if image is not None else None), None
    if visual.kind == "vertex":
        return None, np.asarray(visual.vertex_colors, dtype=np.float32)
    return None, None


def _pbr_factors(tm: trimesh.Trimesh) -> tuple[list[float], float, float]:
    """Base colour (linear RGBA), roughness and metallic from the file's material; a base-colour
    texture, when present, replaces the colour factor."""
    material = getattr(tm.visual, "material", None)
    base, roughness, metallic = [0.8, 0.8, 0.8, 1.0], 0.5, 0.0
    if isinstance(material, trimesh.visual.material.PBRMaterial):
        factor = material.baseColorFactor
        roughness = 0.5 if material.roughnessFactor is None else float(material.roughnessFactor)
        metallic = 0.0 if material.metallicFactor is None else float(material.metallicFactor)
    elif isinstance(material, trimesh.visual.material.SimpleMaterial):
        factor = material.diffuse  # OBJ Kd
    else:
        factor = None
    if factor is not None:
        rgba = [float(c) / 255.0 for c in factor]
        base = [_srgb_to_linear(c) for c in rgba[:3]] + [rgba[3]]
    if _visuals(tm)[0] is not None:
        base = [1.0, 1.0, 1.0, 1.0]
    return base, roughness, metallic


def _srgb_to_linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

