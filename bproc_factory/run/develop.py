"""Develop a kept render again, without Blender: new sensor, lens, exposure, tone or encoding settings
(the post-render keys) applied to each image's scene-linear render, kept in ``linear/`` by
``render.keep_linear``. Labels are the render's; images, meta, ``coco.json`` and the datasheet are
written as a render with the new settings would write them, byte for byte."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from bproc_factory.assets import category_ids, resolve_assets
from bproc_factory.config import (
    POST_RENDER_KEYS,
    ConfigError,
    LoadedScenario,
    load_scenario,
    render_differences,
)
from bproc_factory.dataset import RUN_FILE, Dataset, DatasetError, coco_record, read_json, write_datasheet
from bproc_factory.errors import Stopped
from bproc_factory.labels import developed_meta
from bproc_factory.run.job import run_identity
from bproc_factory.sensor import develop_pixels, sample_lens, sample_sensor


@dataclass
class DevelopSummary:
    """What a develop run did."""

    source: Path
    output: Path
    requested: int
    developed: int = 0
    skipped: int = 0
    instances: int = 0
    seconds: float = 0.0


def develop_dataset(source: str | Path, output: str | Path, overrides: tuple[str, ...] = (), *,
                    loaded: LoadedScenario | None = None, subset: dict[str, Any] | None = None,
                    indices: Iterable[int] | None = None,
                    on_total: Callable[[int], None] | None = None,
                    on_progress: Callable[[int, int], None] | None = None,
                    stop_requested: Callable[[], str | None] = lambda: None) -> DevelopSummary:
    """Develop every complete image of the dataset ``source`` into ``output`` for its config with
    ``overrides`` (or the already loaded ``loaded``), which may change post-render keys only.
    Complete images already in ``output`` are skipped; ``subset`` is recorded in every meta;
    ``indices`` limits the run to those images (a sweep's range)."""
    t0 = time.perf_counter()
    src = Dataset.open(source)
    identity = read_json(src.root / RUN_FILE)
    base = source_config(src.root, identity)
    loaded = loaded or load_scenario(base.path, base.overrides + tuple(overrides))
    changed = render_differences(base.scenario, loaded.scenario)
    if changed:
        raise ConfigError(f"develop: {', '.join(changed)} would change the render itself; develop changes only "
                          f"{', '.join(POST_RENDER_KEYS)} (render again for the rest)")
    records, _ = src.load_records()
    if indices is not None:
        wanted = set(indices)
        records = {i: r for i, r in records.items() if i in wanted}
    assets = resolve_assets(loaded)
    target = run_identity(loaded, identity["run_seed"], assets, category_ids(loaded, assets))
    if target["inputs"] != identity["inputs"]:
        raise DatasetError(f"{src.root / RUN_FILE}: the scene or assets changed since these images were rendered; "
                           "render again")
    out = Dataset(Path(output), target["image_suffix"])
    if out.root.resolve() == src.root.resolve():
        raise DatasetError(f"{out.root}: develop into a new folder, not into the source dataset")
    out.check_writable()
    with out.locked():
        out.remove_stale_temp_files()
        done, _ = out.load_records()
        keep = loaded.scenario.render.keep_linear
        todo = [i for i in sorted(records) if i not in done or (keep and not out.linear_path(i).is_file())]
        lacking = [i for i in todo if not src.linear_path(i).is_file()]
        if lacking:
            out.discard_if_unused()
            raise DatasetError(f"{src.linear_path(lacking[0])}: missing ({len(lacking)} of {len(todo)} images to "
                               "develop have no kept scene-linear render); render with render.keep_linear: true "
                               "to develop a dataset")
        summary = DevelopSummary(src.root, out.root, requested=len(records), skipped=len(records) - len(todo))
        try:
            target = out.claim(target)
        except BaseException:
            out.discard_if_unused()
            raise
        if on_total:
            on_total(len(todo))
        try:
            for i in todo:
                reason = stop_requested()
                if reason:
                    raise Stopped(f"{reason}: stopped before image {i}")
                meta = _develop_image(src, out, loaded, i, subset, keep)
                done[i] = coco_record(meta)
                summary.developed += 1
                summary.instances += len(meta["annotations"])
                if on_progress:
                    on_progress(summary.developed, len(meta["annotations"]))
        finally:
            out.write_coco(done, target["categories"], target)
            write_datasheet(out.root, target, done)
    summary.seconds = time.perf_counter() - t0
    return summary


def source_config(root: Path, identity: dict[str, Any]) -> LoadedScenario:
    """The config (file and ``--set`` items) that rendered the dataset at ``root``, loaded again and
    checked unchanged: develop changes post-render keys on top of exactly that config."""
    where = root / RUN_FILE
    if "config_path" not in identity or "config_sha256" not in identity:
        raise DatasetError(f"{where}: records no config (a merged dataset?); develop each source dataset instead")
    try:
        base = load_scenario(identity["config_path"], tuple(identity.get("overrides", ())))
    except ConfigError as exc:
        raise ConfigError(f"{where}: the config these images were rendered from cannot be loaded again: {exc}") \
            from None
    if base.sha256 != identity["config_sha256"]:
        raise ConfigError(f"{where}: {identity['config_path']} (or a file it names) changed since these images were "
                          "rendered; restore it to develop them, or render again")
    return base


def _develop_image(src: Dataset, out: Dataset, loaded: LoadedScenario, i: int, subset: dict[str, Any] | None,
                   keep: bool) -> dict[str, Any]:
    """Develop image ``i`` of ``src`` into ``out`` and return its new meta."""
    sc = loaded.scenario
    meta = src.meta(i)
    linear = src.linear(i)
    if linear is None or linear.shape[:2] != (meta["height"], meta["width"]):
        raise DatasetError(f"{src.linear_path(i)}: unreadable, or not the {meta['width']}x{meta['height']} RGB "
                           "image its meta describes; render the image again")
    seed = meta["image_seed"]
    sensor = sample_sensor(sc.sensor, sc.render.exposure_ev, seed, sc.view_transform, sc.render.look)
    lens = sample_lens(sc.lens, meta["width"], meta["height"], seed)
    developed = develop_pixels(linear, sensor, lens, sc.render, seed)
    new = developed_meta(meta, out.image_path(i).name, sensor, lens, loaded.sha256, subset)
    out.write_image(i, developed.rgb8, src.mask(i), new, developed.jpeg_quality, linear if keep else None)
    return new
