"""``preview``: a few small, fast renders of a config shown as one contact sheet with masks."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import cv2

from bproc_factory.config import load_scenario
from bproc_factory.dataset import annotations_by_image, category_names, check_picture_path, open_dataset, write_picture
from bproc_factory.qa import grid, overlay
from bproc_factory.run.job import RunSummary, render_dataset
from bproc_factory.shipped import shipped


def preview_overrides(config: Path, overrides: tuple[str, ...], width: int, samples: int) -> tuple[str, ...]:
    """Overrides that shrink the camera to ``width`` pixels (the loader scales K to match) and cut
    samples."""
    cam = load_scenario(config, overrides).scenario.camera
    if cam is None:  # a photo backplate: its size is the photo's
        return (*overrides, f"render.samples={samples}", "render.noise_threshold=0.1")
    w, h = cam.resolution
    scale = min(1.0, width / w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    return (*overrides, f"camera.resolution=[{new_w}, {new_h}]", f"render.samples={samples}",
            "render.noise_threshold=0.1")


DESIGNER_PREVIEW = "designer-preview.yaml"  # the shipped scenario a preview without a config uses


def render_preview(config: Path | None, target: Path, count: int = 6, width: int = 320, samples: int = 8,
                   seed: int = 0, overrides: tuple[str, ...] = (), scene: Path | None = None) -> RunSummary:
    """Render ``count`` small images of the config (default: the designer preview, demo assets in
    ``scene``) and write them, labelled, as one PNG; ``scene`` replaces the config's scene."""
    check_picture_path(target, "-o")
    config = shipped("configs") / DESIGNER_PREVIEW if config is None else config
    if scene is not None:  # absolute, as a JSON string (valid YAML): the config's folder does not move it
        overrides = (*overrides, f"scene={json.dumps(str(Path(scene).absolute()))}")
    work = Path(tempfile.mkdtemp(prefix="bpf_preview_"))
    try:
        summary = render_dataset(config, work, count, seed=seed,
                                 overrides=preview_overrides(config, overrides, width, samples))
        dataset, _, coco = open_dataset(work)
        names = category_names(coco)
        by_image = annotations_by_image(coco)
        tiles, captions = [], []
        for im in coco["images"]:
            image = cv2.imread(str(dataset.image_path(im["id"])))
            mask = cv2.imread(str(dataset.mask_path(im["id"])), cv2.IMREAD_UNCHANGED)
            tiles += [image, overlay(image, mask, by_image.get(im["id"], []), names)]
            captions += [f"#{im['id']}", f"#{im['id']} labels"]
        tile = (tiles[0].shape[1], tiles[0].shape[0])
        write_picture(target, grid(tiles, 4, tile, captions), "-o")
        return summary
    finally:
        shutil.rmtree(work, ignore_errors=True)
