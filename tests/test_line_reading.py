"""Reading lines a chunk at a time gives exactly the lines of reading one at a time.

The reference below is the specification (and the former implementation): `readline` of
at most `max_line + 1` bytes, only LF ends a line, CRLF loses its CR, a lone CR stays,
undecodable bytes are replaced, a longer line becomes a `LongLine` of its full length.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maillog_diag.input import sources
from maillog_diag.input.sources import LongLine


def _reference(stream: io.BufferedReader, max_line: int) -> Iterator[str]:
    while True:
        raw = stream.readline(max_line + 1)
        if not raw:
            return
        if len(raw) > max_line and not raw.endswith(b"\n"):
            length = len(raw)
            while True:
                rest = stream.readline(65536)
                length += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            long = LongLine(raw[:300].decode("utf-8", "replace"))
            long.length = length
            yield long
            continue
        if raw.endswith(b"\n"):
            raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        yield raw.decode("utf-8", "replace")


def _seen(lines: Iterator[str]) -> list[tuple[str, str, int | None]]:
    return [(str(x), type(x).__name__, getattr(x, "length", None)) for x in lines]


_PIECES = st.sampled_from(
    [b"a", b"\n", b"\r", b"\r\n", b"\xc3", b"\xa9", b"\xe2\x82", b"\xff", b"x" * 50, "😀".encode()]
)


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(_PIECES, max_size=120).map(b"".join),
    max_line=st.sampled_from([5, 10, 40, 100, 1 << 20]),
    chunk=st.sampled_from([1, 3, 7, 64, 1 << 20]),
)
def test_chunked_reading_equals_line_by_line(data: bytes, max_line: int, chunk: int) -> None:
    expected = _seen(_reference(io.BufferedReader(io.BytesIO(data)), max_line))
    old = sources._CHUNK_BYTES
    sources._CHUNK_BYTES = chunk
    try:
        got = _seen(sources._text_lines(io.BufferedReader(io.BytesIO(data)), max_line))
    finally:
        sources._CHUNK_BYTES = old
    assert got == expected


@pytest.mark.parametrize("chunk", [1, 4096, 1 << 20])
def test_a_long_line_costs_no_memory_and_the_next_line_survives(chunk: int) -> None:
    data = b"first\n" + b"y" * 5_000_000 + b"\nlast\n"
    old = sources._CHUNK_BYTES
    sources._CHUNK_BYTES = chunk
    try:
        got = _seen(sources._text_lines(io.BufferedReader(io.BytesIO(data)), 1 << 16))
    finally:
        sources._CHUNK_BYTES = old
    assert got == [
        ("first", "str", None),
        ("y" * 300, "LongLine", 5_000_001),
        ("last", "str", None),
    ]


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_lines_closed_early_close_their_file(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_bytes(b"".join(b"line %d\n" % i for i in range(100_000)))
    before = _open_descriptors()
    _source, lines = sources.read_lines(str(log))
    assert next(lines) == "line 0"
    assert next(iter(lines)) == "line 1"  # iterating goes on where `next` left off
    assert _open_descriptors() == before + 1
    lines.close()
    assert _open_descriptors() == before
    ranged = sources.read_range(str(log), 0, 1000)
    assert _open_descriptors() == before  # opened when the first line is asked for
    assert list(ranged)[:2] == ["line 0", "line 1"]
    assert _open_descriptors() == before  # and closed at the end
