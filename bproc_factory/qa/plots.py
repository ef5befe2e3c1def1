"""Dataset statistics as PNG plots (matplotlib, no display needed)."""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

Row = dict[str, Any]


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def class_balance(instances: list[Row], params: list[Row], path: Path) -> Path:
    """Instances per category and images containing each category."""
    per_instance = Counter(r["category"] for r in instances)
    per_image = Counter(k[len("count."):] for r in params for k, v in r.items() if k.startswith("count.") and v)
    names = sorted(per_instance)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [per_instance[n] for n in names], 0.4, label="instances")
    ax.bar([x + 0.2 for x in xs], [per_image[n] for n in names], 0.4, label="images containing it")
    ax.set_xticks(list(xs), names, rotation=30, ha="right")
    ax.set_title("Class balance")
    ax.legend()
    return _save(fig, path)


def histogram(values: list[float], title: str, xlabel: str, path: Path, bins: int = 20,
              log: bool = False) -> Path:
    fig, ax = plt.subplots(figsize=(4.2, 2.8))
    if values:
        ax.hist(values, bins=_bins(values, bins, log), color="#4477aa", edgecolor="white")
        if log:
            _log_axis(ax)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel("count", fontsize=8)
    return _save(fig, path)


def _log_axis(ax) -> None:
    """A log x axis labelled at its decades only (labelled minor ticks ran into each other)."""
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def kind_of(values: list[Any], most: int = 30) -> str:
    """How a sampled value's plot shows it: ``constant`` (one value: listed, not plotted), ``bars``
    (text, booleans, or whole numbers taking at most ``most`` values: a count has no bins), or
    ``histogram``."""
    if len(set(values)) == 1:
        return "constant"
    whole = all(isinstance(v, int) or (isinstance(v, float) and v.is_integer()) for v in values)
    if all(isinstance(v, (str, bool)) for v in values) or (whole and len(set(values)) <= most):
        return "bars"
    return "histogram"


def _bins(values: list[float], bins: int, log: bool):
    lo, hi = min(values), max(values)
    if lo == hi:  # one narrow bar at the value (matplotlib's default spans value +- 0.5)
        half = max(abs(lo), 1.0) * 0.01
        return [lo - half, lo + half]
    if log and lo > 0:
        return [lo * (hi / lo) ** (k / bins) for k in range(bins + 1)]
    return min(bins, max(1, len(set(values))))


def per_category_histogram(instances: list[Row], key: str, title: str, xlabel: str, path: Path,
                           log: bool = False) -> Path:
    """Overlaid histograms of one instance column, one colour per category."""
    fig, ax = plt.subplots(figsize=(5, 3))
    groups: dict[str, list[float]] = {}
    for r in instances:
        if r.get(key) is not None:
            groups.setdefault(r["category"], []).append(float(r[key]))
    every = [v for vs in groups.values() for v in vs]
    if every:
        edges = _bins(every, 20, log)
        for name, vs in sorted(groups.items()):
            ax.hist(vs, bins=edges, alpha=0.55, label=name)
        if log:
            _log_axis(ax)
        ax.legend(fontsize=7)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=8)
    return _save(fig, path)


def bar_counts(values: list[Any], title: str, path: Path) -> Path:
    """A bar chart of how often each category-like value (or whole number) occurs, numbers in order."""
    counts = Counter(values)
    order = sorted(counts, key=lambda v: (isinstance(v, str), v if not isinstance(v, str) else 0, str(v)))
    counts = Counter({str(v): counts[v] for v in order})
    names = [str(v) for v in order]
    fig, ax = plt.subplots(figsize=(4.2, 2.8))
    ax.bar(range(len(names)), [counts[n] for n in names], color="#4477aa")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=7)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel("count", fontsize=8)
    return _save(fig, path)


def categorical_columns(rows: list[Row], prefixes: tuple[str, ...], most: int = 30) -> list[str]:
    """Columns under ``prefixes`` holding text or booleans with at most ``most`` distinct values."""
    columns = dict.fromkeys(k for r in rows for k in r if k.startswith(prefixes))
    out = []
    for c in columns:
        values = [r[c] for r in rows if r.get(c) is not None]
        if values and all(isinstance(v, (str, bool)) for v in values) and len(set(values)) <= most:
            out.append(c)
    return out


def numeric_columns(rows: list[Row], prefixes: tuple[str, ...]) -> list[str]:
    """Columns under ``prefixes`` holding numbers (not booleans) in at least one row."""
    columns = dict.fromkeys(k for r in rows for k in r if k.startswith(prefixes))
    return [c for c in columns
            if any(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool)
                   and math.isfinite(r[c]) for r in rows)]


def overlaid_histograms(groups: dict[str, list[float]], title: str, path: Path) -> Path:
    """Histograms of several groups of values on shared bins."""
    fig, ax = plt.subplots(figsize=(4.2, 2.8))
    every = [v for vs in groups.values() for v in vs]
    if every:
        edges = np.histogram_bin_edges(every, bins=20) if max(every) > min(every) else 1
        for name, values in groups.items():
            ax.hist(values, bins=edges, alpha=0.55, label=name)
        ax.legend(fontsize=7)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)
