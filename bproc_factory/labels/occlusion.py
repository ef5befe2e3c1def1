"""Occlusion targets (pure): whether a view meets the config's visibility target, and the
achieved visibility distribution of a run."""
from __future__ import annotations

from typing import Any

import numpy as np

from bproc_factory.config import OcclusionTarget

HISTOGRAM_EDGES = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))


def occlusion_outcome(target: OcclusionTarget, visib_fract: dict[int, float]) -> dict[str, Any]:
    """The view's target instances' visible fractions, how many lie in the target range, and
    whether that is enough."""
    lo, hi = target.visib_fract
    in_range = sorted(i for i, v in visib_fract.items() if lo <= v <= hi)
    return {"target_met": len(in_range) >= target.min_instances, "in_range": in_range,
            "visib_fract": {str(i): round(v, 6) for i, v in sorted(visib_fract.items())}}


def visibility_histogram(values: list[float]) -> list[tuple[float, float, int]]:
    """Counts of ``values`` in ten equal bins over [0, 1] (the last bin includes 1.0)."""
    counts, _ = np.histogram(np.asarray(values, float), bins=np.asarray(HISTOGRAM_EDGES))
    return [(HISTOGRAM_EDGES[k], HISTOGRAM_EDGES[k + 1], int(c)) for k, c in enumerate(counts)]


def run_report(outcomes: list[dict[str, Any]], visib_fract: list[float]) -> list[str]:
    """Lines for the end of a run with an occlusion target: how often it was met, with how many
    draws, and the distribution of the annotations' visible fractions."""
    if not outcomes:
        return []
    met = sum(o["target_met"] for o in outcomes)
    attempts = [o["attempts"] for o in outcomes]
    lines = [f"occlusion target met in {met}/{len(outcomes)} images "
             f"(layout draws per scene: mean {np.mean(attempts):.1f}, max {max(attempts)})"]
    if visib_fract:
        bars = "  ".join(f"{lo:.1f}-{hi:.1f}: {n}" for lo, hi, n in visibility_histogram(visib_fract))
        lines.append(f"visib_fract of {len(visib_fract)} annotations: {bars}")
    return lines
