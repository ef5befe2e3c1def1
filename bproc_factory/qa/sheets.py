"""Contact sheets: images with their instance masks tinted, outlined, boxed and captioned."""
from __future__ import annotations

from typing import Any

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX


def palette(n: int) -> np.ndarray:
    """``n`` well-separated BGR colours (golden-ratio hues), the same for every call."""
    hues = (np.arange(n) * 0.618033988749895 % 1.0 * 180).astype(np.uint8)
    hsv = np.stack([hues, np.full(n, 200, np.uint8), np.full(n, 255, np.uint8)], axis=1)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0].astype(np.int32)


def overlay(image_bgr: np.ndarray, mask: np.ndarray, annotations: list[dict[str, Any]],
            names: dict[int, str], alpha: float = 0.5) -> np.ndarray:
    """The image with each annotated instance tinted, outlined, boxed and labelled by category."""
    out = image_bgr.copy()
    colours = palette(max([int(mask.max())] + [a["instance_id"] for a in annotations]) + 1)
    for ann in annotations:
        binary = mask == ann["instance_id"]
        colour = colours[ann["instance_id"]]
        out[binary] = ((1 - alpha) * out[binary] + alpha * colour).astype(np.uint8)
        contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, colour.tolist(), 1)
        x, y, w, h = ann["bbox"]
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), (255, 255, 255), 1)
        caption(out, names.get(ann["category_id"], str(ann["category_id"])), (x, max(y - 3, 9)))
    return out


def caption(image: np.ndarray, text: str, origin: tuple[int, int], scale: float = 0.4) -> None:
    """White text with a dark outline, readable on any background."""
    cv2.putText(image, text, origin, FONT, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, origin, FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)


def footer(cell: np.ndarray, text: str, scale: float = 0.45) -> None:
    """``text`` on a black strip along the cell's bottom, shrunk to the cell's width (outlined
    captions of 160 px tiles ran off the tile and into the image)."""
    width = cell.shape[1]
    (tw, th), _ = cv2.getTextSize(text, FONT, scale, 1)
    if tw > width - 8:
        scale *= (width - 8) / tw
        (tw, th), _ = cv2.getTextSize(text, FONT, scale, 1)
    cv2.rectangle(cell, (0, cell.shape[0] - th - 10), (width, cell.shape[0]), (0, 0, 0), -1)
    cv2.putText(cell, text, (4, cell.shape[0] - 6), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)


def fit(tile: np.ndarray, width: int, height: int) -> np.ndarray:
    """``tile`` scaled to fit ``width`` x ``height`` and centred on a dark canvas."""
    scale = min(width / tile.shape[1], height / tile.shape[0])
    resized = cv2.resize(tile, (max(1, round(tile.shape[1] * scale)), max(1, round(tile.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST)
    canvas = np.full((height, width, 3), 32, np.uint8)
    y, x = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    canvas[y:y + resized.shape[0], x:x + resized.shape[1]] = resized
    return canvas


def grid(tiles: list[np.ndarray], columns: int, tile_size: tuple[int, int],
         captions: list[str] | None = None) -> np.ndarray:
    """Tiles laid out in rows of ``columns``, each fitted to ``tile_size`` (width, height)."""
    w, h = tile_size
    cells = [fit(t, w, h) for t in tiles]
    for cell, text in zip(cells, captions or []):
        footer(cell, text)
    while len(cells) % columns:
        cells.append(np.full((h, w, 3), 32, np.uint8))
    rows = [np.hstack(cells[r:r + columns]) for r in range(0, len(cells), columns)]
    return np.vstack(rows) if rows else np.full((h, w, 3), 32, np.uint8)


def instance_tile(image: np.ndarray, mask: np.ndarray, instance_id: int, bbox: list[int],
                  size: int = 160, margin: float = 1.0, minimum: int = 24) -> np.ndarray:
    """A square close-up of one instance, enlarged with visible pixels, its mask outlined."""
    x, y, w, h = bbox
    side = max(minimum, int(max(w, h) * (1 + 2 * margin)))
    x0 = int(np.clip(x + w / 2 - side / 2, 0, max(0, image.shape[1] - side)))
    y0 = int(np.clip(y + h / 2 - side / 2, 0, max(0, image.shape[0] - side)))
    crop = image[y0:y0 + side, x0:x0 + side]
    binary = (mask[y0:y0 + side, x0:x0 + side] == instance_id).astype(np.uint8)
    scale = size / max(crop.shape[:2])
    dsize = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    crop = cv2.resize(crop, dsize, interpolation=cv2.INTER_NEAREST)
    binary = cv2.resize(binary, dsize, interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(crop, contours, -1, (0, 255, 255), 2)
    return crop
