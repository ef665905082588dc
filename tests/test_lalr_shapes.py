"""The driver's flat shapes must read every line exactly as its general loop does.

Each reader is built twice: once as shipped (shapes first) and once with every line going
through the general LALR loop. Every line of the sample logs, the fixtures, the public
corpus (when present) and adversarial variants of them must give the same result: the
same event, the same ignored reason, or the same kind of error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maillog_diag.errors import UnparsableLine
from maillog_diag.input.timestamps import TimeParser, YearInference, resolve_zone
from maillog_diag.scan.lines import LineParser
from maillog_diag.syntax import lalr
from maillog_diag.syntax.lalr import FastLALR

from .conftest import CORPUS, FIXTURES, SAMPLE_LOGS, pure_only

_LOGS = [
    p for p in sorted(SAMPLE_LOGS.glob("*/*")) if p.is_file() and p.suffix not in {".jsonl", ".md"}
]
_LOGS += sorted(FIXTURES.glob("*.log"))


def _parser(shapes: bool) -> LineParser:
    parser = LineParser(TimeParser(resolve_zone("UTC"), YearInference(fixed=2026)))
    parser.start_input(YearInference(fixed=2026))
    drivers = 0
    for reader in parser._readers:
        driver = getattr(reader, "_driver", None)
        if driver is None:
            general = getattr(reader, "_parse", None)
            if general is None:
                continue
            driver = general.__self__
        assert isinstance(driver, FastLALR)
        drivers += 1
        if not shapes:
            driver._use_shapes = False
    assert drivers == 4  # Postfix, Exim, Sendmail, OpenSMTPD: none compared with itself
    return parser


def _outcome(parser: LineParser, line: str) -> Any:
    try:
        return repr(parser.parse(line, "x", 1))
    except UnparsableLine as exc:
        return ("unparsed", exc.context)


def _lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]


def _variants(line: str) -> Iterator[str]:
    """The line, cut short, with text appended, and with words a competitor starts with."""
    yield line
    yield line[: len(line) // 2]
    yield line[:-1]
    yield line + " (trailing)"
    yield line + ")"
    for word in ("removed", "host x said: ", "to=<a@b>, ", "status=sent", " (", "warning: "):
        cut = line.find(": ", 20)
        if cut > 0:
            yield line[: cut + 2] + word + line[cut + 2 :]


def _compare(lines: list[str]) -> list[tuple[str, Any, Any]]:
    fast, general = _parser(True), _parser(False)
    differ = []
    for line in lines:
        a, b = _outcome(fast, line), _outcome(general, line)
        if a != b:
            differ.append((line, a, b))
    return differ


@pytest.mark.parametrize("path", _LOGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shapes_agree_with_the_general_loop(path: Path) -> None:
    lines = _lines(path)
    assert lines
    assert _compare([v for ln in lines for v in _variants(ln)]) == []


@pure_only
def test_shapes_read_most_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shapes are taken (not silently bypassed): most lines of the Postfix sample go
    through them."""
    parser = _parser(True)
    taken = 0
    original = lalr._shaped

    def counting(table: Any, text: str, pos: int, values: tuple[str, ...]) -> Any:
        nonlocal taken
        result = original(table, text, pos, values)
        taken += result is not lalr._NO_SHAPE
        return result

    monkeypatch.setattr(lalr, "_shaped", counting)
    lines = _lines(SAMPLE_LOGS / "postfix" / "mail.log")
    for line in lines:
        _outcome(parser, line)
    assert taken > len(lines) // 2


def test_a_competing_terminal_sends_the_line_to_the_general_loop() -> None:
    """An Exim rejection (a line of the public corpus): the rest of it fits a later shape
    as well, but the lexer tries another terminal first at that place and takes it."""
    line = (
        "2013-06-15 11:20:36 [2516] 1Unmew-0000ea-SE H=egeftech.static.otenet.gr"
        " [83.235.177.148]:32706 I=[1.2.3.4]:25 F=auguriesvbd40@google.com rejected after"
        " DATA: This message contains a virus (Sanesecurity.Junk.39934.UNOFFICIAL)."
    )
    assert _compare([line]) == []


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared corpus not present")
def test_shapes_agree_on_the_public_corpus() -> None:
    lines: list[str] = []
    for path in sorted(CORPUS.glob("*/*.log")):
        lines += _lines(path)[:3000]
    assert lines
    assert _compare(lines) == []


def test_a_shape_remembered_for_a_beginning_does_not_hide_the_others() -> None:
    """`from=<...>, size=` (qmgr) and `from=<...>, status=expired` begin alike: whichever
    was read first is tried first for the other, which must still be read by its own
    shape, in either order."""
    queued = (
        "Nov 29 12:00:01 mx1 postfix/qmgr[77]: 4F2A31C02B9: from=<a@example.com>,"
        " size=1234, nrcpt=1 (queue active)"
    )
    expired = (
        "Nov 29 12:00:02 mx1 postfix/qmgr[77]: 4F2A31C02B9: from=<a@example.com>,"
        " status=expired, returned to sender"
    )
    for order in ([queued, expired, queued], [expired, queued, expired]):
        fast, general = _parser(True), _parser(False)
        got = [_outcome(fast, line) for line in order]
        assert got == [_outcome(general, line) for line in order]
        assert "MessageInfo" in got[order.index(queued)]
        assert "Expired" in got[order.index(expired)]
