"""Where the files the factory ships live: scenes, scenario configs, demo assets, material library.

A source checkout (or an editable install) uses the repository's own folders; a wheel carries copies
inside the package (``setup.py`` puts them in ``bproc_factory/_shipped/``), so any install finds them.
"""
from __future__ import annotations

from pathlib import Path

FOLDERS = ("configs", "scenes", "assets", "materials")  # setup.py copies the same list
_PACKAGE = Path(__file__).resolve().parent


def shipped(folder: str) -> Path:
    """The shipped folder ``folder`` (one of ``FOLDERS``): packaged copy first, then the checkout's."""
    for root in (_PACKAGE / "_shipped", _PACKAGE.parent):
        if (root / folder).is_dir():
            return root / folder
    raise FileNotFoundError(f"this install of bproc_factory ({_PACKAGE}) has no shipped '{folder}' folder; "
                            f"reinstall it (pip install bproc_factory) or run from a source checkout")
