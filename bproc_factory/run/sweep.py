"""Sweeps: render the same images under each value of one or more config keys, as named subsets.

``--sweep render.exposure_ev=-1,0,1`` (or a YAML list: ``--sweep 'world.color=[[1,1,1],[1,0.8,0.6]]'``)
renders the run once per value into ``OUT/<key>=<value>/``, each a complete dataset whose meta
records ``subset``; several ``--sweep`` options give their cartesian product. With the same seed,
subsets share every sampled value that the swept key does not change. A sweep whose keys are all
post-render (``bproc_factory.config.POST_RENDER_KEYS``: sensor, lens, exposure, tone, encoding)
renders once and develops the other subsets from the kept scene-linear renders.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bproc_factory.config import ConfigError
from bproc_factory.dataset import RUN_FILE, Dataset, read_json

INDEX_FILE = "sweep.json"
MAX_NAME = 120


@dataclass(frozen=True)
class Subset:
    """One combination of swept values and the folder name it renders into."""

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
    text = text.strip()
    if not sep or not key.strip() or not text:
        raise ConfigError(f"--sweep {spec}: expected key.path=v1,v2,...")
    items = [text] if text.startswith("[") else text.split(",")
    if any(not item.strip() for item in items):
        raise ConfigError(f"--sweep {spec}: empty value (use a YAML list for values with commas)")
    try:
        values = yaml.safe_load(text) if text.startswith("[") else [yaml.safe_load(v) for v in items]
    except yaml.YAMLError as exc:
        raise ConfigError(f"--sweep {spec}: values are not valid YAML: {exc}") from None
    if not isinstance(values, list) or len(values) < 2:
        raise ConfigError(f"--sweep {spec}: give at least two values")
    if len({json.dumps(v, sort_keys=True) for v in values}) != len(values):
        raise ConfigError(f"--sweep {spec}: values repeat")
    return key.strip(), values


def subsets(specs: list[str]) -> list[Subset]:
    """The cartesian product of the sweeps, each with a unique, folder-safe name."""
    sweeps = [parse_sweep(s) for s in specs]
    keys = [k for k, _ in sweeps]
    if len(set(keys)) != len(keys):
        raise ConfigError("--sweep: each key may be swept once")
    out, names = [], set()
    for combo in itertools.product(*(values for _, values in sweeps)):
        values = dict(zip(keys, combo))
        exact = "__".join(f"{k}={json.dumps(v, separators=(',', ':')).strip(chr(34))}" for k, v in values.items())
        name = re.sub(r"[^A-Za-z0-9_.=+-]+", "_", exact)
        if name in names or name != exact or len(name) > MAX_NAME:
            # sanitising changed it, or it clashes or is too long: keep it readable but unique
            name = f"{name[:MAX_NAME - 13]}-{hashlib.sha256(exact.encode()).hexdigest()[:12]}"
        names.add(name)
        out.append(Subset(name=name, values=values))
    return out


def write_sweep_index(root: Path, new: list[Subset]) -> tuple[dict[str, Any], str]:
    """Merge ``new`` into ``root/sweep.json`` (earlier sweeps' subsets are kept) and return it with
    the parent folder's DATASET.md text; image counts come from each subset's files."""
    path = root / INDEX_FILE
    known = {e["path"]: e for e in read_json(path)["subsets"]} if path.is_file() else {}
    for subset in new:
        known[subset.name] = {**subset.record(), "path": subset.name}
    for entry in known.values():
        folder = root / entry["path"]
        suffix = read_json(folder / RUN_FILE).get("image_suffix", ".png") if (folder / RUN_FILE).is_file() else ".png"
        entry["images"] = len(Dataset(folder, suffix).load_records()[0]) if folder.is_dir() else 0
    index = {"subsets": [known[name] for name in sorted(known)]}
    lines = ["# Sweep", "",
             "Each subset below is a complete dataset rendered from the same config and seed with the "
             "listed values changed; see its own DATASET.md.", "",
             "| subset | values | images |", "|---|---|---|"]
    lines += [f"| [{e['path']}]({e['path']}/DATASET.md) | `{json.dumps(e['values'])}` | {e['images']} |"
              for e in index["subsets"]]
    return index, "\n".join(lines) + "\n"
