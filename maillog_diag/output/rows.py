"""Report rows made one at a time as the JSON writer reaches them.

A report's list of destinations is most of its JSON (on the 5M-line bench log 11.5 of
17.8 MB, the hourly series most of that): built whole, as dicts, before the first byte is
written, it raised the peak of `report --format json` by about 8 MiB there, and in
proportion to the log's span, not to the mail in flight. `RowsWhenWritten` stands for
such a list in the report's dict: `write_json` asks it for each row as it writes the list
(`output.render._PrettyJson`), and a written row is dropped before the next one is made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class RowsWhenWritten(Generic[T]):
    """A list of rows, `row(item)` for each of `items`, made when iterated (each time).

    Only for a report that goes straight to `write_json`: other renderers index and reread
    their lists (they get plain lists from `report_dict`)."""

    __slots__ = ("_items", "_row")

    def __init__(self, items: Sequence[T], row: Callable[[T], dict[str, Any]]) -> None:
        self._items = items
        self._row = row

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return map(self._row, self._items)
