"""The ``bproc-factory`` command line: a thin layer over the library."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from bproc_factory import __version__

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  help="Synthetic-data factory: scenario YAML -> Cycles renders with exact instance "
                       "masks and COCO labels.")
export_app = typer.Typer(no_args_is_help=True, help="Export a dataset to another training format.")
app.add_typer(export_app, name="export")
sensor_app = typer.Typer(no_args_is_help=True, help="Fit a sensor profile to a real camera; compare "
                                                  "real images with a rendered dataset.")
app.add_typer(sensor_app, name="sensor")
camera_app = typer.Typer(no_args_is_help=True, help="Camera profiles.")
app.add_typer(camera_app, name="camera")
scene_app = typer.Typer(no_args_is_help=True, help="Environment scenes.")
app.add_typer(scene_app, name="scene")
err = Console(stderr=True)
out = Console()

ConfigArg = Annotated[Path, typer.Argument(help="Scenario YAML file.", show_default=False)]
DatasetArg = Annotated[Path, typer.Argument(help="Dataset folder (written by render or merge).",
                                            show_default=False)]
SetOpt = Annotated[Optional[list[str]], typer.Option(
    "--set", help="Override a config value: key.path=value (YAML), e.g. render.samples=16 or "
                  "objects[0].count={uniform: [1, 3]}. Repeatable.")]
SeedOpt = Annotated[int, typer.Option(min=0, help="Run seed: image i depends only on (config, seed, i).")]
CountOpt = Annotated[int, typer.Option("-n", "--count", min=1, help="Number of images.")]
StartOpt = Annotated[int, typer.Option(min=0, help="First global image index.")]
DeviceOpt = Annotated[str, typer.Option(
    help="Cycles device: auto, cpu, cuda or optix. auto prefers OptiX, then CUDA, then the CPU (and says "
         "which it used); a named GPU kind that is missing is an error.")]


def _say(text: str) -> None:
    out.print(text, highlight=False, soft_wrap=True, markup=False)


def _fail(exc: BaseException, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def _errors_reported(progress: Progress | None = None, stop: "_StopOnSignal | None" = None) -> Iterator[None]:
    """Turn the library's errors into one-paragraph messages and exit codes: 2 for bad input,
    1 for a failed render, 130/143 for a requested stop."""
    from bproc_factory.config.loader import ConfigError
    from bproc_factory.dataset.folder import DatasetError
    from bproc_factory.sensor.distortion import DistortionError
    from bproc_factory.errors import IngestError, RenderError, SceneError, Stopped
    from bproc_factory.dataset.yolo import ExportError
    from bproc_factory.qa.compare import CompareError
    from bproc_factory.sensor.fit import FitError
    from bproc_factory.dataset.merge import MergeError
    from bproc_factory.plan.placement import PlacementError
    from bproc_factory.dataset.records import NotADatasetError

    try:
        yield
    except (ConfigError, DatasetError, PlacementError, SceneError, MergeError, NotADatasetError,
            ExportError, FileExistsError, FitError, DistortionError, CompareError, IngestError) as exc:
        _stop(progress)
        _fail(exc)
    except RenderError as exc:
        _stop(progress)
        _fail(exc, code=1)
    except (Stopped, KeyboardInterrupt) as exc:
        _stop(progress)
        err.print(f"{exc or 'interrupted'}; finished images are kept and listed in coco.json; "
                  "re-run the same command to render the rest", highlight=False)
        raise typer.Exit(143 if stop is not None and stop.reason == "terminated" else 130) from None


def _stop(progress: Progress | None) -> None:
    if progress is not None:
        progress.stop()


class _StopOnSignal:
    """SIGTERM (schedulers, ``timeout``) or a first Ctrl-C asks the run to stop after the current
    scene, so every finished image is written and listed; raising inside Blender's render could
    crash it. A second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.reason: str | None = None
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        if signum == signal.SIGINT and self.reason:
            raise KeyboardInterrupt
        self.reason = "terminated" if signum == signal.SIGTERM else "interrupted"
        err.print(f"{self.reason}: finishing the current scene, then stopping (Ctrl-C again to "
                  "abort at once)")

    def __call__(self) -> str | None:
        return self.reason


