"""Amodal masks and visibility (pure).

An instance's amodal mask is rendered, not estimated: a second index pass shows the scene's
objects without the environment, a few objects per frame. Objects share a frame only when their
projected convex hulls are disjoint, so no object can hide another there, and most scenes need two
or three frames per view. That pass renders an *amodal canvas*: the label canvas grown by a margin
on every side, so the part of an object outside the image is seen too (``truncated``). Its central
part goes through the same warp as the visible labels; each amodal mask is united with its visible
mask (the two passes draw their sub-pixel ray offsets independently, so a pixel grazed within
0.005 px could otherwise fall out of one of them).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from shapely.geometry import MultiPoint, Polygon

from bproc_factory.sensor import Canvas, warp_labels

NEAR_M = 1e-4  # hull points closer than this in front of the camera cannot be projected


@dataclass(frozen=True)
class AmodalCanvas:
    """The grown label canvas of the amodal pass, and which of its pixels fall inside the image."""

    K: np.ndarray
    width: int
    height: int
    pad_x: int
    pad_y: int
    inside: np.ndarray = field(repr=False)  # bool HxW: pixels that map into the output image


@dataclass(frozen=True)
class Visibility:
    """One instance's amodal mask in the output image and its visibility figures."""

    amodal: np.ndarray = field(repr=False)  # bool, output image size
    visible_px: int
    amodal_px: int
    truncated: float  # share of the amodal silhouette outside the image
    clipped: bool  # the silhouette reaches past the amodal canvas: ``truncated`` is a lower bound

    @property
    def visib_fract(self) -> float:
        return self.visible_px / self.amodal_px if self.amodal_px else 0.0


def projected_hull(points_world: np.ndarray, K: np.ndarray, cam_to_world: np.ndarray) -> Polygon | None:
    """The image-plane outline (pixels) of points seen by an OpenCV camera; ``None`` when a point
    is behind or too close to the camera (its projection is unbounded)."""
    world_to_cam = np.linalg.inv(cam_to_world)
    cam = points_world @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
    if np.any(cam[:, 2] <= NEAR_M):
        return None
    uv = cam[:, :2] / cam[:, 2:3] * np.diag(K)[:2] + K[:2, 2]
    return MultiPoint(uv).convex_hull


def frame_groups(hulls: dict[int, np.ndarray], K: np.ndarray, cam_to_world: np.ndarray,
                 margin_px: float = 2.0) -> list[list[int]]:
    """Instances grouped so that no two in a group overlap on screen (greedy colouring of their
    projected hulls, grown by ``margin_px``); an instance behind the camera plane goes alone."""
    groups: list[tuple[list[int], list[Polygon] | None]] = []
    for inst in sorted(hulls):
        outline = projected_hull(hulls[inst], K, cam_to_world)
        if outline is None:
            groups.append(([inst], None))
            continue
        outline = outline.buffer(margin_px)
        for members, outlines in groups:
            if outlines is not None and not any(outline.intersects(o) for o in outlines):
                members.append(inst)
                outlines.append(outline)
                break
        else:
            groups.append(([inst], [outline]))
    return [members for members, _ in groups]


def amodal_canvas(canvas: Canvas, margin: float) -> AmodalCanvas:
    """The label canvas of ``canvas`` grown by ``margin`` of its size on each side."""
    K, width, height = canvas.label_intrinsics()
    pad_x, pad_y = math.ceil(margin * width), math.ceil(margin * height)
    K = K.copy()
    K[0, 2] += pad_x
    K[1, 2] += pad_y
    w, h = width + 2 * pad_x, height + 2 * pad_y
    inside = np.zeros((h, w), np.uint8)
    if canvas.map_x is None:
        inside[pad_y:pad_y + height, pad_x:pad_x + width] = 1
    else:  # the image's border, traced through the warp onto the label canvas
        s = canvas.label_scale
        mx, my = canvas.map_x, canvas.map_y
        border = [(mx[0, :], my[0, :]), (mx[:, -1], my[:, -1]), (mx[-1, ::-1], my[-1, ::-1]),
                  (mx[::-1, 0], my[::-1, 0])]
        xs = np.concatenate([b[0] for b in border])
        ys = np.concatenate([b[1] for b in border])
        outline = np.stack([(xs + 0.5) * s - 0.5 + pad_x, (ys + 0.5) * s - 0.5 + pad_y], axis=1)
        cv2.fillPoly(inside, [np.round(outline).astype(np.int32)], 1)
    return AmodalCanvas(K=K, width=w, height=h, pad_x=pad_x, pad_y=pad_y, inside=inside.astype(bool))


def visibilities(canvas: Canvas, grown: AmodalCanvas, frames: list[np.ndarray], visible: np.ndarray,
                 instances: list[int]) -> dict[int, Visibility]:
    """Amodal masks and figures of ``instances`` from the amodal frames (index maps on the grown
    canvas) and the visible instance map of the output image."""
    label_w, label_h = grown.width - 2 * grown.pad_x, grown.height - 2 * grown.pad_y
    border = np.ones(grown.inside.shape, bool)
    border[1:-1, 1:-1] = False
    found: dict[int, Visibility] = {}
    for frame in frames:
        centre = warp_labels(canvas, np.ascontiguousarray(
            frame[grown.pad_y:grown.pad_y + label_h, grown.pad_x:grown.pad_x + label_w]))
        for inst in (int(v) for v in np.unique(frame) if v != 0):
            if inst not in instances:
                continue
            full = frame == inst
            total = int(full.sum())
            outside = int((full & ~grown.inside).sum())
            seen = visible == inst
            amodal = (centre == inst) | seen
            found[inst] = Visibility(amodal=amodal, visible_px=int(seen.sum()), amodal_px=int(amodal.sum()),
                                     truncated=outside / total, clipped=bool((full & border).any()))
    for inst in instances:
        if inst not in found:  # nothing of it on the grown canvas: wholly outside the image
            seen = visible == inst
            found[inst] = Visibility(amodal=seen, visible_px=int(seen.sum()), amodal_px=int(seen.sum()),
                                     truncated=1.0 if not seen.any() else 0.0, clipped=not seen.any())
    return found
