"""Sweeps: render the same images under each value of one or more config keys, as named subsets.

``--sweep render.exposure_ev=-1,0,1`` (or a YAML list: ``--sweep 'world.color=[[1,1,1],[1,0.8,0.6]]'``)
renders the run once per value into ``OUT/<key>=<value>/``, each a complete dataset whose meta
records ``subset``; several ``--sweep`` options give their cartesian product. With the same seed,
subsets share every sampled value that the swept key does not change.
"""
from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from bproc_factory.config.loader import ConfigError


@dataclass(frozen=True)
class Subset:
    name: str
    values: dict[str, Any]

    @property
    def overrides(self) -> tuple[str, ...]:
        return tuple(f"{key}={json.dumps(value)}" for key, value in self.values.items())

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "values": self.values}


def parse_sweep(spec: str) -> tuple[str, list[Any]]:
    """``key=v1,v2`` or ``key=[v1, v2]`` -> (key, values), each value parsed as YAML."""
    key, sep, text = spec.partition("=")
    if not sep or not key.strip() or not text.strip():
        raise ConfigError(f"--sweep {spec}: expected key.path=v1,v2,...")
    text = text.strip()
    try:
        values = yaml.safe_load(text) if text.startswith("[") else [yaml.safe_load(v) for v in text.split(",")]
    except yaml.YAMLError as exc:
        raise ConfigError(f"--sweep {spec}: values are not valid YAML: {exc}") from None
    if not isinstance(values, list) or len(values) < 2:
        raise ConfigError(f"--sweep {spec}: give at least two values")
    if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
        raise ConfigError(f"--sweep {spec}: values repeat")
    return key.strip(), values


def subsets(specs: list[str]) -> list[Subset]:
    """The cartesian product of the sweeps, each with a folder-safe name."""
    sweeps = [parse_sweep(s) for s in specs]
    keys = [k for k, _ in sweeps]
    if len(set(keys)) != len(keys):
        raise ConfigError("--sweep: each key may be swept once")
    out = []
    for combo in itertools.product(*(values for _, values in sweeps)):
        values = dict(zip(keys, combo))
        name = "__".join(f"{k}={_label(v)}" for k, v in values.items())
        out.append(Subset(name=re.sub(r"[^A-Za-z0-9_.=+-]+", "_", name), values=values))
    return out


def _label(value: Any) -> str:
    return json.dumps(value, separators=(",", ":")).strip('"')


def sweep_index(subset_list: list[Subset], summaries: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """``sweep.json`` content and the top-level ``DATASET.md`` for a sweep's parent folder."""
    index = {"subsets": [{**s.record(), "path": s.name,
                          "images": summaries[s.name].rendered + summaries[s.name].skipped}
                         for s in subset_list if s.name in summaries]}
    lines = ["# Sweep", "",
             "Each subset below is a complete dataset rendered from the same config and seed with the "
             "listed values changed; see its own DATASET.md.", "",
             "| subset | values | images |", "|---|---|---|"]
    lines += [f"| [{e['path']}]({e['path']}/DATASET.md) | `{json.dumps(e['values'])}` | {e['images']} |"
              for e in index["subsets"]]
    return index, "\n".join(lines) + "\n"
