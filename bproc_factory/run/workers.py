"""Several worker processes on one machine, each recycled after a batch of images.

bpy leaks memory over many scenes in one process, so a worker is a child ``bproc-factory render``
process that renders one batch (at most ``recycle_after`` images, whole scenes) and exits; the
next batch gets a fresh process. Cycles threads are split between the concurrent workers. All
workers write into the same folder (per-image files are atomic and disjoint); a worker that dies
has its batch re-run (only its missing images) up to ``retries`` times, then the images are
reported, never silently lost. ``coco.json`` and the datasheet are rewritten from every image's
meta at the end. With a GPU device (or ``auto``) and several GPUs, each worker slot sees one GPU
through ``CUDA_VISIBLE_DEVICES`` (slots share GPUs round-robin when there are more workers).
"""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from bproc_factory.assets import category_ids, resolve_assets
from bproc_factory.config import ConfigError, LoadedScenario
from bproc_factory.dataset import LOCK_ENV, RUN_FILE, Dataset, read_json, write_datasheet
from bproc_factory.errors import RenderError, Stopped
from bproc_factory.run.job import run_identity

THREADS_ENV = "BPF_CYCLES_THREADS"
GPU_ENV = "CUDA_VISIBLE_DEVICES"
POLL_S = 0.5


@dataclass
class _Batch:
    start: int
    count: int
    tries: int = 0


@dataclass
class WorkersSummary:
    """What a multi-worker run did."""

    output: Path
    requested: int
    workers: int
    rendered: int = 0
    instances: int = 0  # annotations of the images this run completed
    workers_started: int = 0
    retried: list[int] = field(default_factory=list)  # first index of each batch that was re-run
    seconds: float = 0.0


