"""The Python API's render: the same render as the CLI's, run in a child ``bproc-factory render``
process, so the caller's process never loads Blender (the bpy wheel can crash when a process that
loaded it exits) and gets the finished dataset back."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bproc_factory.config import LoadedScenario
from bproc_factory.dataset import Dataset
from bproc_factory.errors import FactoryError
from bproc_factory.run.dispatch import check_device


def render(scenario: str | Path | LoadedScenario, output: str | Path, count: int, *, seed: int = 0, start: int = 0,
           overrides: tuple[str, ...] = (), device: str = "auto", workers: int = 1, quiet: bool = True) -> Dataset:
    """Render images ``start .. start+count-1`` of (scenario, seed) into ``output`` and return the
    dataset; complete images already there are kept. ``scenario`` is a config path or what
    ``load_scenario`` returned (its file and overrides are handed to the child). Failures raise a
    ``FactoryError`` with the child's message and exit code."""
    check_device(device)
    if isinstance(scenario, LoadedScenario):
        config, overrides = scenario.path, scenario.overrides + tuple(overrides)
    else:
        config = Path(scenario)
    cmd = [sys.executable, "-m", "bproc_factory", "render", str(config), "-o", str(output), "-n", str(count),
           "--seed", str(seed), "--start", str(start), "--device", device, "--workers", str(workers),
           *[arg for o in overrides for arg in ("--set", o)], *(["-q"] if quiet else [])]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        error = FactoryError(proc.stderr.strip().removeprefix("error: ") or f"render exited {proc.returncode}")
        error.exit_code = proc.returncode
        raise error
    return Dataset.open(output)
