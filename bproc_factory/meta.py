"""The per-image meta record (pure): seeds, every sampled value, camera, objects, provenance.

Nothing time- or host-dependent goes in, so re-rendering an image reproduces its meta exactly.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from bproc_factory.plan import ScenePlan, ViewPlan


def _mat(m: np.ndarray) -> list[list[float]]:
    return [[float(v) for v in row] for row in np.asarray(m)]


def image_meta(run_seed: int, plan: ScenePlan, view: ViewPlan, file_name: str,
               category_ids: dict[str, int], annotations: list[dict[str, Any]],
               provenance: dict[str, Any], subset: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything needed to trace, re-render or re-label image ``view.image_index``."""
    visible = {a["instance_id"]: a["area"] for a in annotations}
    extra = {"subset": subset} if subset is not None else {}
    return {**extra,
        "image_index": view.image_index,
        "file_name": file_name,
        "width": view.width,
        "height": view.height,
        "run_seed": run_seed,
        "image_seed": view.image_seed,
        "scene_index": plan.scene_index,
        "scene_seed": plan.scene_seed,
        "view_index": view.view_index,
        "cycles_seed": plan.cycles_seed,
        "camera": {"K": _mat(view.K), "dist": list(view.distortion["coeffs"]) if view.distortion else [0.0] * 5,
                   "model": view.distortion["model"] if view.distortion else "brown_conrady",
                   "width": view.width, "height": view.height, "cam_to_world": _mat(view.cam_to_world),
                   "convention": "opencv: x right, y down, z forward"},
        "objects": [{"instance_id": o.instance_id, "asset": o.asset.name, "category": o.category,
                     "category_id": category_ids[o.category], "asset_sha256": o.asset.sha256,
                     "obj_to_world": _mat(o.obj_to_world),
                     "visible_pixels": visible.get(o.instance_id, 0)} for o in plan.objects],
        "lights": [{"type": lt.type, "energy_w": lt.energy_w, "color_rgb": list(lt.color_rgb),
                    "light_to_world": _mat(lt.light_to_world)} for lt in plan.lights],
        "sampled": {"view": view.sampled, "sensor": view.sensor, "lens": view.lens,
                    "objects": [o.sampled for o in plan.objects],
                    "lights": [lt.sampled for lt in plan.lights], "world": plan.world,
                    "surfaces": plan.surfaces, "scene_lights": plan.scene_lights},
        "provenance": provenance,
        "annotations": annotations,
    }
