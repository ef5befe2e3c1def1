"""Foreign objects from single images: each photo (a product shot, a generated image) of a
different item becomes a billboard-only asset with one card, so users can add novel items
without a video. The card shows the same view from every azimuth, like a cardboard cut-out."""
from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import cv2

from bproc_factory.errors import IngestError
from bproc_factory.ingest import billboard
from bproc_factory.ingest.frames import PHOTO_SUFFIXES, Frame
from bproc_factory.ingest.pipeline import IngestOptions, IngestSummary, Progress, write_asset
from bproc_factory.ingest.segment import clean_mask, make_segmenter, sanity_check
from bproc_factory.ingest.turntable import TurntableGeometry, ViewGeometry


def ingest_each(folder: Path, opts: IngestOptions, progress: Progress = lambda *_: None
                ) -> tuple[list[IngestSummary], dict[str, str]]:
    """One billboard asset per photo in ``folder``, named ``<opts.name>_<file stem>`` (or the stem);
    returns the summaries and, per photo that could not be used, the reason."""
    if not folder.is_dir():
        raise IngestError(f"{folder}: --each needs a folder of photos")
    if not opts.height_m:
        raise IngestError(f"{folder}: --each needs --height-m (a single photo has no scale)")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    if not paths:
        raise IngestError(f"{folder}: no photos ({', '.join(sorted(PHOTO_SUFFIXES))}) in this folder")
    segmenter = make_segmenter(opts.segmenter)
    done, failed = [], {}
    for k, path in enumerate(paths):
        progress("cutting out", k, len(paths))
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{opts.name}_{path.stem}" if opts.name else path.stem)
        try:
            done.append(_one(path, dataclasses.replace(opts, name=name), segmenter))
        except IngestError as exc:
            failed[path.name] = str(exc)
    progress("cutting out", len(paths), len(paths))
    if not done:
        raise IngestError(f"{folder}: no photo gave an asset: "
                          + "; ".join(f"{n}: {r}" for n, r in failed.items()))
    return done, failed


def _one(path: Path, opts: IngestOptions, segmenter) -> IngestSummary:
    t0 = time.perf_counter()
    final = opts.assets_dir / opts.name
    if final.exists() and not opts.force:
        raise IngestError(f"{final}: already exists (pass --force to replace it)")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise IngestError(f"{path}: not a readable image")
    result = clean_mask(image, segmenter.probability(image))
    bad = sanity_check({0: result.mask})
    if bad:
        raise IngestError(f"{path}: {bad[0]}")
    frame = Frame(0, image, path.name)
    geometry = TurntableGeometry("single photo", None, {0: ViewGeometry(None, 0.0, None, None, None, 0)})
    cards, half_w, card_h, ppm = billboard.plain_cards([(image, result.mask, 0.0)], opts.height_m)
    summary = IngestSummary(final, 1, 1, {}, mask_confidence=result.confidence, geometry=geometry.summary(),
                            render_modes=["billboard"])
    board = {"half_width_m": round(half_w, 5), "height_m": round(card_h, 5), "px_per_m": round(ppm, 3),
             "cards": cards}
    write_asset(final, path, opts, geometry, [frame], {0: result.mask}, {0: result.confidence}, None, 1.0,
                None, opts.height_m, board, summary)
    summary.seconds = time.perf_counter() - t0
    return summary
