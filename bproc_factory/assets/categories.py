"""Category ids: stable across runs and shards, never 0 (0 is background in the masks)."""
from __future__ import annotations

from bproc_factory.assets.asset import Asset
from bproc_factory.config import ConfigError, LoadedScenario


def category_ids(loaded: LoadedScenario, assets: list[list[Asset]]) -> dict[str, int]:
    """The config's ``categories`` map, else 1..K in sorted name order of the categories in use
    (a group's ``category``, else its assets'; groups labelled background have none)."""
    groups = loaded.scenario.objects
    used = sorted({groups[g].category or a.category for g, group in enumerate(assets)
                   if groups[g].label != "background" for a in group})
    explicit = loaded.scenario.categories
    if explicit is None:
        return {name: i + 1 for i, name in enumerate(used)}
    missing = [c for c in used if c not in explicit]
    if missing:
        raise ConfigError(f"{loaded.path}: categories: no id for {', '.join(missing)} "
                          f"(used by the object groups)")
    return dict(sorted(explicit.items(), key=lambda kv: kv[1]))
