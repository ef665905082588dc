"""The lean LALR driver must agree with `Lark.parse` on every line: same events, same errors."""

from __future__ import annotations

import pytest
from lark import UnexpectedInput

from maillog_diag.input.timestamps import TimeParser, YearInference, resolve_zone
from maillog_diag.mta.postfix import PostfixTransformer
from maillog_diag.scan.lines import load_grammar
from maillog_diag.syntax.lalr import FastLALR

from .conftest import CORPUS, FIXTURES, SAMPLE_LOGS


def _postfix_lines() -> list[str]:
    files = [FIXTURES / "postfix_small.log", *sorted(SAMPLE_LOGS.glob("postfix/*.log*"))]
    files += sorted((CORPUS / "postfix").glob("kdent--*.log"))[:1]
    lines: list[str] = []
    for f in files:
        if f.is_file():
            lines += [ln for ln in f.read_text(errors="replace").splitlines() if "postfix/" in ln]
    return lines


def _outcome(parse, line: str) -> object:  # type: ignore[no-untyped-def]
    try:
        return parse(line)
    except UnexpectedInput as exc:
        return type(exc).__name__ != ""  # any Lark parse error


@pytest.fixture(scope="module")
def parsers() -> tuple[object, object]:
    def make() -> tuple[object, PostfixTransformer]:
        t = PostfixTransformer(TimeParser(resolve_zone("UTC"), YearInference(fixed=2026)))
        return load_grammar("postfix.lark", t), t

    reference, _ = make()
    lark, transformer = make()
    return reference.parse, FastLALR(lark, transformer).parse  # type: ignore[attr-defined]


def test_driver_agrees_with_lark_on_real_lines(parsers: tuple[object, object]) -> None:
    reference, fast = parsers
    lines = _postfix_lines()
    assert len(lines) > 20
    disagreements = [
        line
        for line in lines
        if _outcome(reference, line) != _outcome(fast, line)  # type: ignore[arg-type]
    ]
    assert disagreements == []


@pytest.mark.parametrize(
    "line",
    [
        "Nov 29 12:00:00 mx1 postfix/qmgr[1]: ABCDEF12: removed",
        "Nov 29 12:00:00 mx1 postfix/smtp[1]: ABCDEF12: to=<a@b>, relay=none, delay=1, delays=1/0/0/0, dsn=4.4.1, status=deferred",
        "Nov 29 12:00:00 mx1 postfix/qmgr[1]: ABCDEF12: removed and more",
        "Nov 29 12:00:00 mx1 postfix/qmgr[1]: ",
    ],
)
def test_driver_agrees_on_edge_lines(parsers: tuple[object, object], line: str) -> None:
    reference, fast = parsers
    assert _outcome(reference, line) == _outcome(fast, line)  # type: ignore[arg-type]