DEVICES = ("auto", "cpu", "cuda", "optix")


def _shard_part(config: Path, overrides: tuple[str, ...], output: Path, start: int, count: int,
                shard: str, sweep: bool) -> tuple[Path, int, int]:
    """The folder, first index and count of this shard of the run."""
    from bproc_factory.config.loader import ConfigError, load_scenario
    from bproc_factory.dataset.shards import parse_shard, shard_folder, shard_range

    if sweep:
        raise ConfigError("--shard and --sweep cannot be combined; shard each subset's run instead")
    i, n = parse_shard(shard)
    first, part = shard_range(start, count, load_scenario(config, overrides).scenario.views_per_scene, i, n)
    return shard_folder(output, i, n), first, part


def _render_with_workers(config: Path, output: Path, count: int, start: int, seed: int,
                         overrides: tuple[str, ...], workers: int, recycle_after: int, retries: int,
                         device: str, quiet: bool, stop: "_StopOnSignal") -> None:
    from bproc_factory.run.workers import render_with_workers

    progress, callbacks = _render_progress(quiet, f"rendering ({workers} workers)")
    callbacks["on_total"](count)
    with _errors_reported(progress, stop):
        summary = render_with_workers(config, output, count, start, seed, overrides, workers, recycle_after,
                                      retries, device, on_progress=lambda done: callbacks["on_progress"](done, 0),
                                      stop_requested=stop)
    progress.stop()
    retried = f", {len(summary.retried)} batch(es) retried" if summary.retried else ""
    _say(f"Rendered {summary.rendered}/{summary.requested} images with {workers} workers "
         f"({summary.workers_started} processes{retried}) in {summary.seconds:.1f} s -> {output}")


def _mark_complete(folder: Path, start: int, count: int) -> None:
    """Write the shard's COMPLETE marker: every image of its range is in the folder."""
    from bproc_factory.dataset.files import atomic_write_json
    from bproc_factory.dataset.shards import COMPLETE_FILE

    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / COMPLETE_FILE, {"start": start, "count": count})


def _render_progress(quiet: bool, label: str) -> tuple[Progress, dict]:
    """A progress bar shown only once the run knows how many images it will render."""
    progress = Progress(TextColumn(f"[bold]{escape(label)}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[instances]} instances"), TimeElapsedColumn(),
                        TextColumn("ETA"), TimeRemainingColumn(), console=err, disable=quiet)
    task = progress.add_task("render", total=1, instances=0, start=False)
    totals = {"instances": 0}

    def on_total(todo: int) -> None:
        progress.update(task, total=todo)
        progress.start_task(task)
        progress.start()

    def on_progress(done: int, instances: int) -> None:
        totals["instances"] += instances
        progress.update(task, completed=done, instances=totals["instances"])

    return progress, {"on_total": on_total, "on_progress": on_progress}


