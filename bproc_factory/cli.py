"""The ``bproc-factory`` command line: a thin layer over the library."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bproc_factory import __version__
from bproc_factory.errors import FactoryError

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
MAX_IMAGES = 10_000_000  # per command: a run's image list is held in memory; farm or shard bigger jobs
CountOpt = Annotated[int, typer.Option("-n", "--count", min=1, max=MAX_IMAGES,
                                       help=f"Number of images, at most {MAX_IMAGES:,}.")]
StartOpt = Annotated[int, typer.Option(min=0, help="First global image index.")]
DeviceOpt = Annotated[str, typer.Option(
    help="Cycles device: auto, cpu, cuda or optix. auto prefers OptiX, then CUDA, then the CPU (and says "
         "which it used); a named GPU kind that is missing is an error.")]


def _say(text: str) -> None:
    out.print(text, highlight=False, soft_wrap=True, markup=False)


def _warn(text: str, label: str = "warning") -> None:
    err.print(f"[yellow]{label}:[/] {escape(text)}", highlight=False, soft_wrap=True)


@contextlib.contextmanager
def _errors_reported(progress: "Progress | _RenderBars | None" = None, stop: "_StopOnSignal | None" = None) -> Iterator[None]:
    """Turn the library's errors into one-paragraph messages and their exit codes (2 bad input,
    1 failed render, 130/143 a requested stop): every user-facing error is a ``FactoryError``."""
    from bproc_factory.errors import Stopped

    try:
        yield
    except (Stopped, KeyboardInterrupt) as exc:
        _stop(progress)
        err.print(f"{exc or 'interrupted'}; finished images are kept and listed in coco.json; "
                  "re-run the same command to render the rest", highlight=False)
        raise typer.Exit(143 if stop is not None and stop.reason == "terminated" else 130) from None
    except FactoryError as exc:
        _stop(progress)
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None


def _bar(*columns, **options) -> Progress:
    """A progress bar on stderr that leaves ``sys.stdout`` alone: rich's default proxy would print
    BlenderProc's lines ("Rendering 3 frames of ...") above the bar instead of into the log that the
    Blender session sends file descriptor 1 to."""
    return Progress(*columns, console=err, redirect_stdout=False, redirect_stderr=False, **options)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m{secs:02d}s"


def _stop(progress: "Progress | _RenderBars | None") -> None:
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


class _RenderBars:
    """Progress bars for a render's runs: one per run (each sweep subset), shown once its image
    count is known; the run's summary is printed when it ends. Outside a terminal (a Slurm log,
    CI) a bar would print nothing until the end, so plain lines come instead, at most every
    PLAIN_PROGRESS_S seconds and at the last image."""

    PLAIN_PROGRESS_S = 30.0

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.plain = not err.is_terminal
        self.current: Progress | None = None
        self._task = None
        self._instances = 0
        self._label, self._total, self._t0, self._said, self._shown = "", 0, 0.0, 0.0, -1

    def started(self, label: str, total: int) -> None:
        self.current = _bar(TextColumn(f"[bold]{escape(label)}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[instances]} instances"), TimeElapsedColumn(),
                            TextColumn("ETA"), TimeRemainingColumn(), disable=self.quiet or self.plain)
        self._task = self.current.add_task("render", total=total, instances=0)
        self._instances = 0
        self._label, self._total, self._t0 = label, total, time.monotonic()
        self._said, self._shown = self._t0, 0
        self.current.start()
        if self.plain and not self.quiet:
            err.print(f"{label}: {total} images to render", highlight=False, soft_wrap=True)

    def progress(self, done: int, instances: int) -> None:
        self._instances += instances
        if self.current is not None:
            self.current.update(self._task, completed=done, instances=self._instances)
        now = time.monotonic()
        due = now - self._said >= self.PLAIN_PROGRESS_S or done == self._total
        if self.plain and not self.quiet and due and done != self._shown:
            self._said, self._shown = now, done
            elapsed = now - self._t0
            eta = f", about {_duration(elapsed / done * (self._total - done))} left" if 0 < done < self._total else ""
            err.print(f"{self._label}: {done}/{self._total} images, {self._instances} instances, "
                      f"{_duration(elapsed)} elapsed{eta}", highlight=False, soft_wrap=True)

    def stop(self) -> None:
        _stop(self.current)

    def finished(self, summary) -> None:
        from bproc_factory.run import summary_lines

        _stop(self.current)
        for warning in getattr(summary, "warnings", []):
            _warn(warning)
        for line in summary_lines(summary):
            _say(line)


@app.command()
def init(directory: Annotated[Path, typer.Argument(help="New (or empty) folder for the project.",
                                                   show_default=False)]) -> None:
    """Start a project: a working scenario, the demo scene and assets, presets, and a README of what to edit."""
    from bproc_factory.project import init_project

    with _errors_reported():
        project = init_project(directory)
    _say(f"Wrote a starter project ({project.files} files) -> {project.path}\n"
         f"  next: bproc-factory check {project.scenario}   (then read {project.path / 'README.md'})")


@app.command()
def addon(output: Annotated[Path, typer.Option("-o", "--output", help="Zip to write.")] =
          Path("bproc_factory_addon.zip")) -> None:
    """Build the Blender add-on (a Factory panel to mark, check and preview scenes) as a zip to install
    in Blender: Preferences > Add-ons > Install from Disk."""
    from bproc_factory.project import build_addon

    with _errors_reported():
        built = build_addon(output)
    _say(f"Wrote the Blender add-on {'.'.join(map(str, built.version))} for Blender "
         f"{'.'.join(map(str, built.blender[:2]))} and later -> {built.path}\n"
         "  install: Blender > Edit > Preferences > Add-ons > Install from Disk, then enable 'bproc_factory'; "
         "set the bproc-factory path in its preferences if the command is not on PATH")


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
    from bproc_factory.run import RenderEvents, run_render

    stop = _StopOnSignal()
    bars = _RenderBars(quiet)
    events = RenderEvents(started=bars.started, progress=bars.progress, finished=bars.finished)
    with _errors_reported(bars, stop):
        outcome = run_render(config, output, count, seed=seed, start=start, overrides=tuple(set_ or ()),
                             sweep=tuple(sweep or ()), shard=shard, device=device, workers=workers,
                             recycle_after=recycle_after, retries=retries, events=events, stop_requested=stop)
    if outcome.empty_shard:
        _say(f"Shard {outcome.output.name} has no images (more shards than scenes) -> {outcome.output}")


@app.command()
def develop(dataset: DatasetArg,
            output: Annotated[Path, typer.Option("-o", "--output", help="Dataset folder to write.")],
            set_: SetOpt = None,
            quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False) -> None:
    """Develop a render kept with render.keep_linear again, without Blender, for new sensor, lens,
    exposure, tone or encoding settings (--set); labels stay the render's."""
    from bproc_factory.run import develop_dataset

    stop = _StopOnSignal()
    bars = _RenderBars(quiet)
    with _errors_reported(bars, stop):
        summary = develop_dataset(dataset, output, tuple(set_ or ()), stop_requested=stop, on_progress=bars.progress,
                                  on_total=lambda todo: bars.started("developing", todo))
    bars.finished(summary)


