"""Shards (pure): a deterministic, disjoint slice of a run's image indices per array task.

A run of images ``start .. start+count-1`` is cut into ``n`` contiguous blocks of whole scenes
(so no scene is planned twice); shard ``i`` renders block ``i`` into ``OUT/shard-i-of-n``, which
gets a ``COMPLETE`` marker only once every one of its images is there. ``merge`` (or any reader of
the shard folders) combines them without renumbering.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from bproc_factory.config import ConfigError

COMPLETE_FILE = "COMPLETE"
SHARD_NAME = re.compile(r"shard-\d+-of-\d+")
# (index variable, count variable, first index variable) of the array-job schedulers we know
ARRAY_ENV = (("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN"),
             ("JOB_COMPLETION_INDEX", "BPF_SHARD_COUNT", None),  # Kubernetes Indexed Job
             ("AWS_BATCH_JOB_ARRAY_INDEX", "BPF_SHARD_COUNT", None))


def parse_shard(text: str, env: Mapping[str, str] = os.environ) -> tuple[int, int]:
    """``I/N`` (0 <= I < N), or ``env``: the array task's index and count from the environment."""
    if text == "env":
        return shard_from_env(env)
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not match:
        raise ConfigError(f"--shard: expected I/N (for example 3/16) or 'env', got '{text}'")
    i, n = int(match.group(1)), int(match.group(2))
    if not 0 <= i < n:
        raise ConfigError(f"--shard: index {i} is not in 0..{n - 1}")
    return i, n


def shard_from_env(env: Mapping[str, str]) -> tuple[int, int]:
    """The shard of this array task, from Slurm, Kubernetes Indexed Job or AWS Batch variables."""
    for index_var, count_var, first_var in ARRAY_ENV:
        if index_var not in env:
            continue
        if count_var not in env:
            raise ConfigError(f"--shard env: {index_var} is set but {count_var} (the number of shards) is not")
        try:
            first = int(env[first_var]) if first_var and first_var in env else 0
            return parse_shard(f"{int(env[index_var]) - first}/{int(env[count_var])}")
        except ValueError:
            raise ConfigError(f"--shard env: {index_var}={env[index_var]!r} / {count_var}={env[count_var]!r} "
                              "are not integers") from None
    names = ", ".join(index for index, _, _ in ARRAY_ENV)
    raise ConfigError(f"--shard env: none of {names} is set")


def shard_range(start: int, count: int, views_per_scene: int, i: int, n: int) -> tuple[int, int]:
    """``(first, count)`` of shard ``i`` of ``n``: a contiguous block of whole scenes (the scenes
    cut by ``start`` or the end count as whole); shards are disjoint and cover the run exactly."""
    end = start + count
    first_scene, last_scene = start // views_per_scene, (end - 1) // views_per_scene
    scenes = last_scene - first_scene + 1
    lo = first_scene + scenes * i // n
    hi = first_scene + scenes * (i + 1) // n
    a = max(start, lo * views_per_scene)
    b = min(end, hi * views_per_scene)
    return a, max(0, b - a)


def shard_folder(output: Path, i: int, n: int) -> Path:
    width = max(3, len(str(n - 1)))
    return output / f"shard-{i:0{width}d}-of-{n:0{width}d}"
