"""Refuse, before rendering, object counts that can never fit their placement areas (pure)."""
from __future__ import annotations

from shapely.geometry import Polygon

from bproc_factory.assets import Asset, SceneInfo
from bproc_factory.config import ConfigError, LoadedScenario
from bproc_factory.plan.placement import min_footprint_area


def area_named(loaded: LoadedScenario, info: SceneInfo, group: int, name: str):
    """The placement area called ``name``; a config error naming the group's key otherwise."""
    area = next((a for a in info.placement_areas if a.name == name), None)
    if area is None:
        known = ", ".join(a.name for a in info.placement_areas)
        raise ConfigError(f"{loaded.path}: objects[{group}].placement_area: no placement area "
                          f"'{name}' in the scene (found: {known})")
    return area


def check_fit(loaded: LoadedScenario, assets: list[list[Asset]], info: SceneInfo) -> None:
    """Refuse configs whose largest counts and scales cannot fit even at each asset's smallest
    footprint: each named area against the groups bound to it, and all areas against all groups.
    Passing does not promise a fit; placement reports the rest, naming the scene."""
    areas = {a.name: Polygon(a.polygon_xy).area for a in info.placement_areas}
    per_area: dict[str, float] = {}
    total = 0.0
    for g, group in enumerate(loaded.scenario.objects):
        if group.pose == "drop":  # piles stack: no floor-area bound
            continue
        if group.size_m is not None:  # stretched shapes: half the smallest face of their box
            lo = [d.support()[0] for d in group.size_m]
            need = group.count.support()[1] * 0.5 * min(lo[0] * lo[1], lo[0] * lo[2], lo[1] * lo[2])
        else:
            smallest = min(min_footprint_area(a, group.pose) for a in assets[g])
            need = group.count.support()[1] * smallest * group.scale.support()[1] ** 2
        total += need
        if group.placement_area is not None:
            name = area_named(loaded, info, g, group.placement_area).name
            per_area[name] = per_area.get(name, 0.0) + need
    checks = [(f"placement area '{n}'", per_area[n], areas[n]) for n in per_area]
    checks.append(("the placement areas" if len(areas) > 1 else
                   f"placement area '{next(iter(areas))}'", total, sum(areas.values())))
    for where, needed, available in checks:
        if needed > available:
            raise ConfigError(
                f"{loaded.path}: objects: at their largest counts and scales the objects need about "
                f"{needed:.3f} m² of floor, but {where} {'offer' if where.startswith('the ') else 'offers'} "
                f"{available:.3f} m²; lower the counts or scales")