@app.command()
def check(config: ConfigArg, set_: SetOpt = None,
          scenes: Annotated[int, typer.Option(min=0, help="Scenes to plan as a placement trial.")] = 3,
          ) -> None:
    """Validate a config, its assets and scene, and trial-plan a few scenes, without rendering."""
    from bproc_factory.run import check_config

    with _errors_reported():
        report = check_config(config, tuple(set_ or ()), scenes)
    for warning in report.warnings:
        _warn(warning)
    areas = ", ".join(f"{a.name} ({a.size_xy[0]:.2f} x {a.size_xy[1]:.2f} m)" for a in report.info.placement_areas)
    _say(f"OK {report.loaded.path}\n  scene: {report.scene}\n"
         f"  placement areas: {areas}\n  categories: {report.categories}\n  config sha256: {report.loaded.sha256}")


@scene_app.command("check")
def scene_check(scene: Annotated[Path, typer.Argument(help="A designer .blend, or a backplate annotation YAML.",
                                                      show_default=False)],
                json_: Annotated[bool, typer.Option("--json", help="Print the marks, errors and warnings as one "
                                                                   "JSON object on stdout (for tools such as "
                                                                   "the Blender add-on).")] = False) -> None:
    """List a scene's marks (placement areas, camera target and region, occluders, props, lights,
    swappable surfaces) and what is missing or ambiguous; exit 2 on errors."""
    from bproc_factory.run import survey_lines, survey_record, survey_scene

    if json_:
        try:
            survey, code = survey_scene(scene), 0
            record = survey_record(scene, survey)
        except FactoryError as exc:
            record, code = survey_record(scene, error=str(exc)), exc.exit_code
        sys.stdout.write(json.dumps(record) + "\n")
        raise typer.Exit(code or (2 if record["errors"] else 0))
    with _errors_reported():
        survey = survey_scene(scene)
    for problem in survey.errors:
        err.print(f"[bold red]error:[/] {escape(problem)}", highlight=False, soft_wrap=True)
    for problem in survey.warnings:
        _warn(problem)
    if survey.errors:
        err.print(f"{escape(str(scene))}: {len(survey.errors)} error(s); see scenes/README.md for the conventions")
        raise typer.Exit(2)
    lines = [f"OK {scene}", *(f"  {line}" for line in survey_lines(survey.info))]
    _say("\n".join(lines))