@app.command()
def render(config: ConfigArg,
           output: Annotated[Path, typer.Option("-o", "--output", help="Dataset folder to write.")],
           count: CountOpt,
           seed: SeedOpt = 0,
           start: StartOpt = 0,
           set_: SetOpt = None,
           sweep: Annotated[Optional[list[str]], typer.Option(
               help="Render the same images once per value, as subsets OUTPUT/key=value: "
                    "key.path=v1,v2,... Repeatable (cartesian product).")] = None,
           shard: Annotated[Optional[str], typer.Option(
               help="Render only shard I/N of the run (whole scenes, disjoint) into OUTPUT/shard-I-of-N, "
                    "marked COMPLETE when whole; 'env' reads the array task index and count from Slurm, "
                    "Kubernetes Indexed Job or AWS Batch variables.")] = None,
           device: DeviceOpt = "auto",
           workers: Annotated[int, typer.Option(min=1, help="Worker processes on this machine (Cycles "
                                                           "threads split between them).")] = 1,
           recycle_after: Annotated[Optional[int], typer.Option(
               min=1, help="Images per worker process before a fresh one (bounds memory); default 50 "
                           "with --workers, and given alone it recycles a single worker.")] = None,
           retries: Annotated[int, typer.Option(min=0, help="With --workers: re-runs of a crashed worker's "
                                                           "images before they are reported.")] = 2,
           quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False) -> None:
    """Render images START..START+COUNT-1 into OUTPUT; complete images already there are skipped."""
    from bproc_factory.dataset.files import atomic_write_bytes, atomic_write_json
    from bproc_factory.labels.occlusion import run_report
    from bproc_factory.run.job import render_dataset
    from bproc_factory.run.sweep import INDEX_FILE, Subset, subsets, write_sweep_index

    stop = _StopOnSignal()
    with _errors_reported(stop=stop):
        if device not in DEVICES:
            from bproc_factory.config.loader import ConfigError
            raise ConfigError(f"--device must be one of {', '.join(DEVICES)}, not {device!r}")
        runs: list[Subset | None] = list(subsets(sweep)) if sweep else [None]
        part = _shard_part(config, tuple(set_ or ()), output, start, count, shard, bool(sweep)) if shard else None
    if part is not None:
        output, start, count = part
        if count == 0:
            _mark_complete(output, start, count)
            _say(f"Shard {output.name} has no images (more shards than scenes) -> {output}")
            return
    if workers > 1 or recycle_after is not None:
        with _errors_reported(stop=stop):
            if sweep:
                from bproc_factory.config.loader import ConfigError
                raise ConfigError("--workers and --sweep cannot be combined; run each subset with --workers")
        _render_with_workers(config, output, count, start, seed, tuple(set_ or ()), workers, recycle_after or 50,
                             retries, device, quiet, stop)
        if part is not None:
            _mark_complete(output, start, count)
        return
    for subset in runs:
        target = output / subset.name if subset else output
        progress, callbacks = _render_progress(quiet, subset.name if subset else "rendering")
        with _errors_reported(progress, stop):
            summary = render_dataset(config, target, count, start=start, seed=seed,
                                     overrides=tuple(set_ or ()) + (subset.overrides if subset else ()),
                                     stop_requested=stop, subset=subset.record() if subset else None,
                                     device=device, **callbacks)
        progress.stop()
        for warning in summary.warnings:
            err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
        skipped = f", {summary.skipped} already complete" if summary.skipped else ""
        _say(f"Rendered {summary.rendered} images ({summary.instances} instances{skipped}) in "
             f"{summary.seconds:.1f} s, {summary.seconds_per_image:.2f} s/image on {summary.device} "
             f"-> {summary.output}")
        for line in run_report(summary.occlusion, summary.visibility):
            _say(line)
        if part is not None and summary.rendered + summary.skipped == count:
            _mark_complete(output, start, count)
    if sweep:
        index, sheet = write_sweep_index(output, [s for s in runs if s is not None])
        atomic_write_json(output / INDEX_FILE, index)
        atomic_write_bytes(output / "DATASET.md", sheet.encode())


@app.command()
def check(config: ConfigArg, set_: SetOpt = None,
          scenes: Annotated[int, typer.Option(min=0, help="Scenes to plan as a placement trial.")] = 3,
          ) -> None:
    """Validate a config, its assets and scene, and trial-plan a few scenes, without rendering."""
    from bproc_factory.assets.asset import billboard_elevation_warnings, resolve_assets
    from bproc_factory.assets.categories import category_ids
    from bproc_factory.config.loader import load_scenario
    from bproc_factory.plan.fit import check_fit
    from bproc_factory.plan.scene import plan_scene

    with _errors_reported():
        loaded = load_scenario(config, tuple(set_ or ()))
        assets = resolve_assets(loaded)
        categories = category_ids(loaded, assets)
        info = _scene_info(loaded.resolve(loaded.scenario.scene))
        check_fit(loaded, assets, info)
        v = loaded.scenario.views_per_scene
        for s in range(scenes):
            plan_scene(loaded, assets, info, 0, s, list(range(s * v, s * v + v)))
    for warning in billboard_elevation_warnings(loaded, assets):
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    areas = ", ".join(f"{a.name} ({a.size_xy[0]:.2f} x {a.size_xy[1]:.2f} m)" for a in info.placement_areas)
    _say(f"OK {loaded.path}\n  scene: {loaded.resolve(loaded.scenario.scene)}\n"
         f"  placement areas: {areas}\n  categories: {categories}\n  config sha256: {loaded.sha256}")


