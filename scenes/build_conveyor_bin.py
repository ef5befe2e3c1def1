"""Build ``scenes/conveyor_bin.blend``: a tote bin on a conveyor belt, seen from above.
Run: ``python scenes/build_conveyor_bin.py [OUT.blend]``.

Marks: the bin's inner floor and the belt beside it are placement areas (bin_floor, belt); the
bin's walls are occluders; the camera target is the bin's centre; the camera stays in a box over
the belt; the strip light may be randomised; belt, bin and floor may be re-materialed.
"""
from __future__ import annotations

from pathlib import Path

import scene_kit as kit

BELT_Z = 0.8
BIN = (0.6, 0.4, 0.18)  # outer size
WALL = 0.015


def build(out: Path) -> None:
    c = kit.new_scene()
    rubber, plastic, steel = kit.material("rubber", 21), kit.material("plastic", 22), kit.material("brushed_steel", 23)
    kit.box("floor", (8.0, 8.0, 0.02), (0.0, 0.0, -0.01), kit.material("concrete", 24),
            c["environment"], c["bpf_materials"])
    kit.box("frame", (3.0, 0.7, BELT_Z - 0.02), (0.0, 0.0, (BELT_Z - 0.02) / 2), steel, c["environment"], c["bpf_props"])
    kit.box("belt_surface", (3.0, 0.6, 0.02), (0.0, 0.0, BELT_Z - 0.01), rubber, c["environment"], c["bpf_materials"])
    bx, by, bz = BIN
    x0 = -0.5  # the bin sits on the left part of the belt
    kit.box("bin_bottom", (bx - 2 * WALL, by - 2 * WALL, WALL), (x0, 0.0, BELT_Z + WALL / 2), plastic,
            c["environment"], c["bpf_materials"])
    for name, size, dx, dy in (("bin_wall_front", (bx, WALL, bz), 0.0, -(by - WALL) / 2),
                               ("bin_wall_back", (bx, WALL, bz), 0.0, (by - WALL) / 2),
                               ("bin_wall_left", (WALL, by, bz), -(bx - WALL) / 2, 0.0),
                               ("bin_wall_right", (WALL, by, bz), (bx - WALL) / 2, 0.0)):
        kit.box(name, size, (x0 + dx, dy, BELT_Z + bz / 2), plastic, c["environment"], c["bpf_occluders"],
                c["bpf_materials"])
    # placement markers (never rendered): the free part of the belt, and the inside of the bin
    for name, size, centre in (("belt", (1.6, 0.56, 0.001), (0.65, 0.0, BELT_Z + 0.0005)),
                               ("bin_floor", (bx - 2 * WALL - 0.01, by - 2 * WALL - 0.01, 0.001),
                                (x0, 0.0, BELT_Z + WALL + 0.0005))):
        kit.box(name, size, centre, None, c["bpf_placement"]).hide_render = True
    kit.camera_target((x0 + 0.25, 0.0, BELT_Z + 0.05), c["bpf_camera_target"])
    kit.camera_region("over_belt", (2.4, 1.6, 1.0), (0.0, -0.2, BELT_Z + 0.8), c["bpf_camera_region"])
    kit.area_light("strip_light", 50.0, 0.6, (0.0, 0.0, BELT_Z + 1.4), (0.0, 0.0, 0.0),
                   c["environment"], c["bpf_lights"])
    kit.world((0.6, 0.62, 0.66), 0.25)
    kit.save(out)


if __name__ == "__main__":
    kit.main(build, "conveyor_bin.blend")
