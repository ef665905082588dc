"""Counts per hour, kept in one array over the hours they span.

A destination's delayed mail is counted per hour (`DestinationStats.hourly_deferrals`,
`hourly_held`): a recipient held for two days adds one to each of 48 consecutive hours.
As a `Counter[int]` each counted hour costs a dict slot and an `int` key object (about
70-100 bytes); over a log of two weeks the 5M-line bench log's destinations held 8.6 MiB
of such counters, growing with the log's span, not with the mail in flight. Here the
counts of consecutive hours share one `array` of counts from the first counted hour to the
last.

Hours far apart (a log with a broken clock, a destination deferred once a month) would
make that array mostly zeros: once it would hold more than `SPARSE_FACTOR` slots per
counted hour, the counts move to a `SortedCounts`, the counted hours and their counts in
two sorted arrays (16 bytes an hour; a dict cost about 75 with its int objects, and on the
5M-line bench log 1,500 destinations' hourly tables had gone that way, 2.3 MiB of dicts).

The array holds 1-byte counts (`array("B")`) and widens, all of it, to 2, 4 and then 8
bytes the first time a count would not fit: most destinations count fewer than 256
deferrals or held recipients in an hour, and the arrays are what grows with the log's span
(on the 5M-line bench log, 4-byte counts took the two hourly tables to 3.6 MiB, and to
2.5 MiB once the hours far apart were sorted arrays; 8-byte counts had taken them to 4.4).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Mapping

from maillog_diag.core.counts import SortedCounts

SPARSE_FACTOR = 8
"""Array slots allowed per counted hour: 1 to 8 bytes each, so at most 8 to 64 bytes a
counted hour, against 16 in the sorted form (which costs a search to read and, out of
order, a merge to add to; set when the sparse form was a dict of about 75 bytes an
hour)."""

SPARSE_MIN_SPAN = 64
"""Spans this short stay an array however few hours are counted."""


_NARROW = "B"
"""The type code of a new array's counts (1 byte; `_add_at` widens it, see `_WIDER`)."""

_WIDER: dict[str, Callable[[array[int]], array[int]]] = {
    "B": lambda counts: array("H", counts),
    "H": lambda counts: array("I", counts),
    "I": lambda counts: array("Q", counts),
    "L": lambda counts: array("Q", counts),
}
"""The counts copied into the next wider type code, by the present one (2, 4, 8 bytes;
"L", 8 bytes on some platforms and 4 on others, comes only from older pickles)."""

_NARROW_SIZE = array(_NARROW).itemsize

_NO_COUNTS = array(_NARROW)
"""The array of every `HourCounts` that has counted nothing (most destinations have no
delay: an array each would be 6,000 objects per report's tables)."""


