"""The ``bproc-factory`` command line: render, check and schema (a thin layer over the library)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
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
    from bproc_factory.config.loader import ConfigError
    from bproc_factory.dataset import DatasetError
    from bproc_factory.placement import PlacementError

    errors: tuple[type[Exception], ...] = (ConfigError, DatasetError, PlacementError)
    if "bproc_factory.blender.scene" in sys.modules:
        errors += (sys.modules["bproc_factory.blender.scene"].SceneError,)
    return errors


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(2)


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
    from bproc_factory.runner import render_dataset

    progress = Progress(TextColumn("[bold]rendering"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[instances]} instances"), TimeElapsedColumn(),
                        TextColumn("ETA"), TimeRemainingColumn(), console=err, disable=quiet)
    task = progress.add_task("render", total=count, instances=0)
    totals = {"instances": 0}

    def on_total(todo: int) -> None:
        progress.update(task, total=todo)

    def on_progress(done: int, instances: int) -> None:
        totals["instances"] += instances
        progress.update(task, completed=done, instances=totals["instances"])

    try:
        with progress:
            summary = render_dataset(config, output, count, start=start, seed=seed,
                                     overrides=tuple(set_ or ()), on_progress=on_progress,
                                     on_total=on_total)
    except _user_errors() as exc:
        _fail(exc)
    skipped = f", {summary.skipped} already complete" if summary.skipped else ""
    out.print(f"Rendered {summary.rendered} images ({summary.instances} instances{skipped}) in "
              f"{summary.seconds:.1f} s, {summary.seconds_per_image:.2f} s/image on "
              f"{summary.device} -> {summary.output}", highlight=False, soft_wrap=True)


@app.command()
def check(config: ConfigArg, set_: SetOpt = None,
          scenes: Annotated[int, typer.Option(min=0, help="Scenes to plan as a placement trial.")] = 3,
          ) -> None:
    """Validate a config, its assets and scene, and trial-plan a few scenes, without rendering."""
    from bproc_factory.config.loader import load_scenario
    from bproc_factory.plan import category_ids, check_fit, plan_scene, resolve_assets

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
        code = app(standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        err.print("aborted")
        code = 130
    except KeyboardInterrupt:
        err.print("interrupted: finished images are kept; re-run the same command to resume")
        code = 130
    except Exception as exc:  # click usage errors and the like carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            code = exc.exit_code
        else:
            raise
    code = int(code or 0)
    if "bpy" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
