"""Build hook: a wheel carries the shipped scenes, scenario configs, demo assets and material library.

They live at the repository's top level (where the docs and scripts use them); a non-editable
install has no repository, so ``build_py`` copies them into ``bproc_factory/_shipped/``, where
``bproc_factory.shipped`` looks first. Editable installs keep using the repository's folders.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = ("configs", "scenes", "assets", "materials")  # the same list as bproc_factory.shipped.FOLDERS


class BuildPyWithShippedFiles(build_py):
    """``build_py`` that also copies the shipped folders into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "bproc_factory" / "_shipped"
        for folder in SHIPPED:
            shutil.copytree(folder, target / folder, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.blend1"))


setup(cmdclass={"build_py": BuildPyWithShippedFiles})
