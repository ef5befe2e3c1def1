"""Blender's view transforms (AgX, Filmic) and their looks outside Blender, through OpenColorIO with
the OCIO config that ships inside the ``bpy`` wheel: scene-linear Rec.709 -> sRGB display values.

The processor is built as Blender builds its display processor: a look is applied in its own process
space by a ``LookTransform``, then the display/view transform runs with looks bypassed. Found by
path, so ``bpy`` itself is never imported here.
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from bproc_factory.config import VIEW_LOOKS

VIEWS = {"agx": "AgX", "filmic": "Filmic"}
# a look's config key -> its name in Blender's OCIO config, per view
LOOKS = {"agx": {k: "AgX - " + k.replace("_", " ").title() for k in VIEW_LOOKS["agx"]},
         "filmic": {k: k.replace("_", " ").title() for k in VIEW_LOOKS["filmic"]}}
SCENE_LINEAR = "Linear Rec.709"
DISPLAY = "sRGB"


def ocio_config_path() -> Path:
    """The OCIO config inside the installed ``bpy`` wheel (found without importing bpy)."""
    spec = importlib.util.find_spec("bpy")
    found = sorted(Path(spec.origin).parent.glob("*/datafiles/colormanagement/config.ocio")) if spec and spec.origin \
        else []
    if not found:
        raise FileNotFoundError("the bpy wheel's OCIO config (bpy/<version>/datafiles/colormanagement/config.ocio) "
                                "was not found; reinstall bpy")
    return found[-1]


@functools.lru_cache(maxsize=16)
def _processor(view: str, look: str | None):
    import PyOpenColorIO as OCIO

    config = OCIO.Config.CreateFromFile(str(ocio_config_path()))
    group, source = OCIO.GroupTransform(), SCENE_LINEAR
    if look is not None:
        name = LOOKS[view][look]
        space = config.getLook(name).getProcessSpace()
        group.appendTransform(OCIO.LookTransform(src=source, dst=space, looks=name))
        source = space
    display = OCIO.DisplayViewTransform(src=source, display=DISPLAY, view=VIEWS[view])
    display.setLooksBypass(look is not None)
    group.appendTransform(display)
    return config.getProcessor(group).getDefaultCPUProcessor()


def view_encode(linear: np.ndarray, view: str, look: str | None = None) -> np.ndarray:
    """Scene-linear RGB (HxWx3) -> display RGB in [0, 1] by Blender's ``view`` (agx, filmic) and ``look``."""
    out = np.ascontiguousarray(linear, dtype=np.float32).copy()
    _processor(view, look).applyRGB(out)
    return np.clip(out, 0.0, 1.0)

