"""Render a run the way it was asked for: in this process, once per sweep subset, as one shard of
a farm, or with several recycled worker processes. Finished shards are marked COMPLETE and a
sweep's subsets are indexed. ``run_render`` is the library call behind ``bproc-factory render``."""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bproc_factory.config import ConfigError, LoadedScenario, as_loaded, is_post_render, load_scenario
from bproc_factory.dataset import (
    COMPLETE_FILE,
    LINEAR_DIR,
    Dataset,
    atomic_write_bytes,
    atomic_write_json,
    parse_shard,
    shard_folder,
    shard_range,
)
from bproc_factory.labels import run_report
from bproc_factory.run.develop import DevelopSummary, develop_dataset
from bproc_factory.run.job import RunSummary, render_dataset
from bproc_factory.run.sweep import INDEX_FILE, Subset, subsets, write_sweep_index
from bproc_factory.run.workers import WorkersSummary, render_with_workers

DEVICES = ("auto", "cpu", "cuda", "optix")
DEFAULT_RECYCLE_AFTER = 50


@dataclass
class RenderEvents:
    """What a caller (the CLI's progress bars) hears while a render runs: a run (the whole
    request, or one sweep subset) starts with the images it will render, images finish, it ends."""

    started: Callable[[str, int], None] = lambda label, total: None
    progress: Callable[[int, int], None] = lambda done, instances: None
    finished: Callable[[RunSummary | WorkersSummary | DevelopSummary], None] = lambda summary: None


@dataclass
class RenderOutcome:
    """Where the images went (the shard folder for a shard) and each run's summary."""

    output: Path
    runs: list[RunSummary | WorkersSummary | DevelopSummary] = field(default_factory=list)
    empty_shard: bool = False


def check_device(device: str) -> None:
    """Refuse an unknown ``--device`` before anything is loaded or written."""
    if device not in DEVICES:
        raise ConfigError(f"--device must be one of {', '.join(DEVICES)}, not {device!r}")


def run_render(config: str | Path | LoadedScenario, output: str | Path, count: int, *, seed: int = 0,
               start: int = 0, overrides: tuple[str, ...] = (), sweep: tuple[str, ...] = (),
               shard: str | None = None, device: str = "auto", workers: int = 1, recycle_after: int | None = None,
               retries: int = 2, events: RenderEvents | None = None,
               stop_requested: Callable[[], str | None] = lambda: None) -> RenderOutcome:
    """Render images ``start .. start+count-1`` of the run (config, seed) into ``output``, with
    Blender in this process (the CLI's render).

    ``sweep`` renders the same images once per value into ``output/key=value``; ``shard`` ("I/N"
    or "env") renders only that shard into ``output/shard-I-of-N`` and marks it COMPLETE when
    whole; ``workers`` > 1 (or ``recycle_after``) renders in recycled child processes. The config
    is loaded once here (once per subset for a sweep) and handed on.
    """
    events = events or RenderEvents()
    output = Path(output)
    check_device(device)
    if sweep and shard:
        raise ConfigError("--shard and --sweep cannot be combined; shard each subset's run instead")
    if sweep and (workers > 1 or recycle_after is not None):
        raise ConfigError("--workers and --sweep cannot be combined; run each subset with --workers")
    if sweep:
        return _render_sweep(config, output, count, seed, start, overrides, list(subsets(list(sweep))), device,
                             events, stop_requested)
    loaded = as_loaded(config, overrides)
    if shard:
        i, n = parse_shard(shard)
        start, count = shard_range(start, count, loaded.scenario.views_per_scene, i, n)
        output = shard_folder(output, i, n)
        if count == 0:
            _mark_complete(output, start, count)
            return RenderOutcome(output, empty_shard=True)
    outcome = RenderOutcome(output)
    if workers > 1 or recycle_after is not None:
        events.started(f"rendering ({workers} workers)", count)
        summary = render_with_workers(loaded, output, count, start, seed, workers,
                                      recycle_after or DEFAULT_RECYCLE_AFTER, retries, device,
                                      on_progress=events.progress,
                                      stop_requested=stop_requested)
        done = summary.rendered
    else:
        summary = render_dataset(loaded, output, count, start=start, seed=seed, stop_requested=stop_requested,
                                 device=device, on_total=lambda todo: events.started("rendering", todo),
                                 on_progress=events.progress)
        done = summary.rendered + summary.skipped
    events.finished(summary)
    outcome.runs.append(summary)
    if shard and done == count:
        _mark_complete(output, start, count)
    return outcome


