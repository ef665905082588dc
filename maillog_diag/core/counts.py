"""Counts per value in two sorted arrays: a compact `Counter` for tables that grow.

A report's tables keyed by a number grow with the log: the seconds between a deferral and
the next attempt at each destination (`ScheduleStats.gaps`: 24,000 distinct values on the
5M-line bench log, 7,000 on the 1M-line one), and the hours of a destination deferred now
and then (`HourCounts` in its sparse form). In a `Counter` each value costs about 75 bytes
(a dict slot, a float or int object, often an int count); here it costs 16, its value in
one array and its count in another, both sorted by value. (A table of one to four values
costs about what a `Counter` does: the two arrays' own 64 bytes each. With this and one
interval table per cause, the peak on the 1M-line log grew by about 0.3 MiB and on the
5M-line one fell by 0.7.)

A value after the last one is appended; any other waits in an unsorted tail, which is
sorted and merged in (`settle`) once it is longer than the sorted part, or before the
counts are read. The sorted part at least doubles at each merge, so a value is merged
O(log n) times: adding n values costs n log n in any order, and a hostile order (every
value before the last) is not quadratic.

Code tests for `SortedCounts` and `HourCounts` with `type(x) is ...`, never `isinstance`.
Both are `Mapping` subclasses, and compiled by mypyc such a class has no ABC cache of its
own: it uses `Mapping`'s. So `isinstance(x, HourCounts)`, x not an `HourCounts`, entered
x's class in `Mapping`'s cache of non-subclasses, and from then on `isinstance(x, Mapping)`
was False: the summary encoder's check made a schedule read back from a state file fail in
`median`, and a `Counter` so entered would make `Counter.update` count its keys instead of
adding its counts. (The pure build is not affected.)
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from typing import Any

TAIL_MIN = 64
"""Values a `SortedCounts` lets wait, unsorted, before it sorts them in (at least)."""


class SortedCounts(Mapping[Any, int]):
    """Value -> count (> 0), for values of one array type code: "d" (floats, seconds) or
    "q" (ints, hour numbers). Counts are added (`add`, `update`), never lowered; a value is
    read back as the type code gives it (a float from "d"), and the values iterate in
    ascending order. Equal to any mapping with the same counts (`Mapping.__eq__`)."""

    __slots__ = ("code", "_values", "_counts", "_tail_values", "_tail_counts", "settled")

    def __init__(self, code: str = "d", counts: Mapping[Any, int] | None = None) -> None:
        self.code = code
        self._values: array[Any] | None = None
        """The counted values, ascending, each once (None until the first count)."""
        self._counts: array[int] | None = None
        """The count of each of `_values` (8 bytes: nothing here needs to widen)."""
        self._tail_values: array[Any] | None = None
        self._tail_counts: array[int] | None = None
        self.settled = 0
        """Merges of the tail done so far (a test checks that they stay few)."""
        if counts:
            self.update(counts)

    def add(self, value: Any, count: int = 1) -> None:
        """Add `count` (> 0) to `value`."""
        values = self._values
        if values is None or self._counts is None:
            self._values = array(self.code, (value,))
            self._counts = array("Q", (count,))
            return
        tail = self._tail_values
        if not tail:
            last = values[-1]
            if value > last:
                values.append(value)
                self._counts.append(count)
                return
            if value == last:
                self._counts[-1] += count
                return
        if tail is None or self._tail_counts is None:
            new_tail: array[Any] = array(self.code)
            tail = self._tail_values = new_tail
            self._tail_counts = array("Q")
        tail.append(value)
        self._tail_counts.append(count)
        if len(tail) > max(TAIL_MIN, len(values)):
            self.settle()

    def update(self, other: Mapping[Any, int]) -> None:
        """Add another's counts (as `Counter.update` adds a mapping's)."""
        for value, count in other.items():
            if count:
                self.add(value, count)

    def settle(self) -> None:
        """Merge the waiting values into the sorted arrays (adding the counts of a value
        counted twice)."""
        tail_values, tail_counts = self._tail_values, self._tail_counts
        old_values, old_counts = self._values, self._counts
        if not tail_values or tail_counts is None or old_values is None or old_counts is None:
            return
        tail = sorted(zip(tail_values, tail_counts, strict=True))
        self._tail_values = self._tail_counts = None
        values: array[Any] = array(self.code)  # (typed: a "d" array holds floats)
        counts: array[int] = array("Q")
        i, size = 0, len(old_values)
        for value, count in tail:
            while i < size and old_values[i] < value:
                values.append(old_values[i])
                counts.append(old_counts[i])
                i += 1
            if i < size and old_values[i] == value:
                count += old_counts[i]
                i += 1
            if values and values[-1] == value:
                counts[-1] += count
            else:
                values.append(value)
                counts.append(count)
        values.extend(old_values[i:])
        counts.extend(old_counts[i:])
        self._values, self._counts = values, counts
        self.settled += 1

    def __getitem__(self, value: Any) -> int:
        self.settle()
        values, counts = self._values, self._counts
        if values is not None and counts is not None:
            i = bisect_left(values, value)
            if i < len(values) and values[i] == value:
                return counts[i]
        raise KeyError(value)

    def __iter__(self) -> Iterator[Any]:
        """The counted values, ascending."""
        self.settle()
        return iter(self._values if self._values is not None else ())

    def __len__(self) -> int:
        self.settle()
        return len(self._values) if self._values is not None else 0

    def pairs(self) -> list[tuple[Any, int]]:
        """(value, count) for every counted value, ascending (what `items` gives, without
        a lookup per value)."""
        self.settle()
        if self._values is None or self._counts is None:
            return []
        return list(zip(self._values, self._counts, strict=True))

    def __repr__(self) -> str:
        return f"SortedCounts({self.code!r}, {dict(self.pairs())!r})"

    def __getstate__(self) -> tuple[str, bytes, bytes]:
        self.settle()
        values, counts = self._values, self._counts
        if values is None or counts is None:
            return self.code, b"", b""
        return self.code, values.tobytes(), counts.tobytes()

    def __setstate__(self, state: tuple[str, bytes, bytes]) -> None:
        self.code, raw_values, raw_counts = state
        self._tail_values = self._tail_counts = None
        self.settled = 0
        if raw_values:
            self._values, self._counts = array(self.code, raw_values), array("Q", raw_counts)
        else:
            self._values = self._counts = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...], Any]:
        return SortedCounts, (self.code,), self.__getstate__()
