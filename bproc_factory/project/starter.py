"""``bproc-factory init``: a new project folder that works where it is, with no path back to the install.

It holds a starter scenario and a README of what to edit, plus copies of the shipped scenes, demo
assets and example configs (whose relative paths keep working inside the copy). The folder is built
beside its destination and renamed into place, so a failed init leaves nothing behind.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bproc_factory.errors import FactoryError, OutputExistsError
from bproc_factory.shipped import shipped

STARTER = Path(__file__).resolve().parent / "starter"
COPIED = ("scenes", "assets", "configs")  # shipped folders a project gets its own copy of
_NOT_COPIED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.py", "*.blend1")  # build scripts need the repo


@dataclass(frozen=True)
class StarterProject:
    """What ``init`` wrote: the project folder, its scenario and how many files it holds."""

    path: Path
    scenario: Path
    files: int


def init_project(dest: Path) -> StarterProject:
    """Write a starter project into ``dest`` (new or empty); refuse a folder that holds anything."""
    dest = Path(dest).absolute()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise OutputExistsError(f"{dest}: already exists and is not an empty folder; init writes a new project "
                                f"only (choose another folder)")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.init-", dir=dest.parent))
    except OSError as exc:
        raise FactoryError(f"{dest}: cannot create the project folder: {exc.strerror or exc}") from exc
    try:
        for folder in COPIED:
            shutil.copytree(shipped(folder), work / folder, ignore=_NOT_COPIED)
        for name in ("scenario.yaml", "README.md"):
            shutil.copyfile(STARTER / name, work / name)
        if dest.exists():
            dest.rmdir()
        work.rename(dest)
    except OSError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise FactoryError(f"{dest}: cannot write the project: {exc.strerror or exc}") from exc
    return StarterProject(path=dest, scenario=dest / "scenario.yaml",
                          files=sum(1 for p in dest.rglob("*") if p.is_file()))
