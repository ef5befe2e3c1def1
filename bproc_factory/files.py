"""File placement shared by exports and merges: hard links where possible, atomic either way."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def link_or_copy(src: Path, dst: Path) -> None:
    """Make ``dst`` a hard link to ``src`` (a copy across file systems), replacing it atomically."""
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp")
    os.close(fd)
    os.unlink(tmp)
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def require_empty(folder: Path, what: str) -> None:
    """Refuse to write into a folder that already holds files."""
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"{folder}: {what} output folder is not empty; choose a new one")