class HourCounts(Mapping[int, int]):
    """Hour number (POSIX seconds // 3600) -> count, for the hours counted (count > 0).

    A `Mapping` (`Counter.update` and `==` take it as one); counts are added with `add`,
    `add_span` and `update`, never lowered."""

    __slots__ = ("_first", "_counts", "_sparse", "_hours")

    def __init__(self, counts: Mapping[int, int] | None = None) -> None:
        self._first = 0
        self._counts = _NO_COUNTS
        """Counts of the hours `_first`, `_first + 1`, ... (zero: not counted); until the
        first count, the one shared empty array (never changed: `_fits` replaces it)."""
        self._sparse: SortedCounts | None = None
        """The counts once the array would be mostly empty (then `_counts` is unused)."""
        self._hours = 0
        """Hours with a count (the array's non-zero slots)."""
        if counts:
            self.update(counts)

    def add(self, hour: int, count: int = 1) -> None:
        """Add `count` (> 0) to one hour."""
        self.add_span(hour, hour, count)

    def add_span(self, first: int, last: int, count: int = 1) -> None:
        """Add `count` (> 0) to each hour from `first` to `last`, both included."""
        if count <= 0 or last < first:
            if count < 0:
                raise ValueError("hour counts are only added to")
            return
        sparse = self._sparse
        if sparse is None and self._fits(first, last, last - first + 1):
            start = first - self._first
            for i in range(start, start + last - first + 1):
                self._add_at(i, count)
            return
        if sparse is None:
            sparse = self._to_sparse()
        for hour in range(first, last + 1):
            sparse.add(hour, count)

    def _fits(self, first: int, last: int, added: int) -> bool:
        """Grow the array to cover `first`..`last` (where at most `added` hours will be
        counted), unless it would then hold more than `SPARSE_FACTOR` slots per counted
        hour (then False: the caller moves to the dict)."""
        counts = self._counts
        if counts:
            low = min(first, self._first)
            high = max(last, self._first + len(counts) - 1)
        else:
            low, high = first, last
        span = high - low + 1
        if span > SPARSE_MIN_SPAN and span > SPARSE_FACTOR * (self._hours + added):
            return False
        if not counts:
            self._first = first
            self._counts = array(_NARROW, bytes(_NARROW_SIZE * span))
            return True
        code, size = counts.typecode, counts.itemsize
        if low < self._first:
            self._counts = array(code, bytes(size * (self._first - low))) + counts
            self._first = low
            counts = self._counts
        if len(counts) < span:
            counts.frombytes(bytes(size * (span - len(counts))))
        return True

    def _add_at(self, i: int, count: int) -> None:
        """Add `count` to array slot `i`, widening the array until the sum fits."""
        counts = self._counts
        old = counts[i]
        total = old + count
        try:
            counts[i] = total
        except OverflowError:
            wider = counts
            while True:
                widen = _WIDER.get(wider.typecode)
                if widen is None:  # past 2**64 - 1: not a count a log can give
                    raise
                wider = widen(wider)
                try:
                    wider[i] = total
                except OverflowError:
                    continue
                self._counts = wider
                break
        if not old:
            self._hours += 1

    def _to_sparse(self) -> SortedCounts:
        sparse = SortedCounts("q")
        first = self._first
        for i, n in enumerate(self._counts):
            if n:
                sparse.add(first + i, n)
        self._sparse = sparse
        self._counts = _NO_COUNTS
        return sparse

    def update(self, other: Mapping[int, int]) -> None:
        """Add another's counts (as `Counter.update` adds a mapping's)."""
        if type(other) is HourCounts and other._sparse is None:  # (see `core.counts`)
            if not other._hours:
                return
            first = other._first
            last = first + len(other._counts) - 1
            if self._sparse is None and self._fits(first, last, other._hours):
                at = first - self._first
                for n in other._counts:
                    if n:
                        self._add_at(at, n)
                    at += 1
                return
        for hour, n in other.items():
            if n:
                self.add_span(hour, hour, n)

    def __getitem__(self, hour: int) -> int:
        if self._sparse is not None:
            n = self._sparse.get(hour, 0)
        else:
            i = hour - self._first
            n = self._counts[i] if 0 <= i < len(self._counts) else 0
        if not n:
            raise KeyError(hour)
        return n

    def get(self, hour: int, default: int | None = 0) -> int | None:  # type: ignore[override]
        """The count of `hour`, else `default` (0 unless told: as a `Counter` reads)."""
        try:
            return self[hour]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[int]:
        """The counted hours, earliest first."""
        if self._sparse is not None:
            return iter(self._sparse)
        first = self._first
        return (first + i for i, n in enumerate(self._counts) if n)

    def __len__(self) -> int:
        return len(self._sparse) if self._sparse is not None else self._hours

    def __repr__(self) -> str:
        return f"HourCounts({dict(self.items())!r})"

    def __getstate__(self) -> tuple[int, bytes, SortedCounts | None, int, str]:
        counts = self._counts
        return self._first, counts.tobytes(), self._sparse, self._hours, counts.typecode

    def __setstate__(self, state: tuple[int, bytes, SortedCounts | None, int, str]) -> None:
        self._first, raw, self._sparse, self._hours, code = state
        self._counts = array(code, raw) if raw else _NO_COUNTS
