"""The procedural material library (pure): YAML specs with parameter ranges, and seeded draws.

A spec names a ``pattern`` (how the surface varies), a base colour in HSV (each a distribution),
roughness, metallic, bump strength and the pattern's scale. Drawing one gives the concrete values
that ``blender.materials`` turns into a Principled BSDF node tree and that meta records.
"""
from __future__ import annotations

import colorsys
import functools
from pathlib import Path
from typing import Annotated, Any, Literal

from bproc_factory.config import (
    ConfigError,
    Distribution,
    LoadedScenario,
    StrictModel,
    bounded,
    draw,
    read_yaml,
    validate,
)
from bproc_factory.shipped import shipped

Fraction = Annotated[Distribution, bounded(ge=0, le=1)]
Positive = Annotated[Distribution, bounded(gt=0)]
PATTERNS = ("plain", "noise", "wood", "brushed", "fabric", "concrete", "cardboard")
LIBRARY = shipped("materials")  # the library shipped with the factory


class MaterialSpec(StrictModel):
    """One library material with the ranges its parameters are drawn from."""

    name: str
    description: str | None = None
    pattern: Literal["plain", "noise", "wood", "brushed", "fabric", "concrete", "cardboard"] = "plain"
    hue: Fraction = 0.0
    saturation: Fraction = 0.0
    value: Fraction = 0.5
    contrast: Fraction = 0.3  # how much darker the pattern's second tone is (0 = none)
    roughness: Fraction = 0.5
    metallic: Fraction = 0.0
    bump: Fraction = 0.0
    pattern_scale: Positive = 10.0
    # optical layers (0 = off)
    anisotropic: Fraction = 0.0  # stretched highlights, as brushed or turned metal (around the object's Z)
    anisotropic_rotation: Fraction = 0.0
    transmission: Fraction = 0.0  # 1 = glass or clear plastic
    ior: Annotated[Distribution, bounded(ge=1.0, le=3.0)] = 1.5
    thin_walled: bool = False  # a thin sheet (film, a window): reflects but does not bend what is behind it
    coat: Fraction = 0.0  # a clear glossy coat over the base, as on printed, varnished cardboard
    coat_roughness: Fraction = 0.05
    subsurface: Fraction = 0.0  # light scattering under the surface, as in fruit, wax or skin
    subsurface_radius_mm: Positive = 5.0
    # surface imperfections (0 = none, 1 = strong)
    roughness_variation: Fraction = 0.0  # patchy gloss
    smudges: Fraction = 0.0  # fingerprints and wipe marks: duller, blotchy patches
    scratches: Fraction = 0.0  # fine random scratch lines
    dust: Fraction = 0.0  # a grey-beige film on upward-facing parts


class Finish(StrictModel):
    """Optical values laid over an asset's own materials, whose colours and textures stay: a printed
    can made metallic, a printed box given a glossy coat. Each value drawn per instance."""

    metallic: Fraction | None = None
    roughness: Fraction | None = None
    anisotropic: Fraction | None = None
    coat: Fraction | None = None
    coat_roughness: Fraction | None = None
    transmission: Fraction | None = None
    ior: Annotated[Distribution, bounded(ge=1.0, le=3.0)] | None = None
    subsurface: Fraction | None = None


def sample_finish(finish: Finish, seed: int, *key: str | int) -> dict[str, float]:
    """The finish's values for one instance, each from its own stream under ``key``."""
    return {k: draw(v, seed, *key, k) for k, v in finish if v is not None}


@functools.lru_cache(maxsize=64)
def load_material(path: Path) -> MaterialSpec:
    """Read and validate one material YAML; errors name the file and key."""
    return validate(MaterialSpec, read_yaml(path), path)


def resolve_material(name_or_path: str, base_dir: Path) -> MaterialSpec:
    """A material by library name (``wood``) or by YAML path relative to ``base_dir``."""
    candidates = [base_dir / name_or_path] if name_or_path.endswith((".yaml", ".yml")) else \
        [LIBRARY / f"{name_or_path}.yaml"]
    for path in candidates:
        if path.is_file():
            return load_material(path.resolve())
    known = ", ".join(sorted(p.stem for p in LIBRARY.glob("*.yaml")))
    raise ConfigError(f"material '{name_or_path}' not found (library: {known})")


def sample_material(spec: MaterialSpec, seed: int, *key: str | int) -> dict[str, Any]:
    """Concrete values of a material, each from its own stream under ``key``."""
    h, s, v = (draw(getattr(spec, k), seed, *key, k) for k in ("hue", "saturation", "value"))
    contrast = draw(spec.contrast, seed, *key, "contrast")
    base = colorsys.hsv_to_rgb(h, s, v)
    second = colorsys.hsv_to_rgb(h, s, v * (1 - contrast))
    return {"material": spec.name, "pattern": spec.pattern,
            "color": [round(c, 6) for c in base], "color2": [round(c, 6) for c in second],
            "roughness": draw(spec.roughness, seed, *key, "roughness"),
            "metallic": draw(spec.metallic, seed, *key, "metallic"),
            "bump": draw(spec.bump, seed, *key, "bump"),
            "pattern_scale": draw(spec.pattern_scale, seed, *key, "pattern_scale"),
            **{k: draw(getattr(spec, k), seed, *key, k) for k in DRAWN_LAYERS},
            "thin_walled": spec.thin_walled}


DRAWN_LAYERS = ("anisotropic", "anisotropic_rotation", "transmission", "ior", "coat", "coat_roughness", "subsurface",
                "subsurface_radius_mm", "roughness_variation", "smudges", "scratches", "dust")


def resolve_materials(names: list[str], base_dir: Path, where: str) -> list[MaterialSpec]:
    """Each named material; an unknown one is a ``ConfigError`` naming ``where`` (file: key) and its index."""
    specs = []
    for k, name in enumerate(names):
        try:
            specs.append(resolve_material(name, base_dir))
        except ConfigError as exc:
            raise ConfigError(f"{where}[{k}]: {exc}") from None
    return specs


def surface_materials(loaded: LoadedScenario) -> list[MaterialSpec]:
    """The materials ``surfaces:`` names (none without it); an unknown one is a ``ConfigError``."""
    cfg = loaded.scenario.surfaces
    return [] if cfg is None else resolve_materials(cfg.materials, loaded.base_dir, f"{loaded.path}: surfaces.materials")


def group_materials(loaded: LoadedScenario, g: int) -> list[MaterialSpec]:
    """The materials object group ``g`` names (maybe none); an unknown one is a ``ConfigError``."""
    return resolve_materials(loaded.scenario.objects[g].materials or [], loaded.base_dir,
                             f"{loaded.path}: objects[{g}].materials")


def check_materials(loaded: LoadedScenario) -> None:
    """Resolve every material the scenario names (surfaces, object groups), so an unknown one is
    refused before any scene is planned or Blender loaded."""
    surface_materials(loaded)
    for g in range(len(loaded.scenario.objects)):
        group_materials(loaded, g)
