"""`SortedCounts` must count as the `Counter` it replaces, in a fraction of the memory."""

from __future__ import annotations

import gc
import pickle
import random
import tracemalloc
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from maillog_diag.core.analysis import ScheduleStats, median
from maillog_diag.core.counts import SortedCounts
from maillog_diag.core.diagnosis import ScheduleCheck
from maillog_diag.core.hints import HintKind

values = st.lists(
    st.tuples(
        st.integers(min_value=-50, max_value=400).map(lambda v: v * 1.5),
        st.integers(min_value=1, max_value=4),
    ),  # fmt: skip
    max_size=300,
)


def _counts(ops: list[tuple[float, int]]) -> SortedCounts:
    counts = SortedCounts("d")
    for value, n in ops:
        counts.add(value, n)
    return counts


def _model(ops: list[tuple[float, int]]) -> Counter[float]:
    model: Counter[float] = Counter()
    for value, n in ops:
        model[value] += n
    return model


@settings(max_examples=150, deadline=None)
@given(values, values)
def test_counts_add_and_merge_as_a_counter(
    a: list[tuple[float, int]], b: list[tuple[float, int]]
) -> None:
    counts, model = _counts(a), _model(a)
    assert counts == model and dict(counts.items()) == dict(model)
    assert list(counts) == sorted(model) and len(counts) == len(model)
    assert counts.pairs() == sorted(model.items())
    assert median(counts) == median(model)
    for value in list(model)[:10]:
        assert counts[value] == counts.get(value) == model[value]
    assert counts.get(10_000.0) is None and counts.get(10_000.0, 0) == 0
    counts.update(_counts(b))
    assert counts == model + _model(b)
    again = pickle.loads(pickle.dumps(counts))
    assert again == counts and list(again) == list(counts)


def test_values_cost_a_few_bytes_each_in_any_order() -> None:
    """A destination's retry gaps take many values over a long log: in a `Counter` a float
    value cost about 75 bytes, here at most 20 (two 8-byte slots and spare room)."""
    gaps = [float(60 * i + random.Random(i).randint(0, 59)) for i in range(4000)]
    random.Random(5).shuffle(gaps)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        counts = SortedCounts("d")
        for gap in gaps:
            counts.add(gap + 0.0)
        assert len(counts) == len(set(gaps))
        gc.collect()  # (and empties the free lists of tuples that sorting the tail used)
        size = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert size / len(counts) <= 20, f"{size / len(counts):.1f} bytes per value"


def test_a_hostile_order_is_merged_in_few_passes() -> None:
    counts = SortedCounts("q")
    counts.add(10**9)
    for i in range(30_000):
        counts.add(30_000 - i)
    assert counts.settled <= 20 and len(counts) == 30_001 and list(counts)[:2] == [1, 2]


def test_a_schedule_keeps_its_gaps_as_sorted_counts() -> None:
    """The schedule's gaps (seconds to the next attempt) are `SortedCounts`, and its
    medians are those of the same values in a Counter."""
    schedule = ScheduleStats()
    for i, (gap, verdict) in enumerate([(300.0, "early"), (900.0, "late"), (300.0, "early"),
                                        (600.0, "on_time"), (1200.0, "late")]):  # fmt: skip
        deferred = 1000.0 * i
        schedule.add(ScheduleCheck(deferred, 600, HintKind.EXPLICIT, deferred + gap, verdict,
                                   wasted=verdict == "early"))  # fmt: skip
    for name in ("gaps", "early_gaps", "late_gaps"):
        assert type(getattr(schedule, name)) is SortedCounts
    assert median(schedule.gaps) == 600.0 and median(schedule.late_gaps) == 1050.0
    assert dict(schedule.early_gaps.items()) == {300.0: 2}
    merged = ScheduleStats()
    merged.merge(schedule)
    merged.merge(schedule)
    assert merged.gaps == Counter({300.0: 4, 900.0: 2, 600.0: 2, 1200.0: 2})
    assert pickle.loads(pickle.dumps(merged)) == merged


def test_type_checks_against_the_count_classes_leave_mapping_checks_alone() -> None:
    """Compiled, `isinstance(x, HourCounts)` entered x's class in `Mapping`'s cache of
    non-subclasses (see `core.counts`): after the summary encoder had checked a
    schedule's gaps against `HourCounts`, they were no `Mapping` and `median` failed on a
    schedule read back from a state file. Meaningful under the compiled build (the
    compiled-copy suite and `test_compiled`'s state test run it)."""
    from collections.abc import Mapping

    from maillog_diag.core.hours import HourCounts
    from maillog_diag.scan import summary

    schedule = ScheduleStats()
    schedule.gaps.add(5.0)
    hours = HourCounts()
    hours.update(Counter({7: 2}))  # (a Counter checked against HourCounts)
    back = summary.decode(summary.encode(schedule))
    summary.encode(HourCounts({3: 1}))
    for value in (back.gaps, back.early_gaps, SortedCounts(), hours, Counter({1: 1})):
        assert isinstance(value, Mapping), type(value)
    assert median(back.gaps) == 5.0 and median(back.early_gaps) is None
    total: Counter[int] = Counter({7: 1})
    total.update(Counter({7: 2}))
    total.update(hours)
    assert total == Counter({7: 5})
