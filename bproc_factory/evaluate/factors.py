"""Which sampled values go with misses (pure): per factor, the miss rate per bin with a 95 % Wilson
interval, and the region (a run of neighbouring bins, or a set of values) where misses concentrate
most, scored by the two-proportion z statistic of its miss rate against the rest's. The z score
weighs both the lift and how many instances show it, so a rare value's 1-in-1 miss ranks below a
condition that fails a hundred times."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
from scipy.stats import norm

NUMERIC_BINS = 8  # bins of a factor's plot
CUTS = 32          # quantiles a numeric failure region may start or end at
MOST_VALUES = 30  # categorical factors with more distinct values are not scanned
# bookkeeping columns of the tables (identities, seeds, the outcome itself), never a factor
NOT_FACTORS = {"image_index", "annotation_id", "instance_id", "category_id", "iscrowd", "bbox_x", "bbox_y",
               "file_name", "width", "height", "scene_index", "view_index", "run_seed", "image_seed",
               "scene_seed", "cycles_seed", "missed", "matched", "iou", "score", "false_positives",
               "object.visible_pixels", "sampled.asset"}  # the same as area_px and object.asset


@dataclass(frozen=True)
class Bin:
    """One bin of a factor: its values (numbers: ``[low, high]`` observed; text: the value), how many
    instances fall in it and their miss rate with its 95 % Wilson interval."""

    values: list[Any]
    n: int
    miss_rate: float
    ci: tuple[float, float]


@dataclass(frozen=True)
class Factor:
    """A factor's failure region and how it differs from the rest; ``factor`` is the column name of
    the tables, ``region`` ``[low, high]`` (numeric) or the values in it (categorical)."""

    factor: str
    kind: str
    region: list[Any]
    miss_rate_in: float
    miss_rate_out: float
    n_in: int
    n_out: int
    z: float
    lift: float | None
    regions_tried: int
    bins: list[Bin] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """As written to factors.json."""
        return asdict(self)


def wilson(misses: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a rate ``misses / n``."""
    if n == 0:
        return (0.0, 1.0)
    p = misses / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (round(max(0.0, centre - half), 6), round(min(1.0, centre + half), 6))


def two_proportion_z(m_in: int, n_in: int, m_out: int, n_out: int) -> float:
    """(rate in - rate out) over its standard error under 'no difference'; 0 when undefined."""
    pooled = (m_in + m_out) / (n_in + n_out)
    if n_in == 0 or n_out == 0 or pooled in (0.0, 1.0):
        return 0.0
    return (m_in / n_in - m_out / n_out) / math.sqrt(pooled * (1 - pooled) * (1 / n_in + 1 / n_out))


def rank_factors(rows: list[dict[str, Any]], min_share: float = 0.05) -> list[Factor]:
    """Every factor column of ``rows`` (each row has a boolean ``missed``) whose worst region misses
    more often than the rest, with that region, most telling first. A region and the rest each hold
    at least ``min_share`` of the instances
    (and 5), so one odd instance is not a finding."""
    columns = list(dict.fromkeys(k for r in rows for k in r if k not in NOT_FACTORS and not _bookkeeping(k)))
    found = []
    for column in columns:
        pairs = [(r[column], bool(r["missed"])) for r in rows if r.get(column) is not None]
        values = [v for v, _ in pairs]
        if len(pairs) < 10 or len(set(values)) < 2:
            continue
        support = max(5, math.ceil(min_share * len(pairs)))
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric and all(math.isfinite(v) for v in values):
            factor = _numeric(column, np.asarray(values, float), np.asarray([m for _, m in pairs]), support)
        elif len(set(map(str, values))) <= MOST_VALUES:
            factor = _categorical(column, [str(v) for v in values], [m for _, m in pairs], support)
        else:
            continue
        if factor is not None:
            found.append(factor)
    return sorted(found, key=lambda f: (-f.z, f.factor))


def failure_conditions(rows: list[dict[str, Any]], eligible: Callable[[Factor], bool] = lambda f: True,
                       top: int = 3, min_z: float = 4.0) -> list[Factor]:
    """Up to ``top`` eligible factors that explain the misses one after another: the best one, then
    the best one among the instances outside its region, and so on while z stays at least ``min_z``
    and at least the Bonferroni bound of that scan (``significance_z``): each scan tries thousands
    of factors and intervals, so chance alone reaches z 3 often. A factor that only goes with misses
    through one already chosen (a can's yaw when cans fail) drops out, which ranking every factor
    over all instances cannot tell."""
    chosen: list[Factor] = []
    rest = rows
    while len(chosen) < top and rest:
        ranked = rank_factors(rest)
        best = next((f for f in ranked if eligible(f) and f.factor not in {c.factor for c in chosen}), None)
        if best is None or best.z < max(min_z, significance_z(sum(f.regions_tried for f in ranked))):
            break
        chosen.append(best)
        rest = [r for r in rest if not in_region(r.get(best.factor), best)]
    return chosen


