"""One reusable value-distribution type for scenario configs: constant, uniform, normal, choice.

In YAML a distribution is a plain number (a constant) or a one-key mapping:
``{uniform: [lo, hi]}``, ``{normal: {mean: m, std: s}, min: lo, max: hi}`` (clipped),
``{choice: [a, b, c], weights: [...]}`` or ``{constant: v}``.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, Union

import numpy as np
from pydantic import AfterValidator, BaseModel, BeforeValidator, Discriminator, Field, Tag, model_validator

from bproc_factory.config.base import StrictModel


class Constant(StrictModel):
    """Always the same value."""

    constant: float = Field(description="the value every draw returns")

    def support(self) -> tuple[float, float]:
        return (self.constant, self.constant)


class Uniform(StrictModel):
    """Uniform on ``[lo, hi]`` (inclusive integer range where an integer is wanted)."""

    uniform: tuple[float, float] = Field(description="[low, high], low <= high; integer settings draw whole numbers "
                                                     "in this range, both ends included")

    @model_validator(mode="after")
    def _ordered(self) -> "Uniform":
        if self.uniform[0] > self.uniform[1]:
            raise ValueError(f"uniform: low {self.uniform[0]} is greater than high {self.uniform[1]}")
        return self

    def support(self) -> tuple[float, float]:
        return self.uniform


class NormalParams(StrictModel):
    """Mean and standard deviation of a normal distribution."""

    mean: float = Field(description="mean of the normal distribution, in the unit of the setting")
    std: float = Field(ge=0, description="standard deviation, >= 0, in the unit of the setting")


class Normal(StrictModel):
    """Normal distribution, clipped to ``[min, max]`` when those are given."""

    normal: NormalParams = Field(description="mean and standard deviation of the draw before clipping")
    min: float | None = Field(default=None, description="draws below this are clipped to it; required where the "
                                                        "setting has a lower bound")
    max: float | None = Field(default=None, description="draws above this are clipped to it; required where the "
                                                        "setting has an upper bound")

    @model_validator(mode="after")
    def _ordered(self) -> "Normal":
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"normal: min {self.min} is greater than max {self.max}")
        return self

    def support(self) -> tuple[float, float]:
        lo = -math.inf if self.min is None else self.min
        hi = math.inf if self.max is None else self.max
        return (lo, hi)


class Choice(StrictModel):
    """One of the listed values, optionally weighted."""

    choice: list[float] = Field(min_length=1, description="the values to pick from (at least one)")
    weights: list[float] | None = Field(default=None, description="relative weight of each value, one per value, "
                                                              ">= 0 with a positive sum; default: equal")

    @model_validator(mode="after")
    def _weights_match(self) -> "Choice":
        if self.weights is not None:
            if len(self.weights) != len(self.choice):
                raise ValueError(f"choice: {len(self.weights)} weights for {len(self.choice)} values")
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("choice: weights must be >= 0 with a positive sum")
        return self

    def support(self) -> tuple[float, float]:
        return (min(self.choice), max(self.choice))


KINDS = ("constant", "uniform", "normal", "choice")


def _kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return type(value).__name__.lower()
    if isinstance(value, dict):
        found = [k for k in KINDS if k in value]
        return found[0] if len(found) == 1 else None
    return None


def _scalar_to_constant(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"constant": value}
    return value


Distribution = Annotated[
    Union[Annotated[Constant, Tag("constant")], Annotated[Uniform, Tag("uniform")],
          Annotated[Normal, Tag("normal")], Annotated[Choice, Tag("choice")]],
    Discriminator(_kind, custom_error_type="distribution",
                  custom_error_message="expected a number or one of {constant|uniform|normal|choice: ...}"),
    BeforeValidator(_scalar_to_constant),
]


def bounded(ge: float | None = None, gt: float | None = None, le: float | None = None,
            integer: bool = False) -> AfterValidator:
    """A validator that rejects distributions whose support leaves the allowed range."""

    def check(dist: Distribution) -> Distribution:
        lo, hi = dist.support()
        if isinstance(dist, Normal) and (ge is not None or gt is not None) and dist.min is None:
            raise ValueError(f"must be {'>=' if ge is not None else '>'} {ge if ge is not None else gt}: "
                             "set 'min' on the normal distribution")
        if isinstance(dist, Normal) and le is not None and dist.max is None:
            raise ValueError(f"must be <= {le}: set 'max' on the normal distribution")
        if ge is not None and lo < ge:
            raise ValueError(f"must be >= {_fmt(ge)} (got {_fmt(lo)})")
        if gt is not None and lo <= gt:
            raise ValueError(f"must be > {_fmt(gt)} (got {_fmt(lo)})")
        if le is not None and hi > le:
            raise ValueError(f"must be <= {_fmt(le)} (got {_fmt(hi)})")
        if integer:
            values = {Constant: lambda d: [d.constant], Uniform: lambda d: list(d.uniform),
                      Choice: lambda d: d.choice, Normal: lambda d: []}[type(dist)](dist)
            if any(v != int(v) for v in values):
                raise ValueError("must be a whole number")
        return dist

    return AfterValidator(check)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def sample(dist: Distribution, rng: np.random.Generator) -> float:
    """Draw one float from ``dist``."""
    if isinstance(dist, Constant):
        return float(dist.constant)
    if isinstance(dist, Uniform):
        return float(rng.uniform(*dist.uniform))
    if isinstance(dist, Normal):
        lo, hi = dist.support()
        return float(np.clip(rng.normal(dist.normal.mean, dist.normal.std), lo, hi))
    p = None if dist.weights is None else np.asarray(dist.weights) / sum(dist.weights)
    return float(dist.choice[int(rng.choice(len(dist.choice), p=p))])


def sample_int(dist: Distribution, rng: np.random.Generator) -> int:
    """Draw one integer: uniform ranges are inclusive, normal draws are rounded."""
    if isinstance(dist, Uniform):
        return int(rng.integers(int(dist.uniform[0]), int(dist.uniform[1]) + 1))
    return int(round(sample(dist, rng)))

