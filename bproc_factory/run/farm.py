"""Render a run as shards on a Ray cluster (or a local one), then merge them.

Each Ray task renders one shard (``bproc-factory render --shard I/N`` in a child process, so bpy's
memory goes with it; ``max_calls`` also recycles the Ray worker). Tasks are retried by Ray on
failure; a shard already marked ``COMPLETE`` is skipped, so re-running the command resumes. Shards
go to ``OUT/shards/shard-I-of-N`` and are merged (hard links, no renumbering) into ``OUT/dataset``.
The output folder must be on storage every node can reach.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bproc_factory.config import ConfigError, load_scenario
from bproc_factory.dataset import COMPLETE_FILE, link_or_copy, merge_datasets, shard_folder
from bproc_factory.errors import RenderError
from bproc_factory.run.dispatch import check_device

SHARDS_DIR = "shards"
DATASET_DIR = "dataset"
POLL_S = 1.0


@dataclass(frozen=True)
class FarmSummary:
    output: Path
    shards: int
    skipped: int  # already complete before this run
    images: int
    seconds: float
    resources: dict[str, float]


def render_shard(config: str, output: str, count: int, start: int, seed: int, overrides: tuple[str, ...],
                 shard: int, shards: int, device: str) -> str:
    """One shard, in a child process; raises (so Ray retries) when it fails."""
    sets = [arg for o in overrides for arg in ("--set", o)]
    cmd = [sys.executable, "-m", "bproc_factory", "render", config, "-o", output, "-n", str(count),
           "--start", str(start), "--seed", str(seed), "--shard", f"{shard}/{shards}", "--device", device,
           "-q", *sets]
    result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise RenderError(f"shard {shard}/{shards} exited {result.returncode}:\n{result.stderr.strip()[-2000:]}")
    return result.stdout.strip()


def run_farm(config: Path, output: Path, count: int, start: int = 0, seed: int = 0, overrides: tuple[str, ...] = (),
         shards: int | None = None, ray_address: str | None = None, retries: int = 2, max_calls: int = 1,
         device: str = "auto", on_progress: Callable[[int, int, int], None] | None = None) -> FarmSummary:
    """Render images ``start .. start+count-1`` as Ray tasks, one shard each, and merge them.
    ``on_progress(shards done, shards, images done)`` is called as shards finish."""
    t0 = time.perf_counter()
    check_device(device)
    views = load_scenario(config, overrides).scenario.views_per_scene  # bad config: one clear error
    scenes = (start + count - 1) // views - start // views + 1
    n = shards or min(scenes, 64)
    if n > scenes:
        raise ConfigError(f"--shards: {n} shards for {scenes} scenes; use 1..{scenes}")
    root = output / SHARDS_DIR
    root.mkdir(parents=True, exist_ok=True)
    folders = [shard_folder(root, i, n) for i in range(n)]
    todo = [i for i in range(n) if not (folders[i] / COMPLETE_FILE).is_file()]
    resources: dict[str, float] = {}
    if todo:
        args = (str(config.resolve()), str(root), count, start, seed, overrides)
        resources = _run_tasks(args, folders, todo, ray_address, retries, max_calls, device, on_progress)
    merged = output / DATASET_DIR
    if merged.exists():
        shutil.rmtree(merged)  # derived from the shards; rebuilt whole
    if n == 1:
        shutil.copytree(folders[0], merged, copy_function=lambda src, dst: link_or_copy(Path(src), Path(dst)))
        (merged / COMPLETE_FILE).unlink()
    else:
        merge_datasets(folders, merged)
    return FarmSummary(output=merged, shards=n, skipped=n - len(todo), images=_images_done(folders),
                       seconds=time.perf_counter() - t0, resources=resources)


def _run_tasks(args: tuple, folders: list[Path], todo: list[int], ray_address: str | None, retries: int,
               max_calls: int, device: str, on_progress: Callable[[int, int, int], None] | None) -> dict[str, float]:
    """Run the shards in ``todo`` as Ray tasks (``args``: the run's common arguments); returns
    the cluster's resources."""
    import ray

    n = len(folders)
    ray.init(address=ray_address, ignore_reinit_error=True, log_to_driver=False,
             include_dashboard=False, configure_logging=False)
    try:
        resources = dict(ray.cluster_resources())
        gpus = 1 if resources.get("GPU", 0) >= 1 else 0
        task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=retries, retry_exceptions=True,
                          max_calls=max_calls)(render_shard)
        pending = {task.remote(*args, i, n, device): i for i in todo}
        done = n - len(todo)
        while pending:
            if on_progress:
                on_progress(done, n, _images_done(folders))
            ready, _ = ray.wait(list(pending), timeout=POLL_S)
            for ref in ready:
                i = pending.pop(ref)
                try:
                    ray.get(ref)
                except Exception as exc:
                    raise RenderError(f"shard {i}/{n} failed after {retries} retries: {_cause(exc)}") from None
                done += 1
        if on_progress:
            on_progress(done, n, _images_done(folders))
    finally:
        ray.shutdown()
    return resources


def _images_done(folders: list[Path]) -> int:
    return sum(len(list((f / "meta").glob("*.json"))) for f in folders if (f / "meta").is_dir())


def _cause(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc
    return str(cause).strip()

