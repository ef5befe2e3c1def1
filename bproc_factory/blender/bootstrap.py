"""Make BlenderProc 2.8.0 importable inside a plain ``python`` process that has the ``bpy`` wheel.

BlenderProc 2.8.0 expects to be started by ``blenderproc run`` inside Blender's bundled Python.
This module is the only place that knows the workarounds (see shared notes, "blenderproc-on-bpy"):
the guard environment variable, the pip-installing ``SetupUtility.setup``, the removal of
site-packages from ``sys.path``, the ``en_US`` language preference set by ``bproc.init``, and
GitPython (imported by BlenderProc's V-HACD wrapper), which fails to import where no ``git`` is installed.
"""
from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

_INSIDE = "INSIDE_OF_THE_INTERNAL_BLENDER_PYTHON_ENVIRONMENT"
_OUTSIDE = "OUTSIDE_OF_THE_INTERNAL_BLENDER_PYTHON_ENVIRONMENT_BUT_IN_RUN_SCRIPT"
_state: dict[str, ModuleType] = {}


def import_blenderproc(temp_dir: str) -> ModuleType:
    """Import and return the ``blenderproc`` package with its API loaded; idempotent per process.

    ``temp_dir`` is where BlenderProc writes its intermediate render files.
    """
    if "bproc" in _state:
        _set_temp_dir(temp_dir)
        return _state["bproc"]
    # OpenCV reads this flag when it first decodes an EXR; BlenderProc's and our read-back need it.
    os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
    # GitPython raises ImportError at import without a git executable (slim images have none); the
    # factory never runs git, so let it import quietly.
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    import bpy  # noqa: F401  (bpy must be imported before BlenderProc's modules)

    # 1. Import the package shell without its API: the "outside" flag skips the run-script guard.
    os.environ[_OUTSIDE] = "1"
    import blenderproc
    from blenderproc.python.utility.SetupUtility import SetupUtility

    # 2. The real setup pip-installs into Blender's own Python; only its temp-dir part is wanted.
    SetupUtility.setup = staticmethod(lambda *args, **kwargs: sys.argv)
    SetupUtility.setup_utility_paths(temp_dir)

    # 3. Re-run the package init with the "inside" flag to load the API. It removes the package's
    #    parent (site-packages) from sys.path before importing the API, so give it a duplicate entry
    #    to remove; afterwards restore sys.path and PYTHONPATH exactly.
    saved_path, saved_pythonpath = list(sys.path), os.environ.get("PYTHONPATH")
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(blenderproc.__file__), "..")))
    os.environ[_INSIDE] = "1"
    try:
        blenderproc = importlib.reload(blenderproc)
    finally:
        sys.path[:] = saved_path
        if saved_pythonpath is not None:
            os.environ["PYTHONPATH"] = saved_pythonpath
        del os.environ[_INSIDE]
        del os.environ[_OUTSIDE]
    _state["bproc"] = blenderproc
    return blenderproc


def api() -> ModuleType:
    """The BlenderProc package imported by ``import_blenderproc`` (which must have run first)."""
    return _state["bproc"]


def _set_temp_dir(temp_dir: str) -> None:
    from blenderproc.python.utility.SetupUtility import SetupUtility

    SetupUtility.setup_utility_paths(temp_dir)


def init_renderer() -> None:
    """The part of ``bproc.init()`` the factory needs, without its ``en_US`` locale switch (the wheel
    ships no locales, so that raises) and without its scene clean-up and default parameters: the
    open scene (a designer's .blend) is kept, and render settings come from the scenario."""
    import bpy
    from blenderproc.python.renderer import RendererUtility
    from blenderproc.python.utility.GlobalStorage import GlobalStorage

    bpy.context.scene.render.engine = "CYCLES"
    RendererUtility.render_init()
    RendererUtility.toggle_light_tree(False)
    # BlenderProc keeps registered render outputs for the whole process and refuses the same key
    # with a new path: forget the previous session's, so one process can render several scenes.
    GlobalStorage.set("output", [])
