"""Fuzzing the whole way (issue 10): arbitrary text and bytes, and real lines of
`sample_logs/` mutated, through the reader, the parser, the correlator and every renderer.

Properties: no exception escapes; the line accounting adds up; the same input gives the
same output; no input takes more than a bounded time per character.

The default profile runs in well under a minute. `MAILLOG_DIAG_FUZZ=long` runs many more
examples (see the README's Security section for the last long run).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from datetime import UTC

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maillog_diag.core.analysis import ReportBuilder
from maillog_diag.core.model import Message
from maillog_diag.scan.pipeline import ScanOptions, input_order, report_emitter, scan
from tests.hostile import SAMPLE_FILES, render_all, run_lines

settings.register_profile(
    "ci", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("long" if os.environ.get("MAILLOG_DIAG_FUZZ") == "long" else "ci")

REAL = [line for path in SAMPLE_FILES for line in path.read_text(encoding="utf-8").splitlines()]

SECONDS_PER_CHAR = 2e-4
"""The time budget per input character (whole pipeline, every renderer), far above the
measured cost (about 2e-5) so that a loaded machine does not fail it; quadratic or
exponential behaviour on lines of a few thousand characters exceeds it."""

OVERHEAD = 5.0
"""Seconds allowed on top, whatever the input: building the readers of a scan, and a loaded
machine (the long run saw 2 s for a two-line file while a benchmark held both cores)."""

NASTY = (
    '"',
    "\\",
    "[",
    "]",
    "(",
    ")",
    "<",
    ">",
    ":",
    "::",
    "=",
    " ",
    "\t",
    "\r",
    "\r\n",
    "\x00",
    "\x1b[2J",
    "\x1b]0;T\x07",
    "\x9b",
    "\x7f",
    "[/]",
    "[/bold]",
    "[link=http://e.test/]",
    "[mx.c.test]",
    ":smile:",
    "\ufffd",
    "é",
    "\u202e",
)


@st.composite
def mutated_line(draw: st.DrawFn) -> str:
    """A real line with a few mutations."""
    line = draw(st.sampled_from(REAL))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(
            st.sampled_from(
                [
                    "cut",
                    "replace",
                    "insert",
                    "delete",
                    "number",
                    "stamp",
                    "quote",
                    "nasty",
                    "repeat",
                ]
            )
        )
        pos = draw(st.integers(0, max(0, len(line))))
        if kind == "cut":
            line = line[:pos]
        elif kind == "replace" and line:
            pos = min(pos, len(line) - 1)
            line = line[:pos] + draw(st.characters()) + line[pos + 1 :]
        elif kind == "insert":
            line = line[:pos] + draw(st.text(max_size=5)) + line[pos:]
        elif kind == "delete":
            line = line[:pos] + line[pos + draw(st.integers(1, 10)) :]
        elif kind == "number":
            digits = draw(st.sampled_from(["99999999999", "1e400", "nan", "-1", "0", "4294967296"]))
            line = re.sub(r"[0-9]+(?:\.[0-9]+)?", digits, line, count=draw(st.integers(1, 3)))
        elif kind == "stamp":
            fake = draw(
                st.sampled_from(
                    [
                        "23:61:61",
                        "99:99:99",
                        "0001-01-01",
                        "9999-12-31",
                        "Feb 31",
                        "Foo 29",
                        "0000-00-00",
                    ]
                )
            )
            line = re.sub(
                r"[0-9]{2}:[0-9]{2}:[0-9]{2}|[0-9]{4}-[0-9]{2}-[0-9]{2}|[A-Z][a-z]{2} [ 0-9][0-9]",
                fake,
                line,
                count=1,
            )
        elif kind == "quote":
            line = line[:pos] + '"' + line[pos:]
        elif kind == "nasty":
            line = line[:pos] + draw(st.sampled_from(NASTY)) + line[pos:]
        else:
            piece = draw(st.sampled_from(NASTY))
            line = line[:pos] + piece * draw(st.integers(10, 2000)) + line[pos:]
    return line


def _check(lines: list[str]) -> None:
    """The properties, for lines given to the library one by one."""
    start = time.perf_counter()
    first = run_lines(lines)
    elapsed = time.perf_counter() - start
    chars = sum(len(x) for x in lines) + len(lines)
    assert elapsed < OVERHEAD + SECONDS_PER_CHAR * chars, (elapsed, chars)
    assert run_lines(lines) == first


@given(st.lists(st.text(max_size=300), max_size=8))
def test_arbitrary_text(lines: list[str]) -> None:
    _check([x.replace("\n", " ") for x in lines])


@given(st.lists(mutated_line(), min_size=1, max_size=12))
def test_mutated_real_lines(lines: list[str]) -> None:
    _check([x.replace("\n", " ") for x in lines])


@given(
    st.lists(st.sampled_from(REAL), min_size=1, max_size=10),
    st.lists(mutated_line(), max_size=4),
    st.sampled_from(["\n", "\r\n", "\r", "\n\r"]),
)
def test_real_lines_with_mixed_line_ends_through_files(
    real: list[str], bad: list[str], end: str
) -> None:
    data = end.join(real + bad).encode("utf-8", "surrogatepass") + b"\n"
    _through_file(data)


@given(
    st.sampled_from(
        [
            b"",
            b"\x1f\x8b\x08\x00",
            b"BZh9",
            b"BZh91AY&SY",
            b"\xfd7zXZ\x00",
            b"\x28\xb5\x2f\xfd",
            b'{"MESSAGE": "x", "__REALTIME_TIMESTAMP": "1"}\n',
        ]
    ),
    st.binary(max_size=2000),
)
def test_arbitrary_bytes_through_files(magic: bytes, data: bytes) -> None:
    _through_file(magic + data)


def _scan_file(name: str) -> dict[str, str]:
    """One file through the reader, the parser, the correlator and every renderer."""
    builder = ReportBuilder(input_order([name]))
    messages: list[Message] = []
    add = report_emitter(builder, None)

    def emit(msg: Message) -> None:
        messages.append(msg)
        add(msg)

    result = scan([name], ScanOptions(zone=UTC, year=2026, keep_lines=True), emit)
    c = result.counts
    assert c.used + c.ignored + c.unparsed == c.total
    return render_all(builder, result, messages)


def _through_file(data: bytes) -> None:
    """Bytes as a file, through the whole pipeline: same properties."""
    with tempfile.NamedTemporaryFile(suffix=".log") as fh:
        fh.write(data)
        fh.flush()
        start = time.perf_counter()
        first = _scan_file(fh.name)
        assert time.perf_counter() - start < OVERHEAD + SECONDS_PER_CHAR * len(data)
        assert _scan_file(fh.name) == first
