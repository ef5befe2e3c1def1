"""Object plans -> Blender objects: each instance from its asset's mesh (or billboard card), posed,
labelled with its pass index and given its own material where the plan has one."""
from __future__ import annotations

import bpy
from mathutils import Matrix

from bproc_factory.blender.billboards import CardLibrary
from bproc_factory.blender.bootstrap import api
from bproc_factory.blender.materials import apply_finish, build_material, use_material
from bproc_factory.blender.meshes import MeshLibrary
from bproc_factory.plan import ObjectPlan


def move_to(collection: bpy.types.Collection, obj: bpy.types.Object) -> None:
    """Move a newly created object from the context collection into ``collection``."""
    bpy.context.collection.objects.unlink(obj)
    collection.objects.link(obj)


def add_object(plan: ObjectPlan, meshes: MeshLibrary, cards: CardLibrary, collection: bpy.types.Collection,
               materials: list[bpy.types.Material]) -> bpy.types.Object:
    """The planned instance in ``collection``; a material made for it is appended to ``materials``."""
    mesh = cards.mesh(plan.asset) if plan.asset.billboard else meshes.mesh(plan.asset)
    mesh_obj = api().object.create_from_blender_mesh(mesh, f"bpf_{plan.instance_id:04d}_{plan.asset.name}")
    obj = mesh_obj.blender_obj
    move_to(collection, obj)
    mesh_obj.set_local2world_mat(Matrix(plan.obj_to_world.tolist()))
    obj.pass_index = 0 if plan.label == "background" else plan.instance_id
    material = None
    if plan.asset.billboard:  # its own copy: each instance shows its own card per frame
        material = mesh.materials[0].copy()
    elif plan.material is not None:
        material = build_material(f"bpf_{plan.instance_id:04d}_material", plan.material)
    if material is not None:
        materials.append(material)
        use_material(obj.material_slots[0], material)
    elif plan.finish:
        for slot in obj.material_slots:
            if slot.material is not None:
                finished = apply_finish(slot.material.copy(), plan.finish)
                materials.append(finished)
                use_material(slot, finished)
    return obj
