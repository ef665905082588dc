"""`first_chars`: the characters a competitor's match can begin with. The driver skips a
competitor check when the token starts with any other character, so the set may be too
large but never too small."""

from __future__ import annotations

import re
import warnings

from hypothesis import given, settings
from hypothesis import strategies as st

from maillog_diag.errors import UnparsableLine
from maillog_diag.input.timestamps import TimeParser, YearInference, resolve_zone
from maillog_diag.scan.lines import LineParser
from maillog_diag.syntax.lalr import FastLALR, first_chars

from .conftest import SAMPLE_LOGS


def test_literals_classes_branches_and_optional_parts() -> None:
    assert first_chars("abc|d[xy]") == frozenset("ad")
    assert first_chars("(?:x)?y") == frozenset("xy")
    assert first_chars("(?>[0-3]+)z") == frozenset("0123")
    assert first_chars(r"\bfoo") == frozenset("f")  # an anchor is transparent
    assert first_chars("(?:host|lost) ") == frozenset("hl")


def test_unknown_when_it_cannot_be_told() -> None:
    assert first_chars("a*") is None  # matches the empty string
    assert first_chars("[^ ]x") is None  # a negated class
    assert first_chars(r"\Sx") is None  # a category
    assert first_chars(".x") is None
    assert first_chars("(?i:a)b") is None  # case folded
    assert first_chars("(?i)ab") is None
    assert first_chars("[\u0000-\uffff]") is None  # too wide
    assert first_chars("(") is None  # not a pattern


def _competitors() -> list[str]:
    """Every competitor pattern of every shape the four readers' drivers build on the
    sample logs (a driver builds a table at the first line that needs it)."""
    parser = LineParser(TimeParser(resolve_zone("UTC"), YearInference(fixed=2026)))
    parser.start_input(YearInference(fixed=2026))
    for path in sorted(SAMPLE_LOGS.glob("*/*")):
        if path.is_file() and path.suffix not in {".jsonl", ".md"}:
            for line in path.read_text(errors="replace").splitlines():
                try:
                    parser.parse(line)
                except UnparsableLine:
                    pass
    found: set[str] = set()
    for reader in parser._readers:
        driver = getattr(reader, "_driver", None) or reader._parse.__self__  # type: ignore[attr-defined]
        assert isinstance(driver, FastLALR)
        for table in driver._shapes.values():
            for shape in table.shapes:
                found.update(c.pattern for _, _, c in shape.checks)
    return sorted(found)


def test_the_readers_competitors_have_first_characters() -> None:
    patterns = _competitors()
    assert patterns, "no competitor checks found: the test would prove nothing"
    assert any(first_chars(p) is not None for p in patterns)


_ALPHABET = "hlcotsaeinrd: -[]()<>=,.0123456789HLCTSAERx\t\u00e9"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=40), st.sampled_from(_competitors() or ["a"]))
def test_no_match_begins_outside_the_set(text: str, pattern: str) -> None:
    firsts = first_chars(pattern)
    if firsts is None:
        return
    for start in range(len(text) + 1):
        if re.compile(pattern).match(text, start) is not None:
            assert text[start : start + 1] in firsts


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet="abxy[]-^()?*+|", min_size=1, max_size=6), min_size=1, max_size=4),
    st.text(alphabet="abxy()-", max_size=12),
)
def test_generated_patterns(parts: list[str], text: str) -> None:
    pattern = "|".join(parts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "[[" may mean a set one day
        try:
            compiled = re.compile(pattern)
        except re.error:
            return
    firsts = first_chars(pattern)
    if firsts is None:
        return
    m = compiled.match(text)
    if m is not None:
        assert text[:1] in firsts
