"""Stage facades that load lazily: a package lists the names other stages may use, by the module
that defines them, and each is imported on first use (PEP 562), so importing one stage does not
pull in every other stage's heavy dependencies (matplotlib, scipy, trimesh, Blender)."""
from __future__ import annotations

import importlib
from typing import Any, Callable


def facade(package: str, exports: dict[str, list[str]]) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for ``package`` exporting ``exports``
    (submodule name -> the names it provides)."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{where[name]}"), name)

    def __dir__() -> list[str]:
        return sorted(where)

    return sorted(where, key=str.lower), __getattr__, __dir__