def plan_batches(start: int, count: int, views_per_scene: int, size: int) -> list[tuple[int, int]]:
    """``(first, count)`` batches of whole scenes covering the run, each at most ``size`` images
    (at least one scene)."""
    per_batch = max(1, size // views_per_scene) * views_per_scene
    out, i, end = [], start, start + count
    while i < end:
        stop = min(end, (i // views_per_scene) * views_per_scene + per_batch)
        out.append((i, stop - i))
        i = stop
    return out


def worker_batches(start: int, count: int, views_per_scene: int, workers: int,
                   recycle_after: int) -> list[tuple[int, int]]:
    """The batches workers take: at most ``recycle_after`` images each, and no bigger than a
    worker's share of the run, so a short run still keeps every worker busy."""
    return plan_batches(start, count, views_per_scene, min(recycle_after, -(-count // workers)))


def visible_gpus(environ: dict[str, str], nvidia_smi_listing: str | None) -> list[str]:
    """The GPUs workers may be pinned to: the entries of ``CUDA_VISIBLE_DEVICES`` when set (so a
    scheduler's allocation is respected), else the indices listed by ``nvidia-smi -L``."""
    if GPU_ENV in environ:
        return [g.strip() for g in environ[GPU_ENV].split(",") if g.strip() and g.strip() != "-1"]
    lines = (nvidia_smi_listing or "").splitlines()
    return [str(k) for k, line in enumerate(ln for ln in lines if ln.startswith("GPU "))]


def worker_env(environ: dict[str, str], threads: int, slot: int, gpus: list[str]) -> dict[str, str]:
    """The environment of the worker in ``slot``: its Cycles thread count and, with GPUs, one GPU."""
    env = {**environ, THREADS_ENV: str(threads)}
    if gpus:
        env[GPU_ENV] = gpus[slot % len(gpus)]
    return env


def _nvidia_smi_listing() -> str | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        return subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def render_with_workers(loaded: LoadedScenario, output: Path, count: int, start: int = 0, seed: int = 0,
                        workers: int = 2, recycle_after: int = 50,
                        retries: int = 2, device: str = "auto", on_progress: Callable[[int, int], None] | None = None,
                        stop_requested: Callable[[], str | None] = lambda: None) -> WorkersSummary:
    """Render images ``start .. start+count-1`` with ``workers`` concurrent recycled processes; each
    child is given the config file and the overrides ``loaded`` was made from. Batches hold at most
    ``recycle_after`` images and are small enough that a short run still keeps every worker busy.
    ``on_progress(done, new_instances)`` follows the images as their meta appears."""
    t0 = time.perf_counter()
    views = loaded.scenario.views_per_scene
    assets = resolve_assets(loaded)
    identity = run_identity(loaded, seed, assets, category_ids(loaded, assets))
    dataset = Dataset(output, identity["image_suffix"])
    dataset.check_writable()
    try:
        dataset.check_claim(identity)  # another run's folder is refused before any worker starts
        with dataset.locked():  # held for the workers too (LOCK_ENV)
            queue = deque(_Batch(a, n) for a, n in worker_batches(start, count, views, workers, recycle_after))
            complete = set(_complete(dataset, start, count))
            summary = WorkersSummary(output=output, requested=count, workers=workers)
            threads = max(1, (os.cpu_count() or 1) // workers)
            gpus = [] if device == "cpu" else visible_gpus(dict(os.environ), _nvidia_smi_listing())
            free_slots = list(range(workers))
            running: dict[int, tuple[subprocess.Popen, _Batch, Path, int]] = {}
            failures: list[str] = []
            try:
                while queue or running:
                    reason = stop_requested()
                    if reason:
                        queue.clear()
                        for proc, *_ in running.values():
                            proc.send_signal(signal.SIGTERM)
                    while queue and free_slots and not reason:
                        batch, slot = queue.popleft(), free_slots.pop(0)
                        env = {**worker_env(dict(os.environ), threads, slot, gpus), LOCK_ENV: str(os.getpid())}
                        proc, log = _spawn(loaded.path, output, seed, loaded.overrides, batch, env, device)
                        running[proc.pid] = (proc, batch, log, slot)
                        summary.workers_started += 1
                    time.sleep(POLL_S)
                    for pid, (proc, batch, log, slot) in list(running.items()):
                        if proc.poll() is None:
                            continue
                        del running[pid]
                        free_slots.append(slot)
                        missing = _missing(dataset, batch)
                        if proc.returncode == 2:  # bad input: the same for every worker, so stop here
                            raise ConfigError(_tail(log))
                        if missing and not reason:
                            if batch.tries < retries:
                                batch.tries += 1
                                summary.retried.append(batch.start)
                                queue.appendleft(batch)
                            else:
                                failures.append(f"images {missing} failed {batch.tries + 1} times; last worker "
                                                f"(exit {proc.returncode}) said:\n{_tail(log)}")
                        log.unlink(missing_ok=True)
                    new = [i for i in _complete(dataset, start, count) if i not in complete]
                    complete.update(new)
                    instances = sum(len(read_json(dataset.meta_path(i)).get("annotations", [])) for i in new)
                    summary.instances += instances
                    if on_progress:
                        on_progress(len(complete), instances)
            finally:
                for proc, *_ in running.values():
                    proc.kill()
                _rewrite_dataset_files(dataset)
            summary.rendered = len(list(_complete(dataset, start, count)))
            summary.seconds = time.perf_counter() - t0
            if failures:
                raise RenderError("\n".join(failures))
            reason = stop_requested()
            if reason:
                raise Stopped(f"{reason}: stopped with {summary.rendered} of {count} images complete")
            return summary

    finally:
        dataset.discard_if_unused()


def _spawn(config: Path, output: Path, seed: int, overrides: tuple[str, ...], batch: _Batch,
           env: dict[str, str], device: str) -> tuple[subprocess.Popen, Path]:
    """A worker rendering the batch (what is still missing of it), its output going to a log."""
    log = output / f".worker-{batch.start}-{batch.tries}.log"
    sets = [arg for o in overrides for arg in ("--set", o)]
    cmd = [sys.executable, "-m", "bproc_factory", "render", str(config), "-o", str(output), "-n", str(batch.count),
           "--start", str(batch.start), "--seed", str(seed), "--device", device, "-q", *sets]
    with open(log, "wb") as handle:
        proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, preexec_fn=_die_with_parent)
    return proc, log


def _die_with_parent() -> None:
    """In the child: be killed when the driver dies (Linux), so a killed run leaves no orphan
    writing into the folder while it is re-run."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _missing(dataset: Dataset, batch: _Batch) -> list[int]:
    return [i for i in range(batch.start, batch.start + batch.count) if not dataset.meta_path(i).is_file()]


def _complete(dataset: Dataset, start: int, count: int) -> Iterator[int]:
    """Indices of the run whose meta (written last) exists."""
    return (i for i in range(start, start + count) if dataset.meta_path(i).is_file())


def _tail(log: Path, lines: int = 12) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no output)"


def _rewrite_dataset_files(dataset: Dataset) -> None:
    """coco.json and the datasheet from every complete image's meta (workers each wrote only
    their own view of them)."""
    if not (dataset.root / RUN_FILE).is_file():
        return
    identity = read_json(dataset.root / RUN_FILE)
    dataset = Dataset(dataset.root, identity.get("image_suffix", ".png"))
    records, _ = dataset.load_records()
    dataset.write_coco(records, identity["categories"], identity)
    write_datasheet(dataset.root, identity, records)
