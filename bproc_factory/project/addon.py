"""``bproc-factory addon``: the Blender add-on as a zip that Blender's Install from Disk accepts.

The add-on's source is ``bproc_factory/blender/addon/``; the zip holds it as the package
``bproc_factory_addon`` (its own name in Blender, independent of the factory's install).
"""
from __future__ import annotations

import ast
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bproc_factory.dataset import atomic_write_bytes
from bproc_factory.errors import FactoryError

SOURCE = Path(__file__).resolve().parent.parent / "blender" / "addon"
MODULE = "bproc_factory_addon"


@dataclass(frozen=True)
class AddonZip:
    """What ``addon`` wrote: the zip, the add-on's version and the oldest Blender it supports."""

    path: Path
    version: tuple[int, ...]
    blender: tuple[int, ...]


def addon_info() -> dict:
    """The add-on's ``bl_info``, read from its source without importing it (it needs ``bpy``)."""
    tree = ast.parse((SOURCE / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "bl_info" for t in node.targets):
            return ast.literal_eval(node.value)
    raise FactoryError(f"{SOURCE / '__init__.py'}: no bl_info (a broken install of bproc_factory)")


def build_addon(output: Path) -> AddonZip:
    """Write the add-on zip to ``output`` (a ``.zip``; replaced if it exists, atomically)."""
    output = Path(output)
    if output.suffix.lower() != ".zip":
        raise FactoryError(f"{output}: -o must name a .zip file (Blender installs add-ons from zips)")
    if output.is_dir():
        raise FactoryError(f"{output}: is a folder; -o names the .zip file to write")
    info = addon_info()
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(SOURCE.glob("*.py")):  # fixed dates: the same source gives the same zip
            entry = zipfile.ZipInfo(f"{MODULE}/{path.name}", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(entry, path.read_bytes(), zipfile.ZIP_DEFLATED)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(output, data.getvalue())
    except OSError as exc:
        raise FactoryError(f"{output}: cannot write the add-on zip: {exc.strerror or exc}") from exc
    return AddonZip(output, tuple(info["version"]), tuple(info["blender"]))
