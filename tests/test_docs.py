"""The docs stay true: the generated config reference is current, every config field is described,
the README stays short, and relative links in README.md and docs/*.md resolve (fast; no bpy)."""
from __future__ import annotations

import functools
import importlib.util
import re
import sys
import typing
from pathlib import Path

from pydantic import BaseModel

from bproc_factory.config.camera import CameraProfile
from bproc_factory.config.scenario import LightingPreset, Scenario
from bproc_factory.config.sensor import SensorProfile

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README_MAX_LINES = 250


@functools.cache
def _reference_module():
    """docs/make_config_reference.py, imported by path (docs/ is no package)."""
    name = "make_config_reference"
    spec = importlib.util.spec_from_file_location(name, DOCS / "make_config_reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_config_reference_is_current():
    expected = _reference_module().render()
    committed = (DOCS / "config-reference.md").read_text(encoding="utf-8")
    assert committed == expected, ("docs/config-reference.md is stale: run "
                                   "`python docs/make_config_reference.py` and commit the result")


def _models_in(tp: typing.Any):
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        yield tp
        return
    for arg in typing.get_args(tp):
        yield from _models_in(arg)


def _reachable_models() -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.append(model)
        for field in model.model_fields.values():
            for sub in _models_in(field.annotation):
                walk(sub)

    for root in (Scenario, CameraProfile, SensorProfile, LightingPreset):
        walk(root)
    return seen


def test_every_config_field_has_a_description():
    models = _reachable_models()
    names = {m.__name__ for m in models}
    assert {"ObjectGroup", "Intrinsics", "Noise", "Dust", "Uniform", "NormalParams"} <= names  # the walk reaches deep
    missing = [f"{m.__module__}.{m.__name__}.{name}" for m in models
               for name, field in m.model_fields.items() if not (field.description or "").strip()]
    assert not missing, "fields without Field(description=...): " + ", ".join(missing)


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (f"README.md has {len(lines)} lines (at most {README_MAX_LINES}); "
                                            "move detail into docs/")


_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """Markdown without fenced code blocks and inline code, where link syntax is not a link."""
    return _CODE.sub("", _FENCE.sub("", text))


def _anchors(page: Path) -> set[str]:
    slug = _reference_module().slug
    return {slug(re.sub(r"[`*]", "", h)) for h in _HEADING.findall(_prose(page.read_text(encoding="utf-8")))}


def _doc_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def test_relative_links_resolve():
    problems, checked = [], 0
    for page in _doc_pages():
        for target in _LINK.findall(_prose(page.read_text(encoding="utf-8"))):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
                continue
            path_part, _, fragment = target.partition("#")
            dest = (page.parent / path_part).resolve() if path_part else page
            checked += 1
            where = f"{page.relative_to(ROOT)}: ({target})"
            if not dest.exists():
                problems.append(f"{where}: {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest} "
                                "does not exist")
            elif fragment and dest.suffix == ".md" and fragment not in _anchors(dest):
                problems.append(f"{where}: no heading '#{fragment}' in {dest.relative_to(ROOT)}")
    assert checked > 10
    assert not problems, "broken links:\n  " + "\n  ".join(problems)