def _scene_info(path: Path):
    """The scene's marks (a backplate needs no Blender); raises SceneError on errors."""
    from bproc_factory.assets.backplate import load_backplate
    from bproc_factory.errors import SceneError

    if path.suffix.lower() in (".yaml", ".yml"):
        return load_backplate(path)
    from bproc_factory.blender.scene import inspect_scene

    survey = inspect_scene(path)
    if survey.errors:
        raise SceneError(f"{path}: " + "; ".join(survey.errors))
    return survey.info


@scene_app.command("check")
def scene_check(scene: Annotated[Path, typer.Argument(help="A designer .blend, or a backplate annotation YAML.",
                                                      show_default=False)]) -> None:
    """List a scene's marks (placement areas, camera target and region, occluders, props, lights,
    swappable surfaces) and what is missing or ambiguous; exit 2 on errors."""
    from bproc_factory.assets.backplate import load_backplate
    from bproc_factory.errors import SceneError

    with _errors_reported():
        if not scene.is_file():
            raise SceneError(f"{scene}: scene file not found")
        if scene.suffix.lower() in (".yaml", ".yml"):
            info, errors, warnings = load_backplate(scene), [], []
        else:
            from bproc_factory.blender.scene import inspect_scene

            survey = inspect_scene(scene)
            info, errors, warnings = survey.info, survey.errors, survey.warnings
    for problem in errors:
        err.print(f"[bold red]error:[/] {escape(problem)}", highlight=False, soft_wrap=True)
    for problem in warnings:
        err.print(f"[yellow]warning:[/] {escape(problem)}", highlight=False, soft_wrap=True)
    if errors:
        err.print(f"{escape(str(scene))}: {len(errors)} error(s); see scenes/README.md for the conventions")
        raise typer.Exit(2)
    lines = [f"OK {scene}"]
    for area in info.placement_areas:
        lines.append(f"  placement area: {area.name} ({area.size_xy[0]:.2f} x {area.size_xy[1]:.2f} m at "
                     f"z = {area.z:.3f} m)")
    lines.append("  camera target: (" + ", ".join(f"{v:.3f}" for v in info.camera_target) + ")")
    if info.fixed_camera:
        lines.append(f"  camera: fixed by the photo, {info.fixed_camera.width}x{info.fixed_camera.height}, "
                     f"{info.fixed_camera.cam_to_world[2][3]:.2f} m above the ground")
    for label, names in (("camera regions", [f"{len(r)} vertices" for r in info.camera_regions]),
                         ("occluders", info.occluders), ("props", info.props),
                         ("randomisable lights", info.lights), ("swappable surfaces", info.surfaces)):
        lines.append(f"  {label}: {', '.join(names) if names else 'none'}")
    _say("\n".join(lines))


@app.command()
def validate(dataset: DatasetArg,
             workers: Annotated[Optional[int], typer.Option(min=1, help="Processes (default: CPUs).")] = None,
             limit: Annotated[int, typer.Option(min=1, help="Problems to print at most.")] = 50) -> None:
    """Check a dataset against its contract; exit 1 and list the problems (file and id) if any."""
    import time

    from bproc_factory.qa.validate import validate as run_validate

    t0 = time.perf_counter()
    report = run_validate(dataset, workers)
    seconds = time.perf_counter() - t0
    if report.ok:
        _say(f"OK {dataset}: {report.images} images, {report.annotations} annotations checked in {seconds:.1f} s")
        return
    for problem in report.problems[:limit]:
        err.print(escape(str(problem)), highlight=False, soft_wrap=True)
    more = f" (first {limit} shown)" if len(report.problems) > limit else ""
    err.print(f"[bold red]{len(report.problems)} problems[/] in {escape(str(dataset))}{more}")
    raise typer.Exit(1)