def _render_sweep(config: str | Path | LoadedScenario, output: Path, count: int, seed: int, start: int,
                  overrides: tuple[str, ...], runs: list[Subset], device: str, events: RenderEvents,
                  stop_requested: Callable[[], str | None]) -> RenderOutcome:
    """Each subset in its own folder (its config loaded with the subset's values), then the index.
    When every swept key is post-render, the first subset is rendered keeping its scene-linear
    renders and the others are developed from them; else every subset is rendered."""
    path, base = (config.path, config.overrides) if isinstance(config, LoadedScenario) else (Path(config), ())
    outcome = RenderOutcome(output)
    loads = [load_scenario(path, base + tuple(overrides) + subset.overrides) for subset in runs]
    requested = range(start, start + count)
    develop = all(is_post_render(key) for key in runs[0].values)
    developed = [Dataset(output / s.name, f".{lo.scenario.render.image_format}").load_records()[0]
                 for s, lo in zip(runs[1:], loads[1:])] if develop else []
    needed = frozenset(i for i in requested if any(i not in done for done in developed))  # to develop
    for k, (subset, loaded) in enumerate(zip(runs, loads)):
        started = (lambda todo, label=subset.name: events.started(label, todo))
        if develop and k > 0:
            summary = develop_dataset(output / runs[0].name, output / subset.name, loaded=loaded,
                                      subset=subset.record(), indices=requested, on_total=started,
                                      on_progress=events.progress, stop_requested=stop_requested)
        else:
            summary = render_dataset(loaded, output / subset.name, count, start=start, seed=seed,
                                     stop_requested=stop_requested, subset=subset.record(), device=device,
                                     on_total=started, on_progress=events.progress, linear_for=needed)
        events.finished(summary)
        outcome.runs.append(summary)
    if needed and not loads[0].scenario.render.keep_linear:  # kept only to develop the other subsets
        shutil.rmtree(output / runs[0].name / LINEAR_DIR, ignore_errors=True)
    index, sheet = write_sweep_index(output, runs)
    atomic_write_json(output / INDEX_FILE, index)
    atomic_write_bytes(output / "DATASET.md", sheet.encode())
    return outcome


def _mark_complete(folder: Path, start: int, count: int) -> None:
    """Write the shard's COMPLETE marker: every image of its range is in the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / COMPLETE_FILE, {"start": start, "count": count})


def summary_lines(summary: RunSummary | WorkersSummary | DevelopSummary) -> list[str]:
    """The lines a run ends with: images, time and device, and the occlusion outcome."""
    if isinstance(summary, DevelopSummary):
        skipped = f", {summary.skipped} already complete" if summary.skipped else ""
        return [f"Developed {summary.developed} images ({summary.instances} instances{skipped}) from "
                f"{summary.source} in {summary.seconds:.1f} s -> {summary.output}"]
    if isinstance(summary, WorkersSummary):
        retried = f", {len(summary.retried)} batch(es) retried" if summary.retried else ""
        return [f"Rendered {summary.rendered}/{summary.requested} images ({summary.instances} instances) with "
                f"{summary.workers} workers "
                f"({summary.workers_started} processes{retried}) in {summary.seconds:.1f} s -> {summary.output}"]
    skipped = f", {summary.skipped} already complete" if summary.skipped else ""
    return [f"Rendered {summary.rendered} images ({summary.instances} instances{skipped}) in "
            f"{summary.seconds:.1f} s ({summary.setup_seconds:.1f} s of it setup), "
            f"{summary.seconds_per_image:.2f} s/image after setup on {summary.device} "
            f"-> {summary.output}", *run_report(summary.occlusion, summary.visibility)]
