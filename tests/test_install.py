"""A non-editable install works away from the repository: the wheel carries the scenes, configs, demo
assets and material library, and `init` writes a starter project that checks and renders where it is.

The wheel is built from a copy of the source tree and installed with ``--no-deps`` into a fresh
venv whose dependencies come from this venv's site-packages (a ``.pth`` path entry: the editable
install's finder there is not activated), so the ``bproc_factory`` that runs is the wheel's."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, cli
from typer.testing import CliRunner

from bproc_factory.cli import app
from bproc_factory.project import init_project
from bproc_factory.shipped import FOLDERS

NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "out", "runs", "OUT", "*.egg-info",
                                    "__pycache__", ".pytest_cache", "results")


def run(cmd: list[str | Path], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run a command, failing the test with its output when it exits non-zero; returns stdout."""
    result = subprocess.run(list(map(str, cmd)), cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"{cmd} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project built as a wheel from a copy of its source tree (the repository is not written)."""
    work = tmp_path_factory.mktemp("wheel")
    shutil.copytree(REPO, work / "src", ignore=NOT_SOURCE)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", work / "src"], cwd=work)
    return next((work / "dist").glob("bproc_factory-*.whl"))


@pytest.mark.render  # shares the wheel build (seconds) with the install test below
def test_the_wheel_carries_every_shipped_folder_and_the_starter(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for folder in FOLDERS:
        tracked = {p.relative_to(REPO).as_posix() for p in (REPO / folder).rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".blend1")}
        packed = {n.removeprefix("bproc_factory/_shipped/") for n in names if n.startswith(f"bproc_factory/_shipped/{folder}/")}
        assert tracked <= packed, f"{folder}: missing from the wheel: {sorted(tracked - packed)[:5]}"
    assert {"bproc_factory/project/starter/scenario.yaml", "bproc_factory/project/starter/README.md"} <= set(names)


@pytest.mark.render
def test_a_fresh_venvs_wheel_inits_checks_renders_and_builds_the_addon_with_only_its_own_path(wheel, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path)
    fresh_site = Path(run([venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          cwd=tmp_path).strip())
    (fresh_site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--no-deps", "--no-index",
         "-q", wheel], cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=str(venv / "bin"), NO_COLOR="1")  # nothing else: no git either, as in the slim Docker image
    home = tmp_path / "elsewhere"
    home.mkdir()
    where = json.loads(run(["python", "-c", "import json, bproc_factory, bproc_factory.assets.materials as m; "
                                            "print(json.dumps([bproc_factory.__file__, str(m.LIBRARY)]))"],
                           cwd=home, env=env))
    assert all(Path(p).is_relative_to(fresh_site) for p in where), where

    run(["bproc-factory", "init", "project"], cwd=home, env=env)
    assert "OK" in run(["bproc-factory", "check", "project/scenario.yaml"], cwd=home, env=env)
    run(["bproc-factory", "render", "project/scenario.yaml", "-o", "out", "-n", "1", "-q",
         "--set", "camera.resolution=[80,60]", "--set", "render.samples=2", "--set", "render.denoiser=none",
         "--set", "surfaces={materials: [wood], probability: 1.0}"], cwd=home, env=env)
    run(["bproc-factory", "validate", "out"], cwd=home, env=env)
    run(["bproc-factory", "addon", "-o", "addon.zip"], cwd=home, env=env)  # its source comes from the wheel
    assert "bproc_factory_addon/__init__.py" in zipfile.ZipFile(home / "addon.zip").namelist()
    meta = json.loads((home / "out" / "meta" / "000000.json").read_text())
    assert meta["objects"], "the starter scene rendered no objects"
    assert "wood" in json.dumps(meta["sampled"]), "the library material (from the wheel) was not used"


@pytest.mark.render  # check opens the .blend scenes with bpy (in a child process)
def test_init_writes_a_project_whose_scenario_and_example_configs_check_where_they_are(tmp_path):
    project = init_project(tmp_path / "mine")
    assert project.scenario.is_file() and (project.path / "README.md").is_file()
    assert not list(project.path.rglob("*.py")), "build scripts need the repository; they are not copied"
    for config in [project.scenario, project.path / "configs" / "worstcase-industrial.yaml"]:
        result = cli("check", config, "--scenes", "1", check=True)
        assert str(project.path / "scenes") in result.stdout  # its own copy, not the repository's scene


def test_init_refuses_a_folder_that_holds_anything_and_writes_nothing(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["init", str(target)])
    assert result.exit_code == 2
    assert str(target) in result.output and "not an empty folder" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["taken"] and [p.name for p in target.iterdir()] == ["notes.txt"]