@app.command()
def report(dataset: DatasetArg,
           output: Annotated[Path, typer.Option("-o", "--output", help="Report folder to write.")]) -> None:
    """Write a static HTML report (plots, contact sheets, parameter tables) that opens offline."""
    from bproc_factory.qa.report import build_report

    with _errors_reported():
        index = build_report(dataset, output)
    _say(f"Report -> {index}")


@app.command()
def table(dataset: DatasetArg,
          output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the tables.")]) -> None:
    """Write params.{csv,parquet} (one row per image) and instances.{csv,parquet} (one per label)."""
    from bproc_factory.dataset.records import open_dataset
    from bproc_factory.qa.table import build_tables, write_table

    with _errors_reported():
        open_dataset(dataset)
    output.mkdir(parents=True, exist_ok=True)
    params, instances = build_tables(dataset)
    paths = write_table(params, output / "params") + write_table(instances, output / "instances")
    _say(f"{len(params)} images, {len(instances)} instances -> " + ", ".join(str(p) for p in paths))


@export_app.command("yolo")
def export_yolo(dataset: DatasetArg,
                output: Annotated[Path, typer.Option("-o", "--output", help="New folder for the export.")],
                task: Annotated[str, typer.Option(help="segment (polygons) or detect (boxes).")] = "segment",
                val_fraction: Annotated[float, typer.Option(min=0.0, max=1.0,
                                                            help="Share of scenes in the val split.")] = 0.2,
                seed: Annotated[int, typer.Option(min=0, help="Split seed.")] = 0) -> None:
    """Export to Ultralytics YOLO: dataset.yaml, images/ and labels/, split by scene."""
    from bproc_factory.dataset.yolo import export_yolo as run_export

    if task not in ("segment", "detect"):
        _fail(ValueError(f"--task must be segment or detect, not {task!r}"))
    with _errors_reported():
        summary = run_export(dataset, output, task, val_fraction, seed)  # type: ignore[arg-type]
    _say(f"YOLO {task}: {summary.train_images} train + {summary.val_images} val images, "
         f"{summary.labels} labels -> {summary.output / 'dataset.yaml'}")


@app.command()
def farm(config: ConfigArg,
         output: Annotated[Path, typer.Option("-o", "--output", help="Run folder: shards/ and the merged dataset/.")],
         count: CountOpt,
         seed: SeedOpt = 0,
         start: StartOpt = 0,
         set_: SetOpt = None,
         ray_address: Annotated[Optional[str], typer.Option(
             help="Ray cluster to join ('auto', or host:port); default: start a local one.")] = None,
         shards: Annotated[Optional[int], typer.Option(min=1, help="Ray tasks (shards); default: one per "
                                                                   "scene, at most 64.")] = None,
         retries: Annotated[int, typer.Option(min=0, help="Ray retries of a failed shard.")] = 2,
         max_calls: Annotated[int, typer.Option(min=1, help="Shards per Ray worker process before it is "
                                                           "replaced.")] = 1,
         device: DeviceOpt = "auto",
         quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False) -> None:
    """Render the run as shards on a Ray cluster (one GPU per task where there are GPUs), then merge
    them into OUTPUT/dataset; re-running resumes."""
    from bproc_factory.run.farm import farm as run_farm

    progress = Progress(TextColumn("[bold]farm"), BarColumn(), MofNCompleteColumn(), TextColumn("shards"),
                        TextColumn("{task.fields[images]} images"), TimeElapsedColumn(), console=err, disable=quiet)
    task = progress.add_task("farm", total=None, images=0)
    progress.start()

    def on_progress(done: int, total: int, images: int) -> None:
        progress.update(task, completed=done, total=total, images=images)

    with _errors_reported(progress):
        if device not in DEVICES:
            from bproc_factory.config.loader import ConfigError
            raise ConfigError(f"--device must be one of {', '.join(DEVICES)}, not {device!r}")
        summary = run_farm(config, output, count, start, seed, tuple(set_ or ()), shards, ray_address, retries,
                           max_calls, device, on_progress)
    progress.stop()
    resumed = f", {summary.skipped} already complete" if summary.skipped else ""
    cluster = ", ".join(f"{v:g} {k}" for k, v in sorted(summary.resources.items()) if k in ("CPU", "GPU"))
    where = f" on Ray ({cluster})" if cluster else ""
    _say(f"Farmed {summary.images} images in {summary.shards} shards{resumed}{where} in "
         f"{summary.seconds:.1f} s -> {summary.output}")


@app.command()
def merge(datasets: Annotated[list[Path], typer.Argument(help="Datasets or shards to merge.")],
          output: Annotated[Path, typer.Option("-o", "--output", help="New folder for the merge.")]) -> None:
    """Merge datasets or shards without renumbering; refuse conflicting categories or image ids."""
    from bproc_factory.dataset.merge import merge_datasets

    with _errors_reported():
        summary = merge_datasets(list(datasets), output)
    dup = f" ({summary.duplicates} duplicates kept once)" if summary.duplicates else ""
    _say(f"Merged {summary.sources} datasets: {summary.images} images{dup} -> {summary.output}")


@app.command()
def preview(config: ConfigArg,
            output: Annotated[Path, typer.Option("-o", "--output", help="PNG contact sheet to write.")] =
            Path("preview.png"),
            count: Annotated[int, typer.Option("-n", "--count", min=1, help="Images.")] = 6,
            width: Annotated[int, typer.Option(min=16, help="Image width in pixels (K scaled).")] = 320,
            samples: Annotated[int, typer.Option(min=1, help="Cycles samples.")] = 8,
            seed: SeedOpt = 0, set_: SetOpt = None) -> None:
    """Render a few small, low-sample images and show them with their masks as one PNG."""
    from bproc_factory.run.preview import render_preview

    with _errors_reported():
        summary = render_preview(config, output, count, width, samples, seed, tuple(set_ or ()))
    _say(f"Preview of {summary.rendered} images ({summary.instances} instances) in "
         f"{summary.seconds:.1f} s -> {output}")


@app.command()
def ingest(source: Annotated[Path, typer.Argument(help="Turntable or walk-around video, or a folder of photos.",
                                                  show_default=False)],
           name: Annotated[Optional[str], typer.Option(help="Asset name (the folder's name); with --each, a "
                                                            "prefix for the photos' names.")] = None,
           category: Annotated[str, typer.Option(help="Category label for the dataset.")] = "",
           output: Annotated[Path, typer.Option("-o", "--output", help="Assets folder to write NAME/ into.")] =
           Path("assets"),
           height_m: Annotated[Optional[float], typer.Option(
               min=0.001, help="Real height of the object in metres (needed without turntable markers; with "
                               "them it overrides the measured height).")] = None,
           segmenter: Annotated[str, typer.Option(help="u2netp (default, offline saliency model) or chroma "
                                                       "(green/blue screen).")] = "u2netp",
           max_views: Annotated[int, typer.Option(min=6, help="Views kept, spread evenly around the object.")] = 72,
           force: Annotated[bool, typer.Option(help="Replace an existing asset folder of that name.")] = False,
           each: Annotated[bool, typer.Option(help="SOURCE is a folder of photos of different items (product "
                                                   "shots, generated images): one billboard asset per photo.")]
           = False,
           quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False) -> None:
    """Turn a capture of one object into an asset folder: segmented views, masks, billboard cards
    and (with the turntable sheet's markers) a textured mesh; or, with --each, one single-card
    billboard asset per photo."""
    from bproc_factory.ingest.pipeline import IngestOptions, ingest as run_ingest

    if not category or (not name and not each):
        _fail(ValueError("give --category, and --name (except with --each)"))
    opts = IngestOptions(name=name or "", category=category, assets_dir=output, height_m=height_m,
                         segmenter=segmenter, max_views=max_views, force=force)
    if each:
        _ingest_each(source, opts)
        return
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=err, disable=quiet, transient=True)
    task = progress.add_task("ingest", total=1)

    def on_progress(stage: str, done: int, total: int) -> None:
        progress.update(task, description=stage, completed=done, total=max(total, 1))

    with progress, _errors_reported(progress):
        summary = run_ingest(source, opts, on_progress)
    for warning in summary.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}")
    mesh = summary.mesh
    mesh_text = ("no mesh (no metric cameras)" if mesh is None else
                 f"mesh {'kept' if mesh['passed'] else 'rejected: ' + mesh.get('reason', '')}"
                 + (f", silhouette IoU {mesh['silhouette_iou']['mean']:.3f}, {mesh['faces']} faces, "
                    f"{'watertight' if mesh['watertight'] else 'not watertight'}" if "silhouette_iou" in mesh else ""))
    _say(f"Ingested {source.name}: {summary.views} views kept of {summary.source_frames} frames "
         f"({len(summary.dropped)} dropped), mask confidence {summary.mask_confidence:.3f}, cameras by "
         f"{summary.geometry['method']}, {mesh_text}; render modes: {', '.join(summary.render_modes) or 'none'} "
         f"in {summary.seconds:.1f} s -> {summary.folder}")
    for frame, reason in list(summary.dropped.items())[:20]:
        _say(f"  dropped {frame}: {reason}")
    if len(summary.dropped) > 20:
        _say(f"  ... and {len(summary.dropped) - 20} more (all listed in asset.yaml, capture.dropped_frames)")


