"""Only bproc_factory.blender imports bpy: everything else works with bpy made unimportable."""
import pkgutil
import subprocess
import sys

import bproc_factory


def test_every_module_outside_the_blender_subpackage_imports_without_bpy():
    names = [m.name for m in pkgutil.walk_packages(bproc_factory.__path__, "bproc_factory.")
             if not m.name.startswith("bproc_factory.blender") and m.name != "bproc_factory.__main__"]
    assert "bproc_factory.plan.scene" in names and "bproc_factory.cli" in names
    code = ("import sys; sys.modules['bpy'] = None; sys.modules['blenderproc'] = None\n"
            f"import importlib\nfor n in {names!r}: importlib.import_module(n)\n"
            "assert sys.modules['bpy'] is None")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
