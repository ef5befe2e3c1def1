"""The dataset folder contract: layout, atomic writes, resume, and COCO rebuilt from meta records.

An image is complete when its image, mask and meta files exist and the meta parses; meta is
written last, each file atomically (temp name, fsync, rename), so a killed run never leaves a
partial file in place. ``coco.json`` is always rewritten whole from the per-image records.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bproc_factory import __version__
from bproc_factory.dataset.files import (
    atomic_write_bytes,
    atomic_write_json,
    create_json,
    process_alive,
    temp_owner,
)
from bproc_factory.errors import FactoryError

RUN_FILE = "run.json"
COCO_FILE = "coco.json"
IDENTITY_KEYS = ("config_sha256", "run_seed", "image_suffix", "inputs")
LOCK_FILE = ".lock"
LINEAR_DIR = "linear"
LOCK_ENV = "BPROC_FACTORY_LOCKED_BY"  # set by a worker driver to its process id: its workers share its lock
STALE_TEMP_AGE_S = 600  # a temp file this old belongs to no live writer (writes take milliseconds)


class DatasetError(FactoryError, RuntimeError):
    """The output folder cannot be used as asked; the message says why and what to do."""


def encode_image(array: np.ndarray, suffix: str, jpeg_quality: int = 95) -> bytes:
    """PNG/JPEG bytes of an RGB uint8 image or a uint16 single-channel map."""
    img = array[..., ::-1] if array.ndim == 3 else array
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if suffix == ".jpg" else \
        [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, buf = cv2.imencode(suffix, img, params)
    if not ok:
        raise RuntimeError(f"could not encode a {suffix} image")
    return buf.tobytes()


HALF_MAX = 65504.0  # the largest finite half float


def half_linear(linear: np.ndarray) -> np.ndarray:
    """A scene-linear image at the precision ``linear/`` keeps it (half float, as float32), so an
    image developed from the kept file equals the one developed straight after the render."""
    return np.clip(linear, -HALF_MAX, HALF_MAX).astype(np.float16).astype(np.float32)


def encode_linear(linear: np.ndarray) -> bytes:
    """Half-float, ZIP-compressed OpenEXR bytes of a scene-linear RGB image (values kept exactly
    when already at half precision)."""
    os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # OpenCV reads the variable when it is used
    ok, buf = cv2.imencode(".exr", np.ascontiguousarray(linear[..., ::-1], np.float32),
                           [cv2.IMWRITE_EXR_TYPE, cv2.IMWRITE_EXR_TYPE_HALF,
                            cv2.IMWRITE_EXR_COMPRESSION, cv2.IMWRITE_EXR_COMPRESSION_ZIP])
    if not ok:
        raise RuntimeError("could not encode a linear EXR image")
    return buf.tobytes()


def coco_record(meta: dict[str, Any]) -> dict[str, Any]:
    """What the dataset-level files need of an image's meta: its COCO image entry and annotations
    (for ``coco.json``), and its provenance and subset (for ``DATASET.md``)."""
    return {"image": {"id": meta["image_index"], "file_name": meta["file_name"],
                      "width": meta["width"], "height": meta["height"]},
            "annotations": meta["annotations"], "provenance": meta.get("provenance", {}),
            "subset": meta.get("subset")}


class NotADatasetError(FactoryError, ValueError):
    """The folder is not a bproc_factory dataset; the message names it."""


def not_a_dataset(root: Path, needs: str, exc: Exception) -> NotADatasetError:
    """The error for a folder that cannot be read as a dataset, saying why in words."""
    if not root.is_dir():
        why = "no such folder" if not root.exists() else "a file, not a folder"
    elif isinstance(exc, FileNotFoundError) and exc.filename:
        why = f"no {Path(exc.filename).name} in it"
    elif isinstance(exc, OSError):
        why = f"{Path(exc.filename or '').name}: {exc.strerror or exc}"
    else:
        why = f"a file in it is not valid JSON: {exc}"
    return NotADatasetError(f"{root}: not a readable bproc_factory dataset (needs {needs}): {why}")


class Dataset:
    """Paths and bookkeeping of one output folder; ``Dataset.open`` reads a finished one back."""

    def __init__(self, root: Path, image_suffix: str = ".png") -> None:
        self.root = Path(root)
        self.image_suffix = image_suffix
        self._created = False

    @classmethod
    def open(cls, root: str | Path) -> Dataset:
        """A dataset written by ``render`` or ``merge``; refuses a folder without ``run.json``."""
        root = Path(root)
        try:
            identity = json.loads((root / RUN_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise not_a_dataset(root, RUN_FILE, exc) from None
        return cls(root, identity.get("image_suffix", ".png"))

    def indices(self) -> list[int]:
        """The image indices whose meta is written (complete images), in order."""
        return sorted(int(p.stem) for p in (self.root / "meta").glob("*.json") if p.stem.isdigit())

    def image(self, i: int) -> np.ndarray:
        """Image ``i`` as RGB uint8 (HxWx3)."""
        return cv2.imread(str(self.image_path(i)), cv2.IMREAD_COLOR)[..., ::-1]

    def mask(self, i: int) -> np.ndarray:
        """Image ``i``'s instance map (uint16; 0 is background, else the meta's instance id)."""
        return cv2.imread(str(self.mask_path(i)), cv2.IMREAD_UNCHANGED)

    def meta(self, i: int) -> dict[str, Any]:
        """Image ``i``'s meta record: every sampled value, its objects and annotations."""
        return json.loads(self.meta_path(i).read_text(encoding="utf-8"))

    def coco(self) -> dict[str, Any]:
        """The dataset's ``coco.json``."""
        return json.loads((self.root / COCO_FILE).read_text(encoding="utf-8"))

    def image_path(self, i: int) -> Path:
        return self.root / "images" / f"{i:06d}{self.image_suffix}"

    def mask_path(self, i: int) -> Path:
        return self.root / "masks" / f"{i:06d}.png"

    def meta_path(self, i: int) -> Path:
        return self.root / "meta" / f"{i:06d}.json"

    def linear_path(self, i: int) -> Path:
        """Image ``i``'s kept scene-linear render (``render.keep_linear``)."""
        return self.root / LINEAR_DIR / f"{i:06d}.exr"

    def linear(self, i: int) -> np.ndarray | None:
        """Image ``i``'s kept scene-linear render as float32 RGB, or None when it is missing or unreadable."""
        os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
        image = cv2.imread(str(self.linear_path(i)), cv2.IMREAD_UNCHANGED) if self.linear_path(i).is_file() else None
        if image is None or image.ndim != 3 or image.shape[2] != 3:
            return None
        return image[..., ::-1].astype(np.float32)

    def check_writable(self) -> None:
        """Fail early, with the folder named, when the output cannot be created or written."""
        self._created = not self.root.exists()
        try:
            for sub in ("", "images", "masks", "meta"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise DatasetError(f"cannot write to output folder {self.root}: "
                               f"{exc.strerror or exc}") from None

    def discard_if_unused(self) -> None:
        """Remove the folder again if ``check_writable`` created it and nothing was written since."""
        if self._created and not any(p.is_file() and p.name != LOCK_FILE for p in self.root.rglob("*")):
            shutil.rmtree(self.root, ignore_errors=True)

    def claim(self, identity: dict[str, Any]) -> dict[str, Any]:
        """Record which config, inputs and seed this folder holds; refuse to mix in another run.
        The record is created atomically (of two runs claiming a new folder at once, one wins and
        the other is refused). Returns the identity on disk (a merged folder's keeps its record of
        the sources)."""
        if create_json(self.root / RUN_FILE, identity):
            return identity
        return self.check_claim(identity)

    def check_claim(self, identity: dict[str, Any]) -> dict[str, Any]:
        """Refuse, writing nothing, when the folder holds another run; its identity on disk, or
        ``identity`` when the folder holds none yet."""
        path = self.root / RUN_FILE
        if not path.exists():
            return identity
        try:
            existing = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path}: unreadable ({exc}); move the folder aside") from None
        for key in IDENTITY_KEYS:
            if existing.get(key) != identity.get(key):
                raise DatasetError(f"{self.root} holds a run with a different {key} "
                                   f"({_difference(existing.get(key), identity.get(key))}); "
                                   "render into a new output folder")
        return existing

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the folder's lock (``.lock``, an advisory lock the system drops when the process
        dies) for a whole run: a second run on the folder, the same command twice included, is
        refused at once. A worker whose driver holds the lock (``LOCK_ENV`` names the driver's
        process) works under the driver's lock."""
        path = self.root / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            if holder and os.environ.get(LOCK_ENV) == holder and str(os.getppid()) == holder:
                yield
                return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DatasetError(f"{self.root}: another bproc-factory run (process {holder or '?'}) is "
                                   "writing into this folder; wait for it to end, or render into another "
                                   "output folder") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the lock

    def remove_stale_temp_files(self) -> None:
        """Delete temp files a killed writer left behind: those of processes no longer running
        here, and any older than ``STALE_TEMP_AGE_S`` (writers on other machines)."""
        cutoff = time.time() - STALE_TEMP_AGE_S
        for sub in ("", "images", "masks", "meta", LINEAR_DIR):
            for tmp in (self.root / sub).glob(".*.tmp"):
                owner = temp_owner(tmp)
                if (owner is not None and not process_alive(owner)) or tmp.stat().st_mtime < cutoff:
                    tmp.unlink(missing_ok=True)

    def write_image(self, i: int, rgb8: np.ndarray, instances: np.ndarray, meta: dict[str, Any],
                    jpeg_quality: int, linear: np.ndarray | None = None) -> None:
        """Write one image's files (with ``linear``, its scene-linear render too); meta goes last
        and marks the image complete."""
        if linear is not None:
            self.linear_path(i).parent.mkdir(exist_ok=True)
            atomic_write_bytes(self.linear_path(i), encode_linear(linear))
        atomic_write_bytes(self.image_path(i), encode_image(rgb8, self.image_suffix, jpeg_quality))
        atomic_write_bytes(self.mask_path(i), encode_image(instances.astype(np.uint16), ".png"))
        atomic_write_json(self.meta_path(i), meta)

    def load_records(self) -> tuple[dict[int, dict[str, Any]], list[Path]]:
        """COCO records of every complete image, and the files that make an image incomplete
        although all three exist: a meta that does not parse, an image or mask cut short or of
        another size than its meta says (checked from the files' first and last bytes)."""
        records, broken = {}, []
        for path in sorted((self.root / "meta").glob("*.json")):
            if not path.stem.isdigit():
                continue
            i = int(path.stem)
            if not (self.image_path(i).is_file() and self.mask_path(i).is_file()):
                continue
            try:
                record = coco_record(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError, KeyError, TypeError):
                broken.append(path)
                continue
            size = (record["image"]["width"], record["image"]["height"])
            damaged = [p for p in (self.image_path(i), self.mask_path(i)) if not image_file_whole(p, size)]
            if damaged:
                broken += damaged
            else:
                records[i] = record
        return records, broken

    def write_coco(self, records: dict[int, dict[str, Any]], categories: dict[str, int],
                   identity: dict[str, Any]) -> None:
        """Rewrite ``coco.json`` whole and atomically from the given per-image records."""
        coco = {
            "info": {"description": "bproc_factory dataset", "version": __version__,
                     "config_sha256": identity["config_sha256"], "run_seed": identity["run_seed"]},
            "licenses": [],
            "categories": [{"id": cid, "name": name, "supercategory": name}
                           for name, cid in sorted(categories.items(), key=lambda kv: kv[1])],
            "images": [records[i]["image"] for i in sorted(records)],
            "annotations": [a for i in sorted(records) for a in records[i]["annotations"]],
        }
        atomic_write_json(self.root / COCO_FILE, coco, indent=None)


def _difference(old: Any, new: Any) -> str:
    """A short description of how two identity values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        inner = [f"{k}: {_difference(old.get(k), new.get(k))}" for k in changed[:3]]
        return "; ".join(inner)
    return f"{old} vs {new}"


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def image_file_whole(path: Path, size: tuple[int, int]) -> bool:
    """Whether a PNG or JPEG file as the writers make them is whole (a PNG ends with its IEND
    chunk, a JPEG with its end marker) and, for a PNG, ``size`` (width, height) as its header says;
    reads a few bytes only, so resuming a large dataset stays fast."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
            f.seek(max(0, os.fstat(f.fileno()).st_size - 12))
            tail = f.read(12)
    except OSError:
        return False
    if head.startswith(_PNG_SIGNATURE):
        return tail == _PNG_END and (int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")) == size
    return head.startswith(b"\xff\xd8") and tail.endswith(b"\xff\xd9")
