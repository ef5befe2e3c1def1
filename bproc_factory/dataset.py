"""The dataset folder contract: layout, atomic writes, resume, and COCO rebuilt from meta files.

An image is complete when its image, mask and meta files all exist; meta is written last, each
file atomically (temp name + rename), so a killed run never leaves a partial file in place.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bproc_factory import __version__

RUN_FILE = "run.json"
COCO_FILE = "coco.json"


class DatasetError(RuntimeError):
    """The output folder cannot be used as asked; the message says why and what to do."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one, never a part."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any, indent: int | None = 1) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=indent, sort_keys=True) + "\n").encode("utf-8"))


def encode_image(array: np.ndarray, suffix: str, jpeg_quality: int = 95) -> bytes:
    """PNG/JPEG bytes of an RGB uint8 image or a uint16 single-channel map."""
    img = array[..., ::-1] if array.ndim == 3 else array
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if suffix == ".jpg" else \
        [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, buf = cv2.imencode(suffix, img, params)
    if not ok:
        raise RuntimeError(f"could not encode a {suffix} image")
    return buf.tobytes()


class Dataset:
    """Paths and bookkeeping of one output folder."""

    def __init__(self, root: Path, image_suffix: str = ".png") -> None:
        self.root = Path(root)
        self.image_suffix = image_suffix

    def image_path(self, i: int) -> Path:
        return self.root / "images" / f"{i:06d}{self.image_suffix}"

    def mask_path(self, i: int) -> Path:
        return self.root / "masks" / f"{i:06d}.png"

    def meta_path(self, i: int) -> Path:
        return self.root / "meta" / f"{i:06d}.json"

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
        if getattr(self, "_created", False) and not any(p.is_file() for p in self.root.rglob("*")):
            shutil.rmtree(self.root, ignore_errors=True)

    def claim(self, identity: dict[str, Any]) -> None:
        """Record which config and seed this folder holds; refuse to mix in another run's images."""
        path = self.root / RUN_FILE
        if path.exists():
            try:
                existing = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise DatasetError(f"{path}: unreadable ({exc}); move the folder aside") from None
            for key in ("config_sha256", "run_seed", "image_suffix"):
                if existing.get(key) != identity.get(key):
                    raise DatasetError(
                        f"{self.root} holds a run with a different {key} ({existing.get(key)} vs "
                        f"{identity.get(key)}); render into a new output folder")
            return
        atomic_write_json(path, identity)

    def is_complete(self, i: int) -> bool:
        return self.meta_path(i).is_file() and self.image_path(i).is_file() and self.mask_path(i).is_file()

    def missing(self, indices: range | list[int]) -> list[int]:
        return [i for i in indices if not self.is_complete(i)]

    def remove_stale_temp_files(self) -> None:
        """Delete temp files a killed run left behind (they never shadow complete files)."""
        for sub in ("", "images", "masks", "meta"):
            for tmp in (self.root / sub).glob(".*.tmp"):
                tmp.unlink(missing_ok=True)

    def write_image(self, i: int, rgb8: np.ndarray, instances: np.ndarray, meta: dict[str, Any],
                    jpeg_quality: int) -> None:
        """Write one image's files; meta goes last and marks the image complete."""
        atomic_write_bytes(self.image_path(i), encode_image(rgb8, self.image_suffix, jpeg_quality))
        atomic_write_bytes(self.mask_path(i), encode_image(instances.astype(np.uint16), ".png"))
        atomic_write_json(self.meta_path(i), meta)

    def complete_indices(self) -> list[int]:
        return sorted(int(p.stem) for p in (self.root / "meta").glob("*.json")
                      if p.stem.isdigit() and self.is_complete(int(p.stem)))

    def write_coco(self) -> dict[str, Any]:
        """Rebuild ``coco.json`` from every complete image's meta file, atomically."""
        identity = json.loads((self.root / RUN_FILE).read_text(encoding="utf-8"))
        images, annotations = [], []
        for i in self.complete_indices():
            meta = json.loads(self.meta_path(i).read_text(encoding="utf-8"))
            images.append({"id": i, "file_name": meta["file_name"], "width": meta["width"],
                           "height": meta["height"]})
            annotations.extend(meta["annotations"])
        coco = {
            "info": {"description": "bproc_factory dataset", "version": __version__,
                     "config_sha256": identity["config_sha256"], "run_seed": identity["run_seed"]},
            "licenses": [],
            "categories": [{"id": cid, "name": name, "supercategory": name}
                           for name, cid in sorted(identity["categories"].items(), key=lambda kv: kv[1])],
            "images": images,
            "annotations": annotations,
        }
        atomic_write_json(self.root / COCO_FILE, coco, indent=None)
        return coco
