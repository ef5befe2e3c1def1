"""The benchmark scripts that need no rendering still run (a tiny size each), so a change in the
library cannot leave one broken until the next time someone measures."""
import subprocess
import sys

from conftest import REPO


def test_the_validate_benchmark_runs_on_a_tiny_dataset():
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "validate_benchmark.py"), "-n", "4"],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 worker(s): 4 images (24 annotations)" in result.stdout
