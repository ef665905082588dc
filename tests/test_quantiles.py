"""Held-time percentiles: exact while few values, within the stated relative error of the
exact nearest-rank percentile once sketched, the same in any merge order."""

from __future__ import annotations

import math
import random
import tracemalloc

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


def test_exact_values_cost_eight_bytes_each() -> None:
    """Each destination keeps up to `EXACT_LIMIT` held times: as a list of floats each cost
    32 bytes (a pointer and a float object; 0.9 MiB on the 5M-line bench log), in an
    array 8 (plus the array's spare room)."""
    values = [random.Random(3).uniform(0, 9e5) for _ in range(EXACT_LIMIT)]
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        held = HeldTimes()
        for value in values:
            held.add(value + 1.0)  # a new float, as a held time computed from a log is
        size = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert held.exact and held.quantile(1.0) == max(values) + 1.0
    assert size / EXACT_LIMIT <= 12, f"{size / EXACT_LIMIT:.1f} bytes per held time"


def test_summary_file_keeps_exact_values() -> None:
    """A summary file writes the exact values as a JSON list and reads them back as kept."""
    from maillog_diag.scan.summary import decode, encode

    held = _held([3.5, 0.0, 86400.25])
    again = decode(encode(held))
    assert again == held and again.quantile(0.5) == 3.5
    again.add(7.0)
    assert again.quantile(1.0) == 86400.25 and len(again) == 4
