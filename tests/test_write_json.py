"""`write_json` must write exactly the text of `json.dumps(data, indent=2, ensure_ascii=False)`
(plus a newline, DEL and C1 controls escaped by `json_safe`): the JSON report is a contract
byte for byte, whatever encoder writes it."""

from __future__ import annotations

import enum
import io
import json
import math
import random
from collections import Counter, OrderedDict
from typing import Any

import pytest

from maillog_diag.input.timestamps import resolve_zone
from maillog_diag.output.escape import json_safe
from maillog_diag.output.jsontext import WRITE_CHARS, write_json
from maillog_diag.output.rows import RowsWhenWritten
from maillog_diag.output.serialize import report_dict
from maillog_diag.scan.pipeline import ScanOptions, scan_report

from .conftest import MTA_SAMPLES


class _Kind(enum.StrEnum):
    A = "a-kind"


class _Level(enum.IntEnum):
    TWO = 2


def _expected(data: Any) -> str:
    return json_safe(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def _written(data: Any) -> str:
    out = io.StringIO()
    write_json(data, out)
    return out.getvalue()


ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -7,
    2**70,
    0.1,
    -0.0,
    1e300,
    1.5e-7,
    math.inf,
    -math.inf,
    math.nan,
    "",
    "plain",
    'quote " backslash \\ slash /',
    "tab\tnewline\ncr\r nul\x00 esc\x1b del\x7f c1\x9b",
    "unicode é ü 日本 \u2028 \U0001f600",
    _Kind.A,
    _Level.TWO,
    [],
    {},
    (),
    (1, "two", None),
    [[], {}, [[]], {"a": {}}],
]


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_every_kind_of_value_alone_and_nested(value: Any) -> None:
    for data in (value, [value], {"k": value}, {"k": [value, {"x": value}]}, [[value], value]):
        assert _written(data) == _expected(data)


def test_containers_of_other_types_are_indented_alike() -> None:
    inner = Counter({"b": 2, "a": 1})
    data = {"c": inner, "o": OrderedDict(x=[inner, (inner,)]), "l": [inner, [Counter()]]}
    assert _written(data) == _expected(data)
    assert _written([inner, {"k": inner}]) == _expected([inner, {"k": inner}])


def test_keys_of_every_kind_json_converts() -> None:
    data = {"s": 1, 3: "int", 2.5: "float", True: "bool", None: "none", _Kind.A: "enum"}
    assert _written(data) == _expected(data)


def test_random_nested_data() -> None:
    rng = random.Random(20261201)

    def value(depth: int) -> Any:
        pick = rng.randrange(10 if depth < 5 else 6)
        if pick < 6:
            return rng.choice(ODD_VALUES[:20])
        if pick < 8:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        return {f"k{i}\x85": value(depth + 1) for i in range(rng.randrange(4))}

    for _ in range(300):
        data = value(0)
        assert _written(data) == _expected(data)


def test_long_output_is_written_in_several_pieces() -> None:
    data = {"rows": [{"domain": f"d{i}.example", "count": i, "p": i / 7} for i in range(5000)]}
    out = io.StringIO()
    writes: list[int] = []
    real_write = out.write

    def counting_write(text: str) -> int:
        writes.append(len(text))
        return real_write(text)

    out.write = counting_write  # type: ignore[method-assign]
    write_json(data, out)
    assert out.getvalue() == _expected(data)
    assert len(writes) > 1
    assert max(writes) < 4 * WRITE_CHARS


def test_circular_data_is_refused() -> None:
    data: list[Any] = []
    data.append(data)
    with pytest.raises((ValueError, RecursionError)):
        write_json(data, io.StringIO())


def test_unknown_types_are_refused_as_json_refuses_them() -> None:
    for data in ({"x": object()}, [b"bytes"], {(1, 2): "tuple key"}):
        with pytest.raises(TypeError):
            json.dumps(data, indent=2)
        with pytest.raises(TypeError):
            write_json(data, io.StringIO())


@pytest.mark.parametrize(
    "log",
    list(MTA_SAMPLES.values()),
    ids=lambda p: p.parent.name,
)
def test_a_whole_report_is_written_as_json_dumps_writes_it(log: Any) -> None:
    zone = resolve_zone("UTC")
    builder, result = scan_report([str(log)], ScanOptions(zone=zone, year=2026))
    data = report_dict(builder, result, zone, include_all=True, reasons=5)
    assert _written(data) == _expected(data)


@pytest.mark.parametrize(
    "log",
    list(MTA_SAMPLES.values()),
    ids=lambda p: p.parent.name,
)
@pytest.mark.parametrize("by", ["destination", "sender"])
def test_rows_made_as_written_give_the_same_text(log: Any, by: str) -> None:
    """`report_dict(..., rows_when_written=True)` leaves the destination (and group) rows
    to be made while `write_json` writes them: the same text, byte for byte."""
    zone = resolve_zone("UTC")
    builder, result = scan_report([str(log)], ScanOptions(zone=zone, year=2026, group_by=by))
    whole = report_dict(builder, result, zone, include_all=True, reasons=5)
    lazy = report_dict(builder, result, zone, include_all=True, reasons=5, rows_when_written=True)
    assert isinstance(lazy["destinations"], RowsWhenWritten)
    assert len(lazy["destinations"]) == len(whole["destinations"]) > 0
    assert _written(lazy) == _written(whole) == _expected(whole)


def test_rows_when_written_are_made_one_at_a_time_while_writing() -> None:
    made: list[int] = []
    written_before: list[int] = []
    out = io.StringIO()

    def row(i: int) -> dict[str, Any]:
        made.append(i)
        written_before.append(len(out.getvalue()))
        return {"domain": f"d{i}.example", "hourly": [{"hour": h, "held": i} for h in range(50)]}

    rows = RowsWhenWritten(range(300), row)
    data = {"first": "x", "destinations": rows, "empty": RowsWhenWritten([], row)}
    assert made == []  # nothing made before writing
    write_json(data, out)
    assert made == list(range(300))
    # The text is handed on while rows are still being made: a row is not held until the end.
    assert written_before[-1] > written_before[0]
    plain = {"first": "x", "destinations": [row(i) for i in range(300)], "empty": []}
    assert out.getvalue() == _expected(plain)
