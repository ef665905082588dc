"""`HourCounts` must count exactly as the `Counter[int]` it replaces, in both of its forms (one array over the span, or sorted arrays of the hours counted)."""

from __future__ import annotations

import gc
import pickle
import random
import tracemalloc
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maillog_diag.core.hours import SPARSE_FACTOR, SPARSE_MIN_SPAN, HourCounts

BASE = 493_000  # an hour number of 2026

spans = st.lists(
    st.tuples(
        st.integers(min_value=-3000, max_value=3000),  # first hour, from BASE
        st.integers(min_value=0, max_value=200),  # hours after it
        st.integers(min_value=1, max_value=5),  # count
    ),
    max_size=40,
)


def _model(ops: list[tuple[int, int, int]]) -> Counter[int]:
    model: Counter[int] = Counter()
    for first, extra, count in ops:
        for hour in range(BASE + first, BASE + first + extra + 1):
            model[hour] += count
    return model


def _counts(ops: list[tuple[int, int, int]]) -> HourCounts:
    counts = HourCounts()
    for first, extra, count in ops:
        if extra:
            counts.add_span(BASE + first, BASE + first + extra, count)
        else:
            counts.add(BASE + first, count)
    return counts


def _same(counts: HourCounts, model: Counter[int]) -> None:
    assert dict(counts.items()) == dict(model)
    assert list(counts) == sorted(model)  # earliest first
    assert len(counts) == len(model)
    assert bool(counts) == bool(model)
    assert counts == model
    for hour in list(model)[:20]:
        assert counts[hour] == counts.get(hour) == model[hour]
    missing = (max(model) + 1) if model else BASE
    assert counts.get(missing) == 0
    assert counts.get(missing, None) is None
    with pytest.raises(KeyError):
        counts[missing]


@settings(max_examples=120, deadline=None)
@given(spans)
def test_counts_as_a_counter_counts(ops: list[tuple[int, int, int]]) -> None:
    _same(_counts(ops), _model(ops))


@settings(max_examples=80, deadline=None)
@given(spans, spans)
def test_update_adds_as_counter_update_adds(
    a: list[tuple[int, int, int]], b: list[tuple[int, int, int]]
) -> None:
    merged = _counts(a)
    merged.update(_counts(b))
    _same(merged, _model(a) + _model(b))
    from_counter = _counts(a)
    from_counter.update(_model(b))
    _same(from_counter, _model(a) + _model(b))
    # A Counter takes it as a mapping of counts (not as an iterable of hours).
    total = Counter(_model(a))
    total.update(_counts(b))
    assert total == _model(a) + _model(b)


@settings(max_examples=50, deadline=None)
@given(spans)
def test_pickled_and_rebuilt_from_a_mapping(ops: list[tuple[int, int, int]]) -> None:
    counts = _counts(ops)
    _same(pickle.loads(pickle.dumps(counts)), _model(ops))
    _same(HourCounts(_model(ops)), _model(ops))


def test_consecutive_hours_share_one_array() -> None:
    counts = HourCounts()
    counts.add_span(BASE, BASE + 24 * 45)  # a recipient held 45 days
    assert counts._sparse is None
    assert len(counts._counts) == 24 * 45 + 1
    counts.add(BASE - 10)  # earlier hours extend it at the front
    assert counts._first == BASE - 10 and counts._sparse is None


def test_hours_far_apart_move_to_sorted_arrays() -> None:
    """A broken clock (hours years apart) must not allocate the years in between."""
    counts = HourCounts()
    counts.add(BASE)
    counts.add(BASE + 1)
    counts.add(BASE - 20 * 365 * 24)
    assert counts._sparse is not None
    assert list(counts) == [BASE - 20 * 365 * 24, BASE, BASE + 1]
    # the array never holds more than the allowed slots per counted hour
    dense = HourCounts()
    for i in range(0, 10_000, SPARSE_FACTOR):
        dense.add(BASE + i)
    assert (
        dense._sparse is None or len(dense) * SPARSE_FACTOR < len(dense._counts) + SPARSE_MIN_SPAN
    )
    assert len(dense._counts) <= max(SPARSE_MIN_SPAN, SPARSE_FACTOR * len(dense))


def test_counts_are_never_lowered() -> None:
    counts = HourCounts()
    with pytest.raises(ValueError):
        counts.add(BASE, -1)
    counts.add(BASE, 0)
    assert not counts


