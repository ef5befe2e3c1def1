"""Light plans -> Blender lights in the session's collection."""
from __future__ import annotations

import bpy
import numpy as np
from mathutils import Matrix

from bproc_factory.blender.bootstrap import api
from bproc_factory.blender.objects import move_to
from bproc_factory.plan import LightPlan


def add_light(collection: bpy.types.Collection, k: int, plan: LightPlan) -> bpy.types.Object:
    """The ``k``-th planned light: type, energy, colour, pose and its type's size or angle."""
    light = api().types.Light(light_type=plan.type.upper(), name=f"bpf_light_{k}")
    light.set_energy(plan.energy_w)
    light.set_color(list(plan.color_rgb))
    light.set_local2world_mat(Matrix(plan.light_to_world.tolist()))
    data = light.blender_obj.data
    if plan.type == "sun":
        data.angle = np.radians(plan.sampled["sun_angle_deg"])
    elif plan.type == "area":
        data.size = plan.sampled["size_m"]
    else:
        data.shadow_soft_size = plan.sampled["size_m"]
    if plan.type == "spot":
        data.spot_size = np.radians(plan.sampled["spot_angle_deg"])
    move_to(collection, light.blender_obj)
    return light.blender_obj
