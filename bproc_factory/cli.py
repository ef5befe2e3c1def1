"""The ``bproc-factory`` command line: render, check and schema (a thin layer over the library)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from bproc_factory import __version__

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  help="Synthetic-data factory: scenario YAML -> Cycles renders with exact instance "
                       "masks and COCO labels.")
err = Console(stderr=True)
out = Console()

ConfigArg = Annotated[Path, typer.Argument(help="Scenario YAML file.", show_default=False)]
SetOpt = Annotated[Optional[list[str]], typer.Option(
    "--set", help="Override a config value: key.path=value (YAML), e.g. render.samples=16 or "
                  "objects[0].count={uniform: [1, 3]}. Repeatable.")]


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors caused by the user's input: reported as one message with exit code 2."""
    from bproc_factory.config.loader import ConfigError
    from bproc_factory.dataset import DatasetError
    from bproc_factory.placement import PlacementError
    from bproc_factory.errors import SceneError

    return ConfigError, DatasetError, PlacementError, SceneError


def _fail(exc: BaseException, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


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


@app.command()
def render(config: ConfigArg,
           output: Annotated[Path, typer.Option("-o", "--output", help="Dataset folder to write.")],
           count: Annotated[int, typer.Option("-n", "--count", min=1, help="Number of images.")],
           seed: Annotated[int, typer.Option(min=0, help="Run seed: image i depends only on "
                                                         "(config, seed, i).")] = 0,
           start: Annotated[int, typer.Option(min=0, help="First global image index.")] = 0,
           set_: SetOpt = None,
           quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False) -> None:
    """Render images START..START+COUNT-1 into OUTPUT; complete images already there are skipped."""
    from bproc_factory.errors import RenderError, Stopped
    from bproc_factory.runner import render_dataset

    progress = Progress(TextColumn("[bold]rendering"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[instances]} instances"), TimeElapsedColumn(),
                        TextColumn("ETA"), TimeRemainingColumn(), console=err, disable=quiet)
    task = progress.add_task("render", total=count, instances=0, start=False)
    totals = {"instances": 0}

    def on_total(todo: int) -> None:  # called once the config is valid: only then show the bar
        progress.update(task, total=todo)
        progress.start_task(task)
        progress.start()

    def on_progress(done: int, instances: int) -> None:
        totals["instances"] += instances
        progress.update(task, completed=done, instances=totals["instances"])

    stop = _StopOnSignal()
    try:
        summary = render_dataset(config, output, count, start=start, seed=seed,
                                 overrides=tuple(set_ or ()), on_progress=on_progress,
                                 on_total=on_total, stop_requested=stop)
    except _user_errors() as exc:
        progress.stop()
        _fail(exc)
    except RenderError as exc:
        progress.stop()
        _fail(exc, code=1)
    except (Stopped, KeyboardInterrupt) as exc:
        progress.stop()
        err.print(f"{exc or 'interrupted'}; finished images are kept and listed in coco.json; "
                  "re-run the same command to render the rest", highlight=False)
        raise typer.Exit(143 if stop.reason == "terminated" else 130) from None
    progress.stop()
    for warning in summary.warnings:
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    skipped = f", {summary.skipped} already complete" if summary.skipped else ""
    out.print(f"Rendered {summary.rendered} images ({summary.instances} instances{skipped}) in "
              f"{summary.seconds:.1f} s, {summary.seconds_per_image:.2f} s/image on "
              f"{summary.device} -> {summary.output}", highlight=False, soft_wrap=True)


@app.command()
def check(config: ConfigArg, set_: SetOpt = None,
          scenes: Annotated[int, typer.Option(min=0, help="Scenes to plan as a placement trial.")] = 3,
          ) -> None:
    """Validate a config, its assets and scene, and trial-plan a few scenes, without rendering."""
    from bproc_factory.assets import resolve_assets
    from bproc_factory.categories import category_ids
    from bproc_factory.config.loader import load_scenario
    from bproc_factory.fit import check_fit
    from bproc_factory.plan import plan_scene

    try:
        loaded = load_scenario(config, tuple(set_ or ()))
        assets = resolve_assets(loaded)
        categories = category_ids(loaded, assets)
        from bproc_factory.blender.scene import inspect_scene

        info = inspect_scene(loaded.resolve(loaded.scenario.scene))
        check_fit(loaded, assets, info)
        v = loaded.scenario.views_per_scene
        for s in range(scenes):
            plan_scene(loaded, assets, info, 0, s, list(range(s * v, s * v + v)))
    except _user_errors() as exc:
        _fail(exc)
    areas = ", ".join(f"{a.name} ({a.size_xy[0]:.2f} x {a.size_xy[1]:.2f} m)" for a in info.placement_areas)
    out.print(f"OK {loaded.path}\n  scene: {loaded.resolve(loaded.scenario.scene)}\n"
              f"  placement areas: {areas}\n  categories: {categories}\n"
              f"  config sha256: {loaded.sha256}", highlight=False, soft_wrap=True)


@app.command()
def schema(asset: Annotated[bool, typer.Option("--asset", help="Print the asset.yaml schema "
                                                              "instead.")] = False) -> None:
    """Print the JSON Schema of scenario configs (or of asset.yaml)."""
    from bproc_factory.assets import AssetSpec
    from bproc_factory.config.scenario import Scenario

    model = AssetSpec if asset else Scenario
    out.print_json(json.dumps(model.model_json_schema()))


def _version(value: bool) -> None:
    if value:
        out.print(f"bproc_factory {__version__}")
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