@app.command()
def validate(dataset: DatasetArg,
             workers: Annotated[Optional[int], typer.Option(min=1, help="Processes (default: CPUs).")] = None,
             limit: Annotated[int, typer.Option(min=1, help="Problems to print at most.")] = 50) -> None:
    """Check a dataset against its contract; exit 1 and list the problems (file and id) if any."""
    import time

    from bproc_factory.qa import validate as run_validate

    t0 = time.perf_counter()
    with _errors_reported():
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
    from bproc_factory.qa import build_report

    with _errors_reported():
        index = build_report(dataset, output)
    _say(f"Report -> {index}")


@app.command()
def table(dataset: DatasetArg,
          output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the tables.")]) -> None:
    """Write params.{csv,parquet} (one row per image) and instances.{csv,parquet} (one per label)."""
    from bproc_factory.qa import write_tables

    with _errors_reported():
        tables = write_tables(dataset, output)
    _say(f"{tables.images} images, {tables.instances} instances -> " + ", ".join(str(p) for p in tables.paths))


@app.command()
def evaluate(dataset: Annotated[Path, typer.Argument(help="Dataset folder, or a COCO annotation file.",
                                                     show_default=False)],
             predictions: Annotated[Path, typer.Argument(help="COCO results JSON, or a folder of YOLO "
                                                         "prediction .txt files (save_txt, save_conf).",
                                                         show_default=False)],
             output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the evaluation.")],
             iou: Annotated[float, typer.Option(min=0.05, max=0.95, help="IoU that counts as found.")] = 0.5,
             task: Annotated[str, typer.Option(help="detect (boxes) or segment (masks).")] = "detect",
             min_score: Annotated[float, typer.Option(min=0.0, max=1.0,
                                                      help="Predictions below this score find nothing.")] = 0.25) -> None:
    """Score a model's predictions: COCO AP, each instance found or missed, the sampled values that
    go with misses, an HTML page, and hard_cases.yaml to render more of them."""
    from bproc_factory.evaluate import evaluate as run_evaluate

    if task not in ("detect", "segment"):
        err.print(f"error: --task {escape(task)}: expected detect or segment")
        raise typer.Exit(2)
    with _errors_reported():
        result = run_evaluate(dataset, predictions, output, iou, task, min_score)  # type: ignore[arg-type]
    _say(f"AP {result.ap:.3f}; {result.instances} instances in {result.images} images, {result.missed} missed")
    for f in result.top_factors[:3]:
        _say(f"  misses go with {f.factor} in {f.region}: {f.miss_rate_in:.0%} missed there, "
             f"{f.miss_rate_out:.0%} elsewhere (z {f.z:.1f})")
    if result.hard_cases:
        _say(f"Hard cases -> {result.hard_cases}")
    _say(f"Evaluation -> {result.output / 'index.html'}")


@export_app.command("yolo")
def export_yolo(dataset: DatasetArg,
                output: Annotated[Path, typer.Option("-o", "--output", help="New folder for the export.")],
                task: Annotated[str, typer.Option(help="segment (polygons) or detect (boxes).")] = "segment",
                val_fraction: Annotated[float, typer.Option(min=0.0, max=1.0,
                                                            help="Share of scenes in the val split.")] = 0.2,
                seed: Annotated[int, typer.Option(min=0, help="Split seed.")] = 0) -> None:
    """Export to Ultralytics YOLO: dataset.yaml, images/ and labels/, split by scene."""
    from bproc_factory.dataset import export_yolo as run_export

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
    from bproc_factory.run import run_farm

    progress = _bar(TextColumn("[bold]farm"), BarColumn(), MofNCompleteColumn(), TextColumn("shards"),
                    TextColumn("{task.fields[images]} images"), TimeElapsedColumn(), disable=quiet)
    task = progress.add_task("farm", total=None, images=0)
    progress.start()

    def on_progress(done: int, total: int, images: int) -> None:
        progress.update(task, completed=done, total=total, images=images)

    with _errors_reported(progress):
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
    from bproc_factory.dataset import merge_datasets

    with _errors_reported():
        summary = merge_datasets(list(datasets), output)
    dup = f" ({summary.duplicates} duplicates kept once)" if summary.duplicates else ""
    _say(f"Merged {summary.sources} datasets: {summary.images} images{dup} -> {summary.output}")


@app.command()
def preview(config: Annotated[Optional[Path], typer.Argument(
                help="Scenario YAML file (default: the built-in designer preview, demo assets on the --scene's "
                     "placement areas).", show_default=False)] = None,
            output: Annotated[Path, typer.Option("-o", "--output", help="PNG contact sheet to write.")] =
            Path("preview.png"),
            count: Annotated[int, typer.Option("-n", "--count", min=1, help="Images.")] = 6,
            width: Annotated[int, typer.Option(min=16, help="Image width in pixels (K scaled).")] = 320,
            samples: Annotated[int, typer.Option(min=1, help="Cycles samples.")] = 8,
            scene: Annotated[Optional[Path], typer.Option(help="Render in this scene (.blend or backplate YAML) "
                                                               "instead of the config's.")] = None,
            seed: SeedOpt = 0, set_: SetOpt = None) -> None:
    """Render a few small, low-sample images and show them with their masks as one PNG."""
    from bproc_factory.run import render_preview

    with _errors_reported():
        summary = render_preview(config, output, count, width, samples, seed, tuple(set_ or ()), scene)
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
           focal_px: Annotated[Optional[float], typer.Option(
               min=1.0, help="Without turntable markers: the camera's focal length in pixels at the capture's "
                             "size, if known (else a phone's 64 deg horizontal field of view is assumed).")] = None,
           segmenter: Annotated[str, typer.Option(help="u2netp (default, offline saliency model) or chroma "
                                                       "(green/blue screen).")] = "u2netp",
           max_views: Annotated[int, typer.Option(min=6, help="Views kept, spread evenly around the object.")] = 72,
           walk_around: Annotated[bool, typer.Option("--walk-around", help="The camera was carried around the "
                                                     "still object (rings at one or more heights), not a "
                                                     "turntable.")] = False,
           faces: Annotated[int, typer.Option(min=500, help="Face budget of the mesh (quadric decimation).")] = 10000,
           texture_size: Annotated[Optional[int], typer.Option(
               min=64, max=8192, help="Texels per side of the mesh's texture atlas (default: twice the "
                                      "frames' resolution of the object, 256 to 4096).")] = None,
           force: Annotated[bool, typer.Option(help="Replace an existing asset folder of that name.")] = False,
           each: Annotated[bool, typer.Option(help="SOURCE is a folder of photos of different items (product "
                                                   "shots, generated images): one billboard asset per photo.")]
           = False,
           quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False) -> None:
    """Turn a capture of one object into an asset folder: segmented views, masks, billboard cards
    and a textured mesh (cameras from the turntable sheet's markers, else from structure-from-motion
    on the object itself, which needs --height-m); or, with --each, one single-card
    billboard asset per photo."""
    from bproc_factory.ingest import IngestOptions
    from bproc_factory.ingest import ingest as run_ingest

    if not category or (not name and not each):
        err.print("[bold red]error:[/] give --category, and --name (except with --each)")
        raise typer.Exit(2)
    opts = IngestOptions(name=name or "", category=category, assets_dir=output, height_m=height_m,
                         focal_px=focal_px, segmenter=segmenter, max_views=max_views, walk_around=walk_around,
                         max_faces=faces, texture_size=texture_size, force=force)
    if each:
        _ingest_each(source, opts)
        return
    progress = _bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    disable=quiet, transient=True)
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
    from bproc_factory.ingest import ingest_each

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
    from bproc_factory.ingest import write_sheet

    with _errors_reported():
        layout = write_sheet(output, dpi)
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
    from bproc_factory.sensor import import_calibration

    with _errors_reported():
        profile = import_calibration(calibration, output, camera_id, sensor_width_mm)
    if sensor_width_mm is None:
        err.print("[yellow]note:[/] no --sensor-width-mm: depth of field will assume a 36 mm (full-frame) "
                  "sensor; give the real width for a realistic depth of field")
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
    from bproc_factory.sensor import comparison_path, fit_profile

    comparison = comparison or comparison_path(output)
    with _errors_reported():
        fit = fit_profile(output, chart, corners, pairs, comparison, name)
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
    from bproc_factory.qa import compare_with_dataset

    with _errors_reported():
        findings, verdict = compare_with_dataset(real, dataset, output)
    for f in findings:
        _say(f"{f.stat:>11}: real {f.real:9.4g}  synthetic {f.synthetic:9.4g}  {f.verdict}")
    _say(f"-> {verdict}")


