"""Build ``scenes/retail_shelf.blend``: a three-shelf retail gondola against a wall.
Run: ``python scenes/build_retail_shelf.py [OUT.blend]``.

Marks: each shelf board's top is a placement area (shelf_1..3, bottom to top); the side panels
are occluders; the camera target is the middle shelf's front; the camera stays in the aisle in
front; the two ceiling lights may be randomised; shelves, back panel and floor may be re-materialed.
"""
from __future__ import annotations

from pathlib import Path

import scene_kit as kit

WIDTH, DEPTH = 1.2, 0.4
SHELF_Z = (0.35, 0.75, 1.15)


def build(out: Path) -> None:
    c = kit.new_scene()
    metal, panel, floor = kit.material("painted_metal", 11), kit.material("painted_metal", 12), kit.material("concrete", 13)
    kit.box("floor", (8.0, 8.0, 0.02), (0.0, 0.0, -0.01), floor, c["environment"], c["bpf_materials"])
    kit.box("wall", (8.0, 0.05, 3.0), (0.0, DEPTH / 2 + 0.3, 1.5), kit.material("concrete", 14), c["environment"])
    kit.box("back_panel", (WIDTH, 0.02, 1.5), (0.0, DEPTH / 2, 0.75), panel,
            c["environment"], c["bpf_props"], c["bpf_materials"])
    for side in (-1, 1):
        kit.box(f"side_panel_{'left' if side < 0 else 'right'}", (0.03, DEPTH, 1.5),
                (side * (WIDTH / 2 + 0.015), 0.0, 0.75), panel, c["environment"], c["bpf_occluders"])
    kit.box("base", (WIDTH, DEPTH, 0.1), (0.0, 0.0, 0.05), panel, c["environment"], c["bpf_props"])
    for k, z in enumerate(SHELF_Z, 1):
        kit.box(f"shelf_{k}", (WIDTH, DEPTH, 0.02), (0.0, 0.0, z - 0.01), metal,
                c["environment"], c["bpf_placement"], c["bpf_materials"])
    kit.camera_target((0.0, -DEPTH / 2, SHELF_Z[1] + 0.1), c["bpf_camera_target"])
    kit.camera_region("aisle", (3.0, 1.6, 1.5), (0.0, -1.3, 1.1), c["bpf_camera_region"])
    for k, x in enumerate((-0.8, 0.8)):
        kit.area_light(f"ceiling_light_{k}", 120.0, 1.2, (x, -1.0, 2.8), (0.3, 0.0, 0.0),
                       c["environment"], c["bpf_lights"])
    kit.world((0.7, 0.72, 0.75), 0.3)
    kit.save(out)


if __name__ == "__main__":
    kit.main(build, "retail_shelf.blend")
