"""The benchmark scripts still run (a tiny size each; the photoreal one renders), so a change in the
library cannot leave one broken until the next time someone measures."""
import subprocess
import sys

import pytest
from conftest import REPO


def test_the_validate_benchmark_runs_on_a_tiny_dataset():
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "validate_benchmark.py"), "-n", "4"],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 worker(s): 4 images (24 annotations)" in result.stdout


@pytest.mark.render
def test_the_photoreal_benchmark_measures_every_step_from_the_old_demo_to_todays():
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "photoreal_benchmark.py"), "-n", "1",
                             "--resolution", "48x36", "--skip-clipping"], capture_output=True, text=True, timeout=600,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith(("before", "+"))]
    assert len(rows) == 7 and rows[0].split()[-2] == "1.00x" and "today's demo" in rows[-1], result.stdout
