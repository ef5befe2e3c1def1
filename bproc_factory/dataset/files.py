"""Atomic file placement: readers see the old file or the whole new one, never a part of one."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np

from bproc_factory.errors import FactoryError, OutputExistsError

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def replacing(dst: Path) -> Iterator[Path]:
    """A temp path beside ``dst`` to fill; on success it replaces ``dst``, on failure it goes."""
    fd, name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, flushed to disk, with the umask's permissions."""
    with replacing(path) as tmp:
        _fill(tmp, data)


def _fill(tmp: Path, data: bytes) -> None:
    """Write a temp file whole, flushed to disk, with the umask's permissions."""
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would hide datasets on shared storage


PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")


def check_picture_path(path: Path, option: str) -> None:
    """Refuse a picture to write whose name is not .png or .jpg, before any work is done for it."""
    if path.suffix.lower() not in PICTURE_SUFFIXES:
        raise FactoryError(f"{option} {path}: name a .png or .jpg file to write")


def write_picture(path: Path, image: np.ndarray, option: str) -> None:
    """Encode ``image`` (BGR) by the file's suffix and write it atomically, creating its folder;
    errors name ``option`` and the path."""
    check_picture_path(path, option)
    data = cv2.imencode(path.suffix.lower(), image)[1].tobytes()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise FactoryError(f"{option} {path}: cannot write: {exc.strerror or exc}") from None


def atomic_write_json(path: Path, obj: Any, indent: int | None = 1) -> None:
    atomic_write_bytes(path, _json_bytes(obj, indent))


def create_json(path: Path, obj: Any, indent: int | None = 1) -> bool:
    """Write ``path`` whole unless it exists, atomically (a hard link of a full temp file, which
    fails if another writer got there first); False when it already existed."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        _fill(tmp, _json_bytes(obj, indent))
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
    finally:
        tmp.unlink(missing_ok=True)


def _json_bytes(obj: Any, indent: int | None) -> bytes:
    return (json.dumps(obj, indent=indent, sort_keys=True) + "\n").encode("utf-8")


def link_or_copy(src: Path, dst: Path) -> None:
    """Make ``dst`` a hard link to ``src`` (a copy across file systems), atomically."""
    with replacing(dst) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copy2(src, tmp)


def temp_owner(path: Path) -> int | None:
    """The process id written into a temp file's name by ``replacing`` (None if not one of ours)."""
    parts = path.name.split(".")
    return int(parts[-3]) if len(parts) >= 4 and parts[-1] == "tmp" and parts[-3].isdigit() else None


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def require_empty(folder: Path, what: str) -> None:
    """Refuse to write into a folder that already holds files."""
    if folder.exists() and any(folder.iterdir()):
        raise OutputExistsError(f"{folder}: {what} output folder is not empty; choose a new one")


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def folder_images(folder: Path) -> list[Path]:
    """The image files of a folder, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
