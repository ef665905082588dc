"""Held-time percentiles: exact while few values, within the stated relative error of the
exact nearest-rank percentile once sketched, the same in any merge order."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maillog_diag.core.analysis import percentile
from maillog_diag.core.quantiles import EXACT_LIMIT, RELATIVE_ACCURACY, HeldTimes


def _held(values: list[float]) -> HeldTimes:
    held = HeldTimes()
    for v in values:
        held.add(v)
    return held


def test_few_values_are_exact() -> None:
    values = [float(v) for v in range(EXACT_LIMIT, 0, -1)]
    held = _held(values)
    assert held.exact
    ordered = sorted(values)
    for q in (0.01, 0.5, 0.95, 1.0):
        assert held.quantile(q) == percentile(ordered, q)
    assert held.largest == max(values) and held.total == sum(values)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sketched_percentiles_are_within_the_stated_relative_error(seed: int) -> None:
    rng = random.Random(seed)
    # Held times as a mail log has them: many seconds-to-minutes, a tail of hours and days,
    # some zeros (delivered at once after a deferral logged in the same second).
    values = [round(rng.lognormvariate(6, 2.2)) for _ in range(20_000)] + [0.0] * 300
    held = _held(values)
    assert not held.exact
    assert len(held.bins) < 2_000  # bounded, not one entry per value
    ordered = sorted(values)
    for q in (0.01, 0.1, 0.5, 0.9, 0.95, 0.99, 1.0):
        exact = percentile(ordered, q)
        got = held.quantile(q)
        assert exact is not None and got is not None
        assert abs(got - exact) <= RELATIVE_ACCURACY * exact + 1e-9, (q, got, exact)
    assert held.largest == max(values)
    assert held.total == sum(values)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=1e7, allow_nan=False), min_size=1, max_size=900),
    st.integers(min_value=1, max_value=5),
)
def test_merge_in_any_cut_gives_the_same_figures(values: list[float], pieces: int) -> None:
    whole = _held(values)
    size = math.ceil(len(values) / pieces)
    parts = [_held(values[i : i + size]) for i in range(0, len(values), size)]
    forward = HeldTimes()
    for part in parts:
        forward.merge(part)
    backward = HeldTimes()
    for part in reversed(parts):
        backward.merge(part)
    for merged in (forward, backward):
        assert merged.count == whole.count and merged.total_us == whole.total_us
        assert merged.exact == whole.exact
        for q in (0.5, 0.95):
            assert merged.quantile(q) == whole.quantile(q)
