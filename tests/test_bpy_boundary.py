"""Only bproc_factory.blender imports bpy, and the stage packages import each other downward only.

Three checks: a static one (every import statement and ``importlib.import_module``/``__import__``
call with a constant name, at module level or inside functions, read from the source with ``ast``),
a runtime one (every module outside the blender subpackage imports with bpy made unimportable), and
the layering of the stage packages (a package imports only lower layers, or itself).
"""
from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import TABLETOP, cli

import bproc_factory

PACKAGE = Path(bproc_factory.__file__).resolve().parent
BLENDER_ONLY = ("bpy", "blenderproc")

# Lowest first. A package may import a package of a lower layer, or itself; nothing else.
LAYERS: dict[str, int] = {
    "errors": 0, "facade": 0, "timing": 0, "shipped": 0,  # leaf utilities that import nothing of the package
    "config": 1,
    "dataset": 2,
    "sensor": 3,
    "assets": 4,
    "plan": 5,
    "labels": 6,
    "blender": 7,
    "qa": 8, "ingest": 8,
    "run": 9, "project": 9, "evaluate": 9,
    "cli": 10, "__main__": 10, "__init__": 10,
}
# Imports between packages of the same layer that the layering allows on purpose.
SAME_LAYER_ALLOWED = {
    ("__main__", "cli"),   # ``python -m bproc_factory`` is the command line
}
# Names of bproc_factory/__init__.py that any package may import.
PUBLIC_TOP_LEVEL = {"__version__"}


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    module: str  # absolute dotted name: "M" for ``import M`` and for ``from M import a``
    from_names: tuple[str, ...] = ()  # ("a",) for ``from M import a`` (one Import per name)