@app.command()
def schema(asset: Annotated[bool, typer.Option("--asset", help="Print the asset.yaml schema "
                                                              "instead.")] = False) -> None:
    """Print the JSON Schema of scenario configs (or of asset.yaml)."""
    from bproc_factory.assets import AssetSpec
    from bproc_factory.config import Scenario

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


def _unexpected(exc: Exception) -> str:
    """One paragraph for an error no check foresaw; the traceback goes to a file it names, for a
    bug report, instead of the terminal."""
    log = Path(tempfile.gettempdir()) / f"bproc-factory-error-{os.getpid()}.log"
    try:
        log.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
        where = f" (details for a bug report: {log})"
    except OSError:
        where = ""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "") + where
    return f"unexpected {type(exc).__name__}: {exc}{where}"


def main() -> None:
    """Console entry point. Exits with ``os._exit`` once ``bpy`` is loaded: the bpy wheel can crash
    in its C++ static destructors after Python has shut down, turning success into a segfault."""
    try:
        app()  # standalone mode: prints usage errors itself and ends with SystemExit
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except FactoryError as exc:  # from a command that has no _errors_reported of its own
        code = exc.exit_code
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    except Exception as exc:  # not a FactoryError: a fault of the machine (disk full) or of ours
        code = 1
        err.print(f"[bold red]error:[/] {escape(_unexpected(exc))}", highlight=False, soft_wrap=True)
    if "bpy" in sys.modules:
        shutil.rmtree(sys.modules["bpy"].app.tempdir, ignore_errors=True)  # os._exit skips it
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