def test_empty_counts_share_one_array_that_nothing_changes() -> None:
    a, b = HourCounts(), HourCounts()
    assert a._counts is b._counts and len(a._counts) == 0
    a.add(BASE)
    b.update(HourCounts())
    assert len(HourCounts()._counts) == 0 and list(b) == [] and list(a) == [BASE]
    restored = pickle.loads(pickle.dumps(HourCounts()))
    restored.add_span(BASE, BASE + 3)
    assert len(HourCounts()._counts) == 0 and list(restored) == list(range(BASE, BASE + 4))


def test_counts_widen_a_byte_at_a_time_as_they_grow() -> None:
    """Counts are 1 byte until one would pass 255, then 2 until 2**16 - 1, 4 until
    2**32 - 1, then 8: the whole array widens, and every count is kept."""
    counts = HourCounts()
    counts.add_span(BASE, BASE + 2, 255)
    assert counts._counts.itemsize == 1
    model: Counter[int] = Counter(dict.fromkeys(range(BASE, BASE + 3), 255))
    for size, top in ((2, 2**16 - 1), (4, 2**32 - 1), (8, 2**64 - 1)):
        counts.add(BASE + 1, 1)  # passes the top of the narrower code
        model[BASE + 1] += 1
        assert counts._counts.itemsize == size and dict(counts.items()) == model
        counts.add(BASE + 1, top - model[BASE + 1])  # the most this width holds
        model[BASE + 1] = top
        assert counts._counts.itemsize == size and dict(counts.items()) == model
    with pytest.raises(OverflowError):  # (no log counts past 2**64 - 1)
        counts.add(BASE + 1, 1)
    jump = HourCounts({BASE: 1})
    jump.add_span(BASE + 1, BASE + 3, 2**40)  # from 1 byte straight to 8
    assert jump._counts.itemsize == 8 and dict(jump.items()) == {
        BASE: 1,
        **dict.fromkeys(range(BASE + 1, BASE + 4), 2**40),
    }
    other = HourCounts({BASE: 3})
    other.update(jump)
    assert other[BASE] == 4 and other[BASE + 3] == 2**40 and len(other) == 4
    again = pickle.loads(pickle.dumps(other))
    assert dict(again.items()) == dict(other.items()) and again._counts.itemsize == 8


def test_a_small_count_costs_one_byte_an_hour() -> None:
    """Most destinations count fewer than 256 deferrals an hour: a byte each."""
    counts = HourCounts()
    for hour in range(24 * 30):
        counts.add(BASE + hour, 1 + hour % 200)
    assert counts._sparse is None and counts._counts.itemsize == 1
    assert len(counts._counts) == 24 * 30


def _traced(build: object) -> tuple[HourCounts, int]:
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        counts = build()  # type: ignore[operator]
        gc.collect()  # (and empties the free lists of tuples that sorting the tail used)
        return counts, tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("order", ["ascending", "shuffled"])
def test_hours_far_apart_cost_a_few_bytes_each(order: str) -> None:
    """A destination deferred now and then over a long log counts hours far apart: as a
    dict of int objects each cost about 75 bytes; here at most 24 (two 8-byte slots and
    the arrays' spare room), added in any order."""
    hours = [BASE + 97 * i for i in range(5000)]
    if order == "shuffled":
        random.Random(12).shuffle(hours)

    def build() -> HourCounts:
        counts = HourCounts()
        for hour in hours:
            counts.add(hour, 3)
        counts.add(hours[0], 2)
        assert counts[hours[0]] == 5  # (a read settles what is pending)
        return counts

    counts, size = _traced(build)
    assert counts._sparse is not None and len(counts) == 5000
    assert list(counts) == sorted(hours)
    assert size / len(counts) <= 24, f"{size / len(counts):.1f} bytes per counted hour"


def test_hours_out_of_order_are_settled_in_few_passes() -> None:
    """Hours that do not come after the last wait in a tail that is sorted in once it is as
    long as the rest: each hour is sorted in O(log n) times, so a hostile order (every hour
    before the last) costs n log n, not n squared."""
    counts = HourCounts()
    counts.add(BASE + 10_000_000)  # one far hour, then 20,000 before it, descending
    for i in range(20_000):
        counts.add(BASE + 20 * (20_000 - i))
    sparse = counts._sparse
    assert sparse is not None
    assert sparse.settled <= 20  # merges of the tail into the sorted hours
    assert len(counts) == 20_001 and list(counts)[:2] == [BASE + 20, BASE + 40]
