"""Memory that grows with what a report shows, not with the lines read (issue 12): tables
of distinct values that stay exact, and JSON written as it is encoded."""

from __future__ import annotations

import io
import json
import random
import statistics
from collections import Counter

import pytest

from maillog_diag.core.analysis import ScheduleStats, median
from maillog_diag.core.counts import SortedCounts
from maillog_diag.core.diagnosis import ScheduleCheck
from maillog_diag.core.hints import HintKind
from maillog_diag.output import jsontext
from maillog_diag.output.escape import json_safe
from maillog_diag.scan import summary


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 10, 101, 1000])
def test_median_of_counts_is_the_median_of_the_list(n: int) -> None:
    rng = random.Random(n)
    for values in (
        [float(rng.choice([30, 60, 300, 301.5, 900])) for _ in range(n)],
        [rng.randrange(0, 5000) for _ in range(n)],
        [rng.random() * 1e5 for _ in range(n)],
    ):
        expected = float(statistics.median(values))
        assert median(Counter(values)) == expected  # bit for bit, not approximately
        assert median(values) == expected


def test_median_of_no_values() -> None:
    assert median(Counter()) is None
    assert median([]) is None
    assert median(Counter({5.0: 0})) is None


def _check(gap: float, hint: int = 300) -> ScheduleCheck:
    verdict = "early" if gap < hint - 30 else "late" if gap > hint + 30 else "on_time"
    return ScheduleCheck(
        0.0,
        hint,
        HintKind.EXPLICIT,
        gap,
        verdict,
        wasted=verdict == "early",
        avoidable_seconds=max(0.0, gap - hint) if verdict == "late" else 0.0,
    )


def test_schedule_keeps_distinct_intervals_not_one_entry_per_deferral() -> None:
    s = ScheduleStats()
    for i in range(30_000):
        s.add(_check((60.0, 300.0, 4000.0)[i % 3]))
    assert s.compared == 30_000
    assert len(s.gaps) == 3 and len(s.hints) == 1
    assert s.gaps[60.0] == 10_000
    assert median(s.gaps) == 300.0
    assert median(s.early_gaps) == 60.0 and median(s.late_gaps) == 4000.0


def test_schedule_merge_gives_the_medians_of_one_pass() -> None:
    rng = random.Random(7)
    gaps = [float(rng.randrange(10, 8000)) for _ in range(999)]
    whole, left, right = ScheduleStats(), ScheduleStats(), ScheduleStats()
    for i, gap in enumerate(gaps):
        whole.add(_check(gap))
        (left if i < 400 else right).add(_check(gap))
    left.merge(right)
    assert left == whole
    assert median(left.gaps) == float(statistics.median(gaps))


def test_schedule_reads_the_lists_of_a_version_1_summary() -> None:
    old = summary.decode({"@": "ScheduleStats", "hints": [300, 300, 60], "gaps": [1.0, 2.0, 2.0]})
    assert type(old) is ScheduleStats and type(old.gaps) is SortedCounts
    assert old.hints == Counter({300: 2, 60: 1})
    assert median(old.gaps) == 2.0
    new = ScheduleStats()
    new.merge(old)
    assert new.gaps == Counter({2.0: 2, 1.0: 1})


def test_json_is_written_in_pieces_with_the_text_of_one_dumps() -> None:
    data = {
        "destinations": [
            {"domain": f"d{i}.example", "reply": "450 \x85 \x7f gr\u00fc\u00dfe", "n": i / 3}
            for i in range(5000)
        ],
        "none": None,
    }
    writes: list[str] = []

    class Out(io.StringIO):
        def write(self, text: str) -> int:
            writes.append(text)
            return super().write(text)

    out = Out()
    jsontext.write_json(data, out)
    expected = json_safe(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"
    assert out.getvalue() == expected
    assert "\\u0085" in expected and "\\u007f" in expected  # escaped in every piece
    assert len(writes) > 5  # several pieces, none much over the batch size
    assert max(map(len, writes)) < 2 * jsontext.WRITE_CHARS  # (escapes lengthen a piece)
