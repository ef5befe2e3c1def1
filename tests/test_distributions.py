"""Value distributions: YAML forms, bounds checks, and sampling."""
from typing import Annotated

import numpy as np
import pytest
from pydantic import BaseModel, ValidationError

from bproc_factory.config.distributions import (
    Choice,
    Constant,
    Distribution,
    Normal,
    Uniform,
    bounded,
    sample,
    sample_int,
)


class Holder(BaseModel):
    value: Distribution
    count: Annotated[Distribution, bounded(ge=0, le=10, integer=True)] = 1


def test_plain_number_is_a_constant():
    assert Holder(value=3).value == Constant(constant=3)


@pytest.mark.parametrize("raw, kind", [({"uniform": [1, 2]}, Uniform), ({"normal": {"mean": 0, "std": 1}}, Normal),
                                       ({"choice": [1, 5, 9]}, Choice), ({"constant": 2.5}, Constant)])
def test_each_yaml_form_parses_to_its_kind(raw, kind):
    assert isinstance(Holder(value=raw).value, kind)


@pytest.mark.parametrize("raw, message", [
    ({"uniform": [3, 1]}, "low 3.0 is greater than high 1.0"),
    ({"choice": [1, 2], "weights": [1]}, "1 weights for 2 values"),
    ({"gaussian": 1}, "expected a number or one of"),
    ("abc", "expected a number or one of"),
])
def test_malformed_distributions_are_rejected_with_reason(raw, message):
    with pytest.raises(ValidationError, match=message):
        Holder(value=raw)


@pytest.mark.parametrize("raw, message", [
    ({"uniform": [-1, 3]}, "must be >= 0"),
    ({"uniform": [0, 11]}, "must be <= 10"),
    ({"normal": {"mean": 2, "std": 1}}, "set 'min' on the normal distribution"),
    (1.5, "must be a whole number"),
])
def test_bounds_are_checked_on_the_whole_support(raw, message):
    with pytest.raises(ValidationError, match=message):
        Holder(value=0, count=raw)


def test_uniform_integers_cover_both_ends_inclusively():
    rng = np.random.default_rng(0)
    draws = {sample_int(Uniform(uniform=(2, 4)), rng) for _ in range(200)}
    assert draws == {2, 3, 4}


def test_normal_draws_are_clipped_to_min_and_max():
    rng = np.random.default_rng(0)
    dist = Normal(normal={"mean": 0, "std": 10}, min=-1, max=1)
    draws = [sample(dist, rng) for _ in range(500)]
    assert min(draws) == -1 and max(draws) == 1


def test_weighted_choice_never_picks_zero_weight_values():
    rng = np.random.default_rng(0)
    dist = Choice(choice=[1, 2, 3], weights=[1, 0, 1])
    assert {sample(dist, rng) for _ in range(200)} == {1.0, 3.0}