def source_files(under: Path = PACKAGE) -> list[Path]:
    return sorted(p for p in under.rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(path: Path, root: Path, level: int, module: str | None) -> str:
    package = _module_name(path, root).split(".")
    if path.name != "__init__.py":
        package.pop()  # a module's package
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def imports_of(path: Path, root: Path = PACKAGE) -> list[Import]:
    """Every import in the file, wherever it is (module level, functions, ``if TYPE_CHECKING``,
    ``try``), plus ``importlib.import_module("x")`` and ``__import__("x")`` with a constant name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []
    for node in sorted(ast.walk(tree), key=lambda n: getattr(n, "lineno", 0)):
        if isinstance(node, ast.Import):
            found += [Import(path, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = (_resolve_relative(path, root, node.level, node.module) if node.level else node.module) or ""
            found += [Import(path, node.lineno, module, (alias.name,)) for alias in node.names]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            if name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                found.append(Import(path, node.lineno, node.args[0].value))
    return found


def _where(imp: Import, root: Path = PACKAGE) -> str:
    return f"{imp.path.relative_to(root.parent)}:{imp.line}"


def _component(path: Path, root: Path = PACKAGE) -> str:
    """The layered unit a file belongs to: its stage subpackage, or errors, cli, __main__, __init__."""
    rel = path.relative_to(root)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _target_components(imp: Import, root: Path = PACKAGE) -> list[tuple[str, str]]:
    """(component, what) for each bproc_factory unit the import reaches; [] for third-party."""
    parts = imp.module.split(".")
    if parts[0] != "bproc_factory":
        return []
    if len(parts) > 1:
        return [(parts[1], imp.module + (f" ({', '.join(imp.from_names)})" if imp.from_names else ""))]
    out = []
    for name in imp.from_names or ("",):  # ``from bproc_factory import X``: a subpackage, or a name of __init__
        if name and ((root / name / "__init__.py").is_file() or (root / f"{name}.py").is_file()):
            out.append((name, f"bproc_factory.{name}"))
        else:
            out.append(("__init__", f"bproc_factory.{name}" if name else "bproc_factory"))
    return out


def _is_blender_only(module: str) -> bool:
    return module.split(".")[0] in BLENDER_ONLY


def test_the_static_checks_see_every_kind_of_import(tmp_path):
    root = tmp_path / "bproc_factory"
    sample = root / "qa" / "sample.py"
    sample.parent.mkdir(parents=True)
    sample.write_text("import bpy.types\nimport os, blenderproc as bproc\nfrom bpy import data\n"
                      "def f():\n    from blenderproc.python import x\n    import importlib\n"
                      "    importlib.import_module('bpy')\n    return __import__('bpy.ops')\n"
                      "from ..config import loader\nfrom . import report\n", encoding="utf-8")
    found = imports_of(sample, root)
    assert [(i.line, i.module) for i in found if _is_blender_only(i.module)] == [
        (1, "bpy.types"), (2, "blenderproc"), (3, "bpy"), (5, "blenderproc.python"), (7, "bpy"), (8, "bpy.ops")]
    assert {i.module for i in found} >= {"bproc_factory.config", "bproc_factory.qa"}


def test_no_module_outside_the_blender_subpackage_mentions_bpy_or_blenderproc_in_an_import():
    files = [p for p in source_files() if "blender" not in p.relative_to(PACKAGE).parts[:1]]
    assert PACKAGE / "cli.py" in files and PACKAGE / "plan" / "scene.py" in files
    offending = [f"{_where(i)} imports {i.module}" for p in files for i in imports_of(p) if _is_blender_only(i.module)]
    assert not offending, "bpy/blenderproc imported outside bproc_factory/blender:\n" + "\n".join(offending)


def test_every_module_outside_the_blender_subpackage_imports_without_bpy():
    names = [m.name for m in pkgutil.walk_packages(bproc_factory.__path__, "bproc_factory.")
             if not m.name.startswith("bproc_factory.blender") and m.name != "bproc_factory.__main__"]
    assert "bproc_factory.plan.scene" in names and "bproc_factory.cli" in names
    code = ("import sys; sys.modules['bpy'] = None; sys.modules['blenderproc'] = None\n"
            f"import importlib\nfor n in {names!r}: importlib.import_module(n)\n"
            "assert sys.modules['bpy'] is None")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_part_of_the_package_has_a_layer():
    parts = {p.name if p.is_dir() else p.stem for p in PACKAGE.iterdir()
             if (p.is_dir() and (p / "__init__.py").is_file()) or p.suffix == ".py"}
    assert parts - LAYERS.keys() == set(), "add these to LAYERS in tests/test_bpy_boundary.py"


def layering_violations(root: Path = PACKAGE) -> list[str]:
    """Each import against LAYERS, as "file:line imports X (layer a importer -> layer b imported)"."""
    problems = []
    for path in source_files(root):
        importer = _component(path, root)
        if importer == "__init__":
            continue  # bproc_factory/__init__.py may import anything (lazily)
        for imp in imports_of(path, root):
            for target, what in _target_components(imp, root):
                if target == importer or (importer, target) in SAME_LAYER_ALLOWED:
                    continue
                if target == "__init__" and imp.from_names and set(imp.from_names) <= PUBLIC_TOP_LEVEL:
                    continue
                a, b = LAYERS.get(importer), LAYERS.get(target)
                if a is None or b is None or b >= a:
                    problems.append(f"{_where(imp, root)} imports {what} (layer {a} {importer} -> layer {b} {target})")
    return problems


def test_the_layering_check_finds_upward_and_sideways_imports(tmp_path):
    root = tmp_path / "bproc_factory"
    files = {
        "__init__.py": "__version__ = '0'\ndef lazy():\n    from bproc_factory.cli import app\n",
        "errors.py": "",
        "cli.py": "from bproc_factory.run import job\n",
        "plan/__init__.py": "",
        "plan/scene.py": "from bproc_factory import __version__\nfrom bproc_factory.assets import asset\n"
                         "def late():\n    from bproc_factory.labels.amodal import frame_groups\n",
        "qa/__init__.py": "",
        "qa/report.py": "from bproc_factory.ingest import markers\nfrom . import table\n",
        "sensor/__init__.py": "from bproc_factory import dataset, errors\nfrom bproc_factory.plan import scene\n",
        "dataset/__init__.py": "import bproc_factory\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    assert layering_violations(root) == [
        "bproc_factory/dataset/__init__.py:1 imports bproc_factory (layer 2 dataset -> layer 10 __init__)",
        "bproc_factory/plan/scene.py:4 imports bproc_factory.labels.amodal (frame_groups) (layer 5 plan -> layer 6 labels)",
        "bproc_factory/qa/report.py:1 imports bproc_factory.ingest (markers) (layer 8 qa -> layer 8 ingest)",
        "bproc_factory/sensor/__init__.py:2 imports bproc_factory.plan (scene) (layer 3 sensor -> layer 5 plan)",
    ]


def test_packages_import_only_lower_layers():
    problems = layering_violations()
    assert not problems, f"{len(problems)} imports against the layering:\n" + "\n".join(problems)


def test_a_test_without_the_render_marker_can_neither_render_nor_load_bpy_through_the_cli():
    with pytest.raises(AssertionError, match="mark it @pytest.mark.render"):
        cli("render", "scenario.yaml", "-o", "out", "-n", "1")
    result = cli("scene", "check", TABLETOP)  # a .blend is read with bpy
    assert result.returncode != 0
    assert "bpy imported by a test without @pytest.mark.render" in result.stderr


def facade_violations(root: Path = PACKAGE) -> list[str]:
    """Imports that reach into another stage package past its facade, or ask the facade for a
    name it does not list in ``__all__``."""
    stages = {p.name for p in root.iterdir() if (p / "__init__.py").is_file()}
    exported = {}
    for stage in stages:
        tree = ast.parse((root / stage / "__init__.py").read_text(encoding="utf-8"))
        exported[stage] = set(_facade_names(tree))
    problems = []
    for path in source_files(root):
        own = _component(path, root)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bproc_factory.")):
                continue
            parts = node.module.split(".")
            if parts[1] not in stages or parts[1] == own:
                continue
            where = f"{path.relative_to(root.parent)}:{node.lineno}"
            if len(parts) > 2:
                problems.append(f"{where} imports {node.module} past the {parts[1]} facade")
            for alias in node.names:
                if alias.name not in exported[parts[1]]:
                    problems.append(f"{where} imports {alias.name}, which bproc_factory.{parts[1]} does not export")
    return problems


def _facade_names(tree: ast.Module) -> list[str]:
    """The names a facade exports: the string lists in its ``facade(__name__, {...})`` call."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "facade":
            return [elt.value for value in node.args[1].values for elt in value.elts]
    return []


def test_stages_use_each_other_only_through_their_facades():
    assert facade_violations() == []


def test_every_facade_name_exists_in_the_module_it_names():
    for info in pkgutil.iter_modules(bproc_factory.__path__):
        if not info.ispkg or info.name == "blender":
            continue
        package = __import__(f"bproc_factory.{info.name}", fromlist=["__all__"])
        assert package.__all__, info.name
        for name in package.__all__:
            assert getattr(package, name) is not None, f"bproc_factory.{info.name}.{name}"


def test_the_facade_check_finds_imports_past_a_facade(tmp_path):
    root = tmp_path / "bproc_factory"
    files = {"__init__.py": "", "plan/__init__.py": "facade(__name__, {'scene': ['plan_scene']})\n",
             "plan/scene.py": "def plan_scene(): pass\n",
             "run/__init__.py": "facade(__name__, {})\n",
             "run/job.py": "from bproc_factory.plan.scene import plan_scene\nfrom bproc_factory.plan import secret\n"
                           "from bproc_factory.plan import plan_scene\n"}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    assert facade_violations(root) == [
        "bproc_factory/run/job.py:1 imports bproc_factory.plan.scene past the plan facade",
        "bproc_factory/run/job.py:2 imports secret, which bproc_factory.plan does not export"]
