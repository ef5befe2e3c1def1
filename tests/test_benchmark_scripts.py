"""The benchmark scripts still run (a tiny size each; the photoreal one renders), so a change in the
library cannot leave one broken until the next time someone measures."""
import importlib.util
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

from bproc_factory.config import load_scenario


def _benchmark(name: str):
    """The script ``benchmarks/NAME.py`` as a module."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # a dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def test_the_validate_benchmark_runs_on_a_tiny_dataset():
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "validate_benchmark.py"), "-n", "4"],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 worker(s): 4 images (24 annotations)" in result.stdout


@pytest.mark.render
def test_the_photoreal_benchmark_measures_from_the_old_demo_to_todays_and_every_step_is_a_valid_config(tmp_path):
    rows = _benchmark("photoreal_benchmark").steps(tmp_path)
    assert len(rows) == 7
    for _, config in rows:
        load_scenario(config)  # every step is a valid scenario with its assets
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "photoreal_benchmark.py"), "-n", "1",
                             "--resolution", "48x36", "--skip-clipping", "--ends-only"], capture_output=True, text=True,
                            timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith(("before", "+"))]
    assert len(lines) == 2 and lines[0].split()[-2] == "1.00x" and "today's demo" in lines[-1], result.stdout


def test_the_quality_benchmark_estimates_the_error_against_the_noise_free_image_from_two_noisy_references():
    rng = np.random.default_rng(3)
    truth = rng.uniform(40, 210, (120, 160, 3))
    image = truth + 2.0 + rng.normal(0, 3, truth.shape)  # a bias and noise: MSE 13 against the truth
    ref1, ref2 = (truth + rng.normal(0, 6, truth.shape) for _ in range(2))  # each noisier than the image
    module = _benchmark("quality_benchmark")
    true_mse = module.mse(image, truth)
    assert module.mse(image, ref1) > 3 * true_mse  # one noisy reference overstates the error
    assert module.converged_mse(image, ref1, ref2) == pytest.approx(true_mse, rel=0.03)


def test_every_setting_of_the_quality_benchmark_is_a_valid_override_of_the_demo():
    for sets in _benchmark("quality_benchmark").settings(0.1).values():
        load_scenario(REPO / "configs" / "demo.yaml", [*sets, "render.noise_pattern=2"])
