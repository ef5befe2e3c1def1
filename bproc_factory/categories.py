"""Category ids: stable across runs and shards, never 0 (0 is background in the masks)."""
from __future__ import annotations

from bproc_factory.assets import Asset
from bproc_factory.config.loader import ConfigError, LoadedScenario


def category_ids(loaded: LoadedScenario, assets: list[list[Asset]]) -> dict[str, int]:
    """The config's ``categories`` map, else 1..K in sorted name order of the assets' categories."""
    used = sorted({a.category for group in assets for a in group})
    explicit = loaded.scenario.categories
    if explicit is None:
        return {name: i + 1 for i, name in enumerate(used)}
    missing = [c for c in used if c not in explicit]
    if missing:
        raise ConfigError(f"{loaded.path}: categories: no id for {', '.join(missing)} "
                          f"(used by the assets)")
    return dict(sorted(explicit.items(), key=lambda kv: kv[1]))
