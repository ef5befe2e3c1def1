"""``check`` and ``scene check``: validate a config, its assets and scene, and trial-plan a few
scenes, without rendering; survey a scene's marks."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bproc_factory.assets import (
    SceneInfo,
    Survey,
    billboard_elevation_warnings,
    category_ids,
    is_backplate,
    load_backplate,
    resolve_assets,
)
from bproc_factory.config import LoadedScenario, as_loaded
from bproc_factory.errors import SceneError
from bproc_factory.plan import check_fit, plan_scene


@dataclass(frozen=True)
class CheckReport:
    """What a config check found: the scene and its areas, the categories, and warnings."""

    loaded: LoadedScenario
    scene: Path
    info: SceneInfo
    categories: dict[str, int]
    warnings: list[str] = field(default_factory=list)


def survey_scene(path: Path) -> Survey:
    """A scene's marks and problems: a backplate annotation needs no Blender, a .blend is opened."""
    if not path.is_file():
        raise SceneError(f"{path}: scene file not found")
    if is_backplate(path):
        return Survey(load_backplate(path))
    from bproc_factory.blender import inspect_scene

    return inspect_scene(path)


def scene_info(path: Path) -> SceneInfo:
    """The scene's marks; raises ``SceneError`` naming the file when it has errors."""
    survey = survey_scene(path)
    if survey.errors:
        raise SceneError(f"{path}: " + "; ".join(survey.errors))
    return survey.info


def check_config(config: Path | LoadedScenario, overrides: tuple[str, ...] = (), scenes: int = 3) -> CheckReport:
    """Load and validate the config, resolve its assets and scene, check that the objects fit and
    plan ``scenes`` scenes as a trial; every problem raises a ``FactoryError``."""
    loaded = as_loaded(config, overrides)
    assets = resolve_assets(loaded)
    categories = category_ids(loaded, assets)
    scene = loaded.resolve(loaded.scenario.scene)
    info = scene_info(scene)
    check_fit(loaded, assets, info)
    v = loaded.scenario.views_per_scene
    for s in range(scenes):
        plan_scene(loaded, assets, info, 0, s, list(range(s * v, s * v + v)))
    return CheckReport(loaded, scene, info, categories, billboard_elevation_warnings(loaded, assets))
