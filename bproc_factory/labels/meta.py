"""The per-image meta record (pure): seeds, every sampled value, camera, objects, provenance.

Nothing time- or host-dependent goes in, so re-rendering an image reproduces its meta exactly.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from bproc_factory.labels.amodal import Visibility
from bproc_factory.plan import ObjectPlan, ScenePlan, ViewPlan


def _mat(m: np.ndarray) -> list[list[float]]:
    return [[float(v) for v in row] for row in np.asarray(m)]


def image_meta(run_seed: int, plan: ScenePlan, view: ViewPlan, file_name: str,
               category_ids: dict[str, int], annotations: list[dict[str, Any]],
               provenance: dict[str, Any], subset: dict[str, Any] | None = None,
               fate: dict[int, str] | None = None, visibility: dict[int, Visibility] | None = None,
               occlusion: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything needed to trace, re-render or re-label image ``view.image_index``."""
    visible = {a["instance_id"]: a["area"] for a in annotations}
    extra: dict[str, Any] = {"subset": subset} if subset is not None else {}
    if occlusion is not None:
        extra["occlusion"] = occlusion
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
        "objects": [_object(o, category_ids, (fate or {}).get(o.instance_id, "not visible"),
                            (visibility or {}).get(o.instance_id), visible.get(o.instance_id, 0), view.cam_to_world)
                    for o in plan.objects],
        "lights": [{"type": lt.type, "energy_w": lt.energy_w, "color_rgb": list(lt.color_rgb),
                    "light_to_world": _mat(lt.light_to_world)} for lt in plan.lights],
        "sampled": {"view": view.sampled, "sensor": view.sensor, "lens": view.lens,
                    "objects": [o.sampled for o in plan.objects],
                    "lights": [lt.sampled for lt in plan.lights], "world": _portable(plan.world),
                    "surfaces": plan.surfaces, "scene_lights": plan.scene_lights},
        "provenance": provenance,
        "annotations": annotations,
    }


def developed_meta(meta: dict[str, Any], file_name: str, sensor: dict[str, Any], lens: dict[str, Any],
                   config_sha256: str, subset: dict[str, Any] | None) -> dict[str, Any]:
    """An image's meta for new post-render settings (``develop``): its file name, sampled sensor and
    lens values, config hash and subset replaced, as ``image_meta`` would write them for a render."""
    kept = {k: v for k, v in meta.items() if k != "subset"}
    out = {**({"subset": subset} if subset is not None else {}), **kept}
    out["file_name"] = file_name
    out["sampled"] = {**meta["sampled"], "sensor": sensor, "lens": lens}
    out["provenance"] = {**meta["provenance"], "config_sha256": config_sha256}
    return out


def _object(o: ObjectPlan, category_ids: dict[str, int], fate: str, vis: Visibility | None,
            visible_px: int, cam_to_world: np.ndarray) -> dict[str, Any]:
    """One placed object: what it is, where, and how it was labelled in this image and why."""
    background = o.label == "background"
    out: dict[str, Any] = {
        "instance_id": o.instance_id, "asset": o.asset.name, "category": None if background else o.category,
        "category_id": 0 if background else category_ids[o.category], "asset_sha256": o.asset.sha256,
        "obj_to_world": _mat(o.obj_to_world), "label": "background" if background else fate,
        "visible_pixels": visible_px}
    if o.asset.billboard is not None:  # the card shown: which captured view stood in for the object
        card = o.asset.billboard.cards[o.asset.billboard.facing(o.obj_to_world, cam_to_world)[1]]
        out["billboard"] = {"card": card.path.name, "angle_deg": card.angle_deg, "offset_m": card.offset_m}
    if vis is not None:
        out.update({"visible_pixels": vis.visible_px, "amodal_pixels": vis.amodal_px,
                    "visib_fract": round(vis.visib_fract, 6), "truncated": round(vis.truncated, 6),
                    "truncated_is_lower_bound": vis.clipped})
    return out


def _portable(world: dict[str, Any]) -> dict[str, Any]:
    """The world as meta records it: an HDRI by file name and hash, not by this machine's path."""
    if "hdri" not in world:
        return world
    return {**world, "hdri": {k: v for k, v in world["hdri"].items() if k != "path"}}
