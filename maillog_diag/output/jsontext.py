"""The report as pretty JSON, encoded once and written as it is encoded (`write_json`).

Its own module, without Rich, so that the accelerated build compiles it with the modules a
log line passes through (`pyproject.toml`): the JSON of a report is written once per run,
after the scan, and no worker shares it. Building and writing the report's JSON, in the
compiled build with these modules run as Python and then compiled: 0.14-0.18 s -> 0.13-0.16 s
on the 200,000-line Exim bench log (a 2.2 s `-j 1` run), 0.30-0.32 s -> 0.21-0.23 s on the
1M-line Postfix log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, Any

from maillog_diag.output.escape import json_safe
from maillog_diag.output.rows import RowsWhenWritten

WRITE_CHARS = 1 << 16
"""Characters of JSON text gathered before a write."""

_CHECK_PIECES = 512
"""`_PrettyJson` adds up the length of the pieces it gathered every this many pieces (a
piece is a key with its value or a separator, tens of characters), not at every piece."""


class _PrettyJson:
    """The text of `json.dumps(value, indent=2, ensure_ascii=False)`, gathered in pieces
    that `flush` hands on every so often.

    The standard library's indenting encoder is its pure-Python one (Python 3.11's C
    encoder writes no indent): nested generators that yield each piece up through every
    level. This walks the data once and appends to one list, with the common cases (a
    plain `str`, `int`, `float`, None, a bool) tested by exact type first; anything else
    takes the standard library's rules (`_scalar`, `_key`), so subclasses (enums), NaN and
    infinities, containers of other types (a `Counter`) and keys of other types come out
    as `json.dumps` writes them. On the 1M-line bench log's report (3.0 MB of JSON) the
    encoding took 0.128 CPU seconds instead of 0.244 (least of 7 rounds).
    `tests/test_write_json.py` compares both texts."""

    __slots__ = ("_pieces", "_flush", "_check_at", "_markers")

    def __init__(self, flush: Callable[[list[str]], None]) -> None:
        self._pieces: list[str] = []
        self._flush = flush
        self._check_at = _CHECK_PIECES
        """How many pieces gathered before their length is added up next (`_written`)."""
        self._markers: set[int] = set()
        """Containers being written (a container inside itself is refused, as by `json`)."""

    def write(self, value: Any) -> None:
        """Encode `value` and hand on the rest of the text."""
        self._value(value, "\n")
        if self._pieces:
            self._flush(self._pieces)
            self._pieces.clear()

    def _value(self, value: Any, newline: str) -> None:
        """`newline`: a newline and the indent of the line `value` starts on."""
        if isinstance(value, dict):
            self._dict(value, newline)
        elif isinstance(value, list | tuple | RowsWhenWritten):
            self._list(value, newline)
        else:
            self._pieces.append(_scalar(value))

    def _enter(self, value: Any) -> None:
        key = id(value)
        if key in self._markers:
            raise ValueError("Circular reference detected")
        self._markers.add(key)

    def _dict(self, value: dict[Any, Any], newline: str) -> None:
        if not value:
            self._pieces.append("{}")
            return
        self._enter(value)
        pieces = self._pieces
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            if type(key) is not str:
                key = _key(key)
            kind = type(item)
            if kind is str:
                pieces.append(f"{separator}{_STRING(key)}: {_STRING(item)}")
            elif kind is int or kind is float or item is None or kind is bool:
                pieces.append(f"{separator}{_STRING(key)}: {_scalar(item)}")
            else:
                pieces.append(f"{separator}{_STRING(key)}: ")
                self._value(item, inner)
            separator = "," + inner
        pieces.append(newline + "}")
        self._markers.discard(id(value))
        if len(pieces) >= self._check_at:
            self._written()

    def _list(
        self, value: list[Any] | tuple[Any, ...] | RowsWhenWritten[Any], newline: str
    ) -> None:
        item: Any
        if not value:
            self._pieces.append("[]")
            return
        self._enter(value)
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            kind = type(item)
            if kind is str:
                self._pieces.append(separator + _STRING(item))
            elif kind is int or kind is float or item is None or kind is bool:
                self._pieces.append(separator + _scalar(item))
            else:
                self._pieces.append(separator)
                self._value(item, inner)
            separator = "," + inner
        self._pieces.append(newline + "]")
        self._markers.discard(id(value))
        if len(self._pieces) >= self._check_at:
            self._written()

    def _written(self) -> None:
        """Hand on the pieces once they make `WRITE_CHARS` (checked at the end of a dict
        or list: a write is about that long, longer only by a long string)."""
        pieces = self._pieces
        if sum(map(len, pieces)) >= WRITE_CHARS:
            self._flush(pieces)
            pieces.clear()  # (in place: the levels being written append to this list)
            self._check_at = _CHECK_PIECES
        else:
            self._check_at = len(pieces) + _CHECK_PIECES


_STRING: Callable[[str], str] = json.encoder.encode_basestring
"""A JSON string literal, non-ASCII kept (the C function `json.dumps` uses here)."""

_FLOAT = float.__repr__
_INT = int.__repr__


def _float(value: float) -> str:
    """A float as `json.dumps` writes it (its repr; NaN and infinities as JavaScript)."""
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return _FLOAT(value)


_INFINITY = float("inf")


def _scalar(value: Any) -> str:
    """A value that is no container, as `json.dumps` writes it (it refuses other types)."""
    if isinstance(value, str):
        return _STRING(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return _INT(value)
    if isinstance(value, float):
        return _float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _key(key: Any) -> str:
    """A dict key that is no `str`, converted as `json.dumps` converts it."""
    if isinstance(key, str):
        return str.__str__(key)
    if isinstance(key, float):
        return _float(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return _INT(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def write_json(data: Any, out: IO[str]) -> None:
    """Pretty JSON with a trailing newline (the text of `json.dumps(data, indent=2,
    ensure_ascii=False)`), written as it is encoded: the report's text is never one string
    in memory. On a 5M-line log (a 17.8 MB report) the whole string with the pieces it is
    joined from took about 100 MB more than the report's dict."""

    def flush(pieces: list[str]) -> None:
        out.write(json_safe("".join(pieces)))

    _PrettyJson(flush).write(data)
    out.write("\n")