def _ingest_each(source: Path, opts) -> None:
    from bproc_factory.ingest.photos import ingest_each

    with _errors_reported():
        summaries, failed = ingest_each(source, opts)
    for s in summaries:
        _say(f"  {s.folder.name}: mask confidence {s.mask_confidence:.3f} -> {s.folder}")
    for photo, reason in failed.items():
        err.print(f"[yellow]skipped[/] {escape(photo)}: {escape(reason)}")
    _say(f"Ingested {len(summaries)} of {len(summaries) + len(failed)} photos as billboard assets -> {opts.assets_dir}")


@app.command("turntable-sheet")
def turntable_sheet(output: Annotated[Path, typer.Argument(help="PNG to write.", show_default=False)],
                    dpi: Annotated[int, typer.Option(min=72, help="Print resolution.")] = 300) -> None:
    """Write the printable ArUco turntable sheet that gives ingest measured angles, focal length
    and metric scale."""
    import cv2

    from bproc_factory.ingest.markers import SheetLayout

    layout = SheetLayout()
    image = layout.sheet_image(px_per_m=dpi / 0.0254)
    output.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(output), image)
    _say(f"Turntable sheet -> {output}: print it {layout.sheet_m * 100:.0f} cm wide (at {dpi} dpi, no scaling); "
         f"markers {layout.marker_m * 1000:.0f} mm; keep the object within {layout.free_radius_m * 100:.0f} cm "
         "of the centre")


