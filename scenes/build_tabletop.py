"""Build ``scenes/tabletop.blend``: a wooden table in a room corner (a workbench), the default
environment. Run: ``python scenes/build_tabletop.py [OUT.blend]``.

Marks: the table top is the placement area; an empty at its centre is the camera target; the
camera stays in the room in front of the table; the ceiling light may be randomised; the floor,
walls and table top may have their materials swapped.
"""
from __future__ import annotations

from pathlib import Path

import scene_kit as kit

TABLE = (1.2, 0.8)
TOP_Z = 0.75


def build(out: Path) -> None:
    c = kit.new_scene()
    wood, floor, wall = kit.material("wood", 1), kit.material("concrete", 2), kit.material("painted_metal", 3)
    kit.box("floor", (6.0, 6.0, 0.02), (0.0, 0.0, -0.01), floor, c["environment"], c["bpf_materials"])
    kit.box("wall_back", (6.0, 0.05, 3.0), (0.0, 1.6, 1.5), wall, c["environment"], c["bpf_materials"])
    kit.box("wall_left", (0.05, 6.0, 3.0), (-2.0, 0.0, 1.5), wall, c["environment"], c["bpf_materials"])
    thickness = 0.04
    kit.box("table_top", (*TABLE, thickness), (0.0, 0.0, TOP_Z - thickness / 2), wood,
            c["environment"], c["bpf_placement"], c["bpf_materials"])
    leg = TOP_Z - thickness
    for sx in (-1, 1):
        for sy in (-1, 1):
            kit.box(f"table_leg_{sx:+d}{sy:+d}", (0.05, 0.05, leg),
                    (sx * (TABLE[0] / 2 - 0.06), sy * (TABLE[1] / 2 - 0.06), leg / 2), wood,
                    c["environment"], c["bpf_props"])
    kit.camera_target((0.0, 0.0, TOP_Z), c["bpf_camera_target"])
    kit.camera_region("camera_region", (3.8, 4.0, 1.9), (0.0, -0.5, 1.75), c["bpf_camera_region"])
    kit.area_light("ceiling_light", 40.0, 1.0, (0.3, -0.3, 2.6), (0.0, 0.0, 0.0), c["environment"], c["bpf_lights"])
    kit.world((0.55, 0.6, 0.7), 0.4)
    kit.save(out)


if __name__ == "__main__":
    kit.main(build, "tabletop.blend")
