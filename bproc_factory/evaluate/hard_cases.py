"""The next config to render: the dataset's own scenario with the distributions of its top failure
factors narrowed to their failure regions. Factors map to the config keys that produce them here,
in one table; a factor without one (a label figure the factory cannot aim at, a count) is reported."""
from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from bproc_factory.evaluate.factors import Factor, failure_conditions

KeyPath = tuple[str | int, ...]
Edit = tuple[KeyPath, Any]


@dataclass(frozen=True)
class HardCases:
    """The narrowed config, which factor set which key, and the factors left unmapped (with why)."""

    config: dict[str, Any]
    applied: dict[str, list[str]]
    unmapped: dict[str, str]


def _uniform(region: list[float], integer: bool = False) -> dict[str, Any] | float:
    low, high = (round(v, 6) for v in region)
    if integer:
        low, high = round(low), round(high)
    return {"constant": low} if low == high else {"uniform": [low, high]}


def _view(m: re.Match, f: Factor, config: dict[str, Any]) -> list[Edit]:
    return [(("camera", m[1]), _uniform(f.region))] if config.get("camera") else []


def _world(m: re.Match, f: Factor, config: dict[str, Any]) -> list[Edit]:
    path = ("world", *m[1].split("."))
    node: Any = config
    for part in path[:-1]:
        node = (node or {}).get(part)
    return [(path, _uniform(f.region))] if isinstance(node, dict) and path[-1] in node else []


def _light(m: re.Match, f: Factor, config: dict[str, Any]) -> list[Edit]:
    """Light N is group N only when every group makes exactly one light (else N is ambiguous)."""
    lights, n = config.get("lights") or [], int(m[1])
    if n >= len(lights) or any(g.get("count") not in (1, {"constant": 1}, {"constant": 1.0}) for g in lights):
        return []
    return [(("lights", n, m[2]), _uniform(f.region))] if m[2] in lights[n] else []


def _object(m: re.Match, f: Factor, config: dict[str, Any]) -> list[Edit]:
    return [(("objects", g, m[1]), _uniform(f.region)) for g in range(len(config["objects"]))]


def _visibility(m: re.Match, f: Factor, config: dict[str, Any]) -> list[Edit]:
    """Partly hidden instances come from the occlusion target: aim it at the failing visible fraction."""
    low, high = max(0.0, f.region[0]), min(1.0, f.region[1])
    if high - low < 0.05:
        low, high = max(0.0, low - 0.025), min(1.0, high + 0.025)
    occlusion = copy.deepcopy(config.get("occlusion") or {})
    occlusion.setdefault("target", {})["visib_fract"] = [round(low, 4), round(high, 4)]
    return [(("occlusion",), occlusion)]


def _surfaces(m: re.Match, f: Factor, config: dict[str, Any]) -> list[Edit]:
    names = (config.get("surfaces") or {}).get("materials") or []
    kept = [n for n in names if n in f.region or Path(n).stem in f.region]
    return [(("surfaces", "materials"), kept)] if kept and len(kept) < len(names) else []


def _assets(f: Factor, config: dict[str, Any], categories: dict[str, str]) -> list[Edit]:
    """Keep, in each group, the assets named in the region (by asset or category name)."""
    edits = []
    for g, group in enumerate(config["objects"]):
        name_of = {a: Path(a).name for a in group["assets"]}
        wanted = [a for a in group["assets"]
                  if (name_of[a] if f.factor == "object.asset" else categories.get(name_of[a])) in f.region]
        if wanted and len(wanted) < len(group["assets"]):
            edits.append((("objects", g, "assets"), wanted))
    return edits


RULES: list[tuple[str, Callable[..., list[Edit]]]] = [
    (r"sampled\.view\.(elevation_deg|azimuth_deg|distance_m|roll_deg)$", _view),
    (r"sampled\.world\.((?:sky|hdri)\.\w+|strength)$", _world),
    (r"sampled\.lights\.(\d+)\.(energy_w|temperature_k|elevation_deg|azimuth_deg|distance_m|size_m|"
     r"sun_angle_deg|spot_angle_deg)$", _light),
    (r"sampled\.(scale|yaw_deg)$", _object),
    (r"object\.visib_fract$", _visibility),
    (r"sampled\.surfaces\.[^.]+\.material$", _surfaces),
]


def hard_cases(config: dict[str, Any], rows: list[dict[str, Any]], conditions: list[Factor],
               categories: dict[str, str], top: int = 3, min_z: float = 4.0) -> HardCases:
    """``config`` (a resolved scenario) with the failure regions of up to ``top`` conditions applied:
    factors with a config key, chosen one after another over ``rows`` (``failure_conditions``).
    Those of ``conditions`` (chosen among all factors) that have no key are reported.
    ``categories``: asset name -> category."""
    out = copy.deepcopy(config)
    chosen = failure_conditions(rows, lambda f: bool(_edits(f, config, categories)), top, min_z)
    applied: dict[str, list[str]] = {}
    for f in chosen:
        edits = _edits(f, out, categories)
        for path, value in edits:
            _set(out, path, value)
        applied[f.factor] = [_dotted(p) for p, _ in edits]
    unmapped = {f.factor: "no config key produces this value" if not _has_rule(f) else
                "its config key is not a distribution in this config"
                for f in conditions if not _edits(f, config, categories)}
    return HardCases(out, applied, unmapped)


def _edits(f: Factor, config: dict[str, Any], categories: dict[str, str]) -> list[Edit]:
    if f.factor in ("object.asset", "category"):
        return _assets(f, config, categories)
    for pattern, rule in RULES:
        m = re.match(pattern, f.factor)
        if m and (f.kind == "numeric") == (rule is not _surfaces):
            return rule(m, f, config)
    return []


def _has_rule(f: Factor) -> bool:
    return f.factor in ("object.asset", "category") or any(re.match(p, f.factor) for p, _ in RULES)


def _set(config: dict[str, Any], path: KeyPath, value: Any) -> None:
    node: Any = config
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _dotted(path: KeyPath) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


# Keys of a resolved scenario that hold paths relative to its config file (lists: every entry).
PATH_KEYS = (("scene",), ("world", "hdri", "file"), ("objects", "*", "assets", "*"),
             ("objects", "*", "materials", "*"), ("surfaces", "materials", "*"))


def portable_config(resolved: dict[str, Any], config_dir: Path, output_dir: Path) -> dict[str, Any]:
    """A dataset's resolved scenario as a config file in ``output_dir``: its relative paths rebased
    from ``config_dir``; profiles and the lighting preset, already merged in, are not named again."""
    out = copy.deepcopy(resolved)
    out["lighting"] = None
    for section in ("camera", "sensor", "lens"):
        if isinstance(out.get(section), dict):
            out[section]["profile"] = None
    for keys in PATH_KEYS:
        _rebase(out, keys, config_dir, output_dir)
    return out


def _rebase(node: Any, keys: tuple[str, ...], config_dir: Path, output_dir: Path) -> Any:
    if not keys:
        if not isinstance(node, str) or Path(node).is_absolute():
            return node
        if not ((config_dir / node).exists() or node.endswith((".yaml", ".yml"))):
            return node  # a library material's name
        return os.path.relpath((config_dir / node).resolve(), output_dir.resolve())
    if isinstance(node, dict) and keys[0] in node:
        node[keys[0]] = _rebase(node[keys[0]], keys[1:], config_dir, output_dir)
    elif isinstance(node, list) and keys[0] == "*":
        node[:] = [_rebase(item, keys[1:], config_dir, output_dir) for item in node]
    return node