@camera_app.command("import")
def camera_import(calibration: Annotated[Path, typer.Argument(help="OpenCV calibration (.yaml/.yml/.xml/.json) "
                                                                   "or COLMAP cameras.txt.", show_default=False)],
                  output: Annotated[Path, typer.Option("-o", "--output", help="Camera profile YAML to write.")],
                  camera_id: Annotated[Optional[int], typer.Option(help="COLMAP camera id (when there are "
                                                                        "several).")] = None,
                  sensor_width_mm: Annotated[Optional[float], typer.Option(
                      min=0.1, help="Physical sensor width: sets the real focal length, hence the depth of "
                                    "field (default 36 mm, full frame).")] = None) -> None:
    """Write a camera profile (resolution, K, distortion) from a calibration file."""
    import yaml

    from bproc_factory.sensor.calibration import read_calibration

    with _errors_reported():
        profile = read_calibration(calibration, camera_id, sensor_width_mm)
    if sensor_width_mm is None:
        err.print("[yellow]note:[/] no --sensor-width-mm: depth of field will assume a 36 mm (full-frame) "
                  "sensor; give the real width for a realistic depth of field")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(f"# imported from {calibration} by bproc-factory camera import\n"
                      + yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
    _say(f"Camera profile {profile['resolution'][0]}x{profile['resolution'][1]}, "
         f"distortion {profile.get('distortion', {}).get('coeffs', 'none')} -> {output}")


@sensor_app.command("fit")
def sensor_fit(output: Annotated[Path, typer.Option("-o", "--output", help="Sensor profile YAML to write.")],
               chart: Annotated[Optional[Path], typer.Option(help="Photo of a colour chart from the production "
                                                                  "camera.")] = None,
               corners: Annotated[Optional[Path], typer.Option(help="YAML with the chart's corners (and optional "
                                                                    "rows, cols, reference).")] = None,
               pairs: Annotated[Optional[tuple[Path, Path]], typer.Option(
                   help="Folders of aligned images: REFERENCE_DIR PRODUCTION_DIR (matching file names).")] = None,
               comparison: Annotated[Optional[Path], typer.Option(help="Before/after image to write (default: "
                                                                       "next to the profile).")] = None,
               name: Annotated[str, typer.Option(help="Profile name.")] = "fitted") -> None:
    """Fit a sensor profile (colour matrix, white balance, tone curve, noise) to a production camera."""
    from bproc_factory.sensor.fit_io import fit_from_chart, fit_from_pairs, write_profile

    if (chart is None) == (pairs is None) or (chart is not None and corners is None):
        _fail(ValueError("give either --chart PHOTO --corners CORNERS.yaml, or --pairs REFERENCE_DIR PRODUCTION_DIR"))
    comparison = comparison or output.with_name(output.stem + "_comparison.png")
    with _errors_reported():
        fit, image = (fit_from_chart(chart, corners, name) if chart is not None else
                      fit_from_pairs(pairs[0], pairs[1], name))
        write_profile(fit, output, comparison, image)
    for note in fit.notes:
        err.print(f"[yellow]note:[/] {escape(note)}")
    _say(f"Fitted on {fit.samples} samples: mean ΔE2000 {fit.mean_delta_e:.2f} ({fit.worst_name} "
         f"{fit.max_delta_e:.2f}), "
         f"RMSE {fit.rmse:.4f} -> {output} (comparison {comparison})")


@sensor_app.command("compare")
def sensor_compare(real: Annotated[Path, typer.Argument(help="Folder of images from the real camera.",
                                                        show_default=False)],
                   dataset: DatasetArg,
                   output: Annotated[Path, typer.Option("-o", "--output", help="Folder for plots and verdict.")]
                   ) -> None:
    """Compare real camera images with a rendered dataset on model-free image statistics."""
    from bproc_factory.dataset.records import iter_meta, open_dataset
    from bproc_factory.qa.compare import (CompareError, compare, current_sensor, folder_stats,
                                              write_comparison)

    with _errors_reported():
        ds, _, coco = open_dataset(dataset)
        if not real.is_dir():
            raise CompareError(f"{real}: not a folder of images")
        size = (coco["images"][0]["width"], coco["images"][0]["height"]) if coco["images"] else None
        real_stats = folder_stats(folder_images(real), size)
        synthetic = folder_stats([ds.image_path(im["id"]) for im in coco["images"]])
        findings = compare(real_stats, synthetic, current_sensor(list(iter_meta(dataset))))
        verdict = write_comparison(real_stats, synthetic, findings, output)
    for f in findings:
        _say(f"{f.stat:>11}: real {f.real:9.4g}  synthetic {f.synthetic:9.4g}  {f.verdict}")
    _say(f"-> {verdict}")


@app.command()
def schema(asset: Annotated[bool, typer.Option("--asset", help="Print the asset.yaml schema "
                                                              "instead.")] = False) -> None:
    """Print the JSON Schema of scenario configs (or of asset.yaml)."""
    from bproc_factory.assets.asset import AssetSpec
    from bproc_factory.config.scenario import Scenario

    model = AssetSpec if asset else Scenario
    out.print_json(json.dumps(model.model_json_schema()))


def _version(value: bool) -> None:
    if value:
        _say(f"bproc_factory {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Show the version and exit.")] = False) -> None:
    pass


def main() -> None:
    """Console entry point. Exits with ``os._exit`` once ``bpy`` is loaded: the bpy wheel can crash
    in its C++ static destructors after Python has shut down, turning success into a segfault."""
    try:
        app()  # standalone mode: prints usage errors itself and ends with SystemExit
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if "bpy" in sys.modules:
        shutil.rmtree(sys.modules["bpy"].app.tempdir, ignore_errors=True)  # os._exit skips it
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
