"""Held-time percentiles in bounded memory: exact while few, a mergeable sketch beyond.

A destination's held times (seconds) are kept exactly, in an array of 8-byte floats (a
list cost 32 bytes a value with its float objects), while there are at most
`EXACT_LIMIT` of them, so small reports are exact. Beyond that they are counted in the
logarithmic buckets of DDSketch (Masson, Rim and Lee, VLDB 2019; the `ddsketch` package's
`LogarithmicMapping`): a bucket holds the values within a factor (1 + a) / (1 - a) of each
other, so the value reported for a percentile is within `RELATIVE_ACCURACY` (a = 1%) of
the exact nearest-rank percentile, however many values were added. Buckets are a plain
dict of counts: merging two is adding counts, which gives the same buckets in any order,
so the figures do not depend on how a scan was cut. Count, total (exact, in integer
microseconds) and maximum stay exact.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import MutableSequence
from dataclasses import dataclass, field

from ddsketch.mapping import LogarithmicMapping

RELATIVE_ACCURACY = 0.01
"""Relative error of a sketched percentile (1%)."""

EXACT_LIMIT = 256
"""Values kept exactly per destination before switching to the sketch."""

_MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)


def _no_values() -> array[float]:
    return array("d")


@dataclass(slots=True)
class HeldTimes:
    """Held times in seconds (`add`, `merge`, `quantile`); see the module docstring."""

    values: MutableSequence[float] | None = field(default_factory=_no_values)
    """The values while exact, an `array("d")` (a summary file holds them as a list,
    read back as an array: `summary._READ_AS`); None once sketched. (Declared a
    `MutableSequence`: Python 3.11's `array` takes no type parameter at run time, where
    `typing.get_type_hints` reads the declaration.)"""
    bins: dict[int, int] = field(default_factory=dict)
    """Sketch bucket key -> count (values above zero)."""
    zeros: int = 0
    """Sketched values of zero seconds (no bucket holds zero)."""
    count: int = 0
    total_us: int = 0
    largest: float | None = None

    def __len__(self) -> int:
        return self.count

    @property
    def exact(self) -> bool:
        """Whether percentiles are exact (no more than `EXACT_LIMIT` values)."""
        return self.values is not None

    @property
    def total(self) -> float:
        """The sum of all values, in seconds (exact to the microsecond, in any order)."""
        return self.total_us / 1_000_000

    def add(self, value: float) -> None:
        """Add one held time (seconds, >= 0)."""
        self.count += 1
        self.total_us += round(value * 1_000_000)
        if self.largest is None or value > self.largest:
            self.largest = value
        if self.values is not None:
            self.values.append(value)
            if len(self.values) > EXACT_LIMIT:
                self._to_sketch()
        else:
            self._bin(value)

    def _bin(self, value: float) -> None:
        if value <= _MAPPING.min_possible:
            self.zeros += 1
        else:
            key = _MAPPING.key(value)
            self.bins[key] = self.bins.get(key, 0) + 1

    def _to_sketch(self) -> None:
        values, self.values = self.values, None
        for value in values or ():
            self._bin(value)

    def merge(self, other: HeldTimes) -> None:
        """Add another set of held times (the result is the same in any merge order)."""
        self.count += other.count
        self.total_us += other.total_us
        if other.largest is not None and (self.largest is None or other.largest > self.largest):
            self.largest = other.largest
        if self.values is not None and other.values is not None:
            self.values += other.values
            if len(self.values) > EXACT_LIMIT:
                self._to_sketch()
            return
        if self.values is not None:
            self._to_sketch()
        if other.values is not None:
            for value in other.values:
                self._bin(value)
        else:
            self.zeros += other.zeros
            for key, n in other.bins.items():
                self.bins[key] = self.bins.get(key, 0) + n

    def quantile(self, q: float) -> float | None:
        """The nearest-rank q-quantile (p50: q = 0.5), in seconds; None for no values.
        Exact while `exact`, else within `RELATIVE_ACCURACY` of it."""
        if not self.count:
            return None
        rank = max(1, math.ceil(q * self.count))
        if self.values is not None:
            return sorted(self.values)[rank - 1]
        if rank <= self.zeros:
            return 0.0
        seen = self.zeros
        for key in sorted(self.bins):
            seen += self.bins[key]
            if seen >= rank:
                value = _MAPPING.value(key)
                return min(value, self.largest) if self.largest is not None else value
        return self.largest
