"""The benchmark scripts still run (a tiny size each; the photoreal one renders), so a change in the
library cannot leave one broken until the next time someone measures."""
import importlib.util
import subprocess
import sys

import pytest
from conftest import REPO

from bproc_factory.config import load_scenario


def test_the_validate_benchmark_runs_on_a_tiny_dataset():
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "validate_benchmark.py"), "-n", "4"],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 worker(s): 4 images (24 annotations)" in result.stdout


@pytest.mark.render
def test_the_photoreal_benchmark_measures_from_the_old_demo_to_todays_and_every_step_is_a_valid_config(tmp_path):
    spec = importlib.util.spec_from_file_location("photoreal_benchmark", REPO / "benchmarks" / "photoreal_benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.steps(tmp_path)
    assert len(rows) == 7
    for _, config in rows:
        load_scenario(config)  # every step is a valid scenario with its assets
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "photoreal_benchmark.py"), "-n", "1",
                             "--resolution", "48x36", "--skip-clipping", "--ends-only"], capture_output=True, text=True,
                            timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith(("before", "+"))]
    assert len(lines) == 2 and lines[0].split()[-2] == "1.00x" and "today's demo" in lines[-1], result.stdout