def significance_z(tests: int, alpha: float = 0.05) -> float:
    """The z a region must reach for a miss-rate gap to be unlikely by chance (one-sided ``alpha``)
    when ``tests`` regions were tried (Bonferroni): 4.3 for 5,000, 4.8 for 50,000."""
    return float(norm.isf(alpha / max(tests, 1)))


def in_region(value: Any, factor: Factor) -> bool:
    """Whether a row's value of ``factor`` lies in its failure region."""
    if value is None:
        return False
    if factor.kind == "categorical":
        return str(value) in factor.region
    return factor.region[0] <= value <= factor.region[1]


def _bookkeeping(column: str) -> bool:
    return column.endswith(("_seed", "sha256", "_is_lower_bound")) or column.startswith("object.label")


def _numeric(column: str, values: np.ndarray, missed: np.ndarray, support: int) -> Factor | None:
    """Bins for the plot: each distinct value when there are few, else quantile bins. The region is
    the interval between two cut points (quantiles of the values and of their distinct values, so a
    value most instances share does not swallow the others) with the highest z."""
    distinct = np.unique(values)
    if len(distinct) <= NUMERIC_BINS:
        index = np.searchsorted(distinct, values)
    else:
        edges = np.unique(np.quantile(values, np.linspace(0, 1, NUMERIC_BINS + 1))[1:-1])
        index = np.searchsorted(edges, values, side="right")
    groups = [g for g in (np.flatnonzero(index == k) for k in range(int(index.max()) + 1)) if len(g)]
    bins = [Bin([float(values[g].min()), float(values[g].max())], len(g), round(float(missed[g].mean()), 6),
                wilson(int(missed[g].sum()), len(g))) for g in groups]
    order = np.argsort(values, kind="stable")
    ordered, misses = values[order], np.concatenate([[0], np.cumsum(missed[order])])
    q = np.linspace(0, 1, CUTS + 1)
    cuts = np.unique(np.concatenate([np.quantile(values, q), np.quantile(distinct, q), distinct[:1], distinct[-1:]]))
    first = np.searchsorted(ordered, cuts, side="left")   # an interval [cuts[i], cuts[j]] holds
    last = np.searchsorted(ordered, cuts, side="right")   # ordered[first[i]:last[j]]
    n_in = last[None, :] - first[:, None]
    m_in = misses[last][None, :] - misses[first][:, None]
    total_n, total_m = len(values), int(missed.sum())
    n_out, m_out = total_n - n_in, total_m - m_in
    pooled = total_m / total_n
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (m_in / n_in - m_out / n_out) / np.sqrt(pooled * (1 - pooled) * (1 / n_in + 1 / n_out))
    allowed = (n_in >= support) & (n_out >= support) & (last[None, :] > first[:, None])
    z[~allowed | ~np.isfinite(z)] = -np.inf
    i, j = np.unravel_index(int(np.argmax(z)), z.shape)
    if not z[i, j] > 0:
        return None
    inside = ordered[first[i]:last[j]]
    return _factor(column, "numeric", [float(inside[0]), float(inside[-1])], int(m_in[i, j]), int(n_in[i, j]),
                   int(m_out[i, j]), int(n_out[i, j]), float(z[i, j]), int(allowed.sum()), bins)


def _categorical(column: str, values: list[str], missed: list[bool], support: int) -> Factor | None:
    """The region is the set of the worst values (by miss rate) whose union has the highest z."""
    counts: dict[str, list[int]] = {}
    for v, m in zip(values, missed):
        counts.setdefault(v, [0, 0])
        counts[v][0] += 1
        counts[v][1] += int(m)
    order = sorted(counts, key=lambda v: (-counts[v][1] / counts[v][0], v))
    bins = [Bin([v], counts[v][0], round(counts[v][1] / counts[v][0], 6), wilson(counts[v][1], counts[v][0]))
            for v in order]
    total_n, total_m = len(values), sum(missed)
    best = None
    n_in = m_in = 0
    for k, v in enumerate(order[:-1]):
        n_in, m_in = n_in + counts[v][0], m_in + counts[v][1]
        z = two_proportion_z(m_in, n_in, total_m - m_in, total_n - n_in)
        if n_in >= support and total_n - n_in >= support and (best is None or z > best[0]):
            best = (z, k, n_in, m_in)
    if best is None or best[0] <= 0:
        return None
    z, k, n_in, m_in = best
    return _factor(column, "categorical", order[:k + 1], m_in, n_in, total_m - m_in, total_n - n_in, z,
                   len(order) - 1, bins)


def _factor(column: str, kind: str, region: list[Any], m_in: int, n_in: int, m_out: int, n_out: int, z: float,
            tried: int, bins: list[Bin]) -> Factor:
    rate_in, rate_out = m_in / n_in, m_out / n_out
    return Factor(column, kind, region, round(rate_in, 6), round(rate_out, 6), n_in, n_out, round(z, 4),
                  round(rate_in / rate_out, 4) if rate_out > 0 else None, tried, bins)
