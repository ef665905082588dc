"""Case-insensitive patterns searched lower-cased (`maillog_diag.core.caseless`): same answers.

The classifier searches its rule tables and the knowledge base's tokens, markers and rules with
lower-case patterns on lower-cased ASCII text instead of `re.IGNORECASE` (several times
faster). These tests hold that to the old answers: `lowered` refuses what it cannot lower
soundly, every shipped pattern has a fast form that finds the same match as the
case-insensitive original on generated texts, and non-ASCII texts keep the old search.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maillog_diag.core import classify as classify_module
from maillog_diag.core.caseless import (
    Caseless,
    ascii_lower,
    caseless,
    lowered,
    required_literal,
)
from maillog_diag.core.knowledge import knowledge_base


def _shipped() -> list[tuple[str, Caseless]]:
    """Every caseless pattern the classifier uses, with where it comes from."""
    found: list[tuple[str, Caseless]] = []
    for name in ("_LOCAL_RULES", "_GREYLIST", "_REPLY_RULES", "_PERMANENT_RULES",
                 "_PERMANENT_POLICY"):  # fmt: skip
        found += [(name, rule[0]) for rule in getattr(classify_module, name)]
    found += [("_STAGE_PATTERNS", p) for p, _ in classify_module._STAGE_PATTERNS]
    for provider in knowledge_base().providers.values():
        found += [(f"{provider.id} marker", m) for m in provider.markers]
        found += [(f"{provider.id} token", t.pattern) for t in provider.tokens]
        found += [(f"{provider.id} rule", r.pattern) for r in provider.rules if r.pattern]
    return found


SHIPPED = _shipped()


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bRP-001\b", r"\brp-001\b"),
        (r"\S+\W\s\D\B\A\Z", r"\S+\W\s\D\B\A\Z"),  # escapes keep their case
        (r"\[([A-Z]{2,3}\d\d)\]", r"\[([a-z]{2,3}\d\d)\]"),
        (r"[^A-F\]-]x", r"[^a-f\]-]x"),
        (r"[]A]", r"[]a]"),  # a `]` first in a class is a member
        (r"(?P<Code>S\d+)(?P=Code)?", r"(?P<code>s\d+)(?P=code)?"),
        (r"(?:IPv6:)?(?=X)(?<!Y)", r"(?:ipv6:)?(?=x)(?<!y)"),
        (r"[!-/]", r"[!-/]"),  # a range without letters
    ],
)
def test_lowered_keeps_escapes_and_lowers_the_rest(pattern: str, expected: str) -> None:
    assert lowered(pattern) == expected


@pytest.mark.parametrize(
    "pattern",
    [
        r"\x41",  # 'A' by code: lowered it would still be 'A'
        r"\N{LATIN CAPITAL LETTER A}",
        r"(a)\1",
        "(?-i:GSMTP)",  # case-sensitive part
        "(?i)x",
        "[A-z]",  # takes [\]^_` in too
        "[0-Z]",
        "[@-[]",  # punctuation ends, letters inside
        "caf\u00e9",  # not ASCII
        "\\",
    ],
)
def test_lowered_refuses_what_would_not_match_alike(pattern: str) -> None:
    with pytest.raises(ValueError):
        lowered(pattern)


def test_the_classifier_tables_and_the_knowledge_base_have_a_fast_form() -> None:
    without = [(where, c.pattern) for where, c in SHIPPED if c.fast is None]
    assert without == [
        ("opensmtpd-filter-greylist marker", r"(?-i:\b451 greylisted, try again later)")
    ]
    for where, c in SHIPPED:
        if c.fast is not None:
            assert c.careful.flags & re.IGNORECASE, where
            assert not c.fast.flags & re.IGNORECASE, where
            bare = re.sub(r"\\.|\(\?P", "", c.fast.pattern)
            assert bare == bare.lower(), (where, c.fast.pattern)


def test_strict_caseless_raises_and_lenient_searches_as_written() -> None:
    with pytest.raises(ValueError):
        caseless("(?-i:X)")
    lenient = caseless("(?-i:x)", strict=False)
    assert lenient.fast is None
    assert lenient.search("X", ascii_lower("X")) is None
    assert lenient.search("x", ascii_lower("x")) is not None


def test_only_four_non_ascii_letters_match_ascii_letters_case_insensitively() -> None:
    """The module's reason for keeping non-ASCII text on the old search: with IGNORECASE,
    ASCII letters also match 'İ', 'ı', 'ſ' and the Kelvin sign, which `str.lower` does not
    all turn into those letters. If Python's tables change, the documentation must too."""
    letter = re.compile("[a-z]", re.IGNORECASE)
    odd = [c for c in map(chr, range(128, 0x110000)) if letter.fullmatch(c)]
    assert odd == ["\u0130", "\u0131", "\u017f", "\u212a"]
    assert "\u017f".lower() == "\u017f" and "\u0131".lower() == "\u0131"


def test_a_non_ascii_text_is_searched_as_before() -> None:
    spam = caseless(r"\bspam")
    text = "451 4.7.1 \u017fpam detected"  # long s: IGNORECASE matches it to 's'
    assert ascii_lower(text) is None
    assert spam.search(text, ascii_lower(text)) is not None
    assert spam.careful.search(text) is not None
    assert spam.fast is not None and spam.fast.search(text.lower()) is None  # hence careful


def _words() -> list[str]:
    """Literal words of the shipped patterns: generated texts built of them match often."""
    words: set[str] = set()
    for _, c in SHIPPED:
        words.update(re.findall(r"(?<!\\)[A-Za-z][A-Za-z0-9-]{1,}", c.careful.pattern))
    return sorted(words)


WORDS = _words()
_FILLER = st.sampled_from([" ", "  ", ":", "(", ")", "[", "]", ".", "-", "_", "4.7.1", "451",
                           "S775", "RL000010", "\t", "/", "@", "=", "'", "!", "-\n"])  # fmt: skip


@st.composite
def _texts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(st.sampled_from(WORDS), _FILLER), max_size=12))
    text = "".join(parts)
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if f else c for c, f in zip(text, flips, strict=True))


@settings(max_examples=400, deadline=None)
@given(_texts(), st.sampled_from(range(len(SHIPPED))))
def test_fast_form_finds_what_the_case_insensitive_pattern_finds(text: str, index: int) -> None:
    where, c = SHIPPED[index]
    if c.fast is None:
        return
    old = c.careful.search(text)
    new = c.fast.search(text.lower())
    assert (old is None) == (new is None), (where, text)
    if old is not None and new is not None:
        assert old.span() == new.span(), (where, text)


def _span(match: re.Match[str] | None) -> tuple[int, int] | None:
    return None if match is None else match.span()


@settings(max_examples=200, deadline=None)
@given(_texts())
def test_every_shipped_pattern_agrees_on_one_text(text: str) -> None:
    lower = text.lower()
    for where, c in SHIPPED:
        if c.fast is not None:
            assert _span(c.careful.search(text)) == _span(c.search(text, lower)), (where, text)


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        (r"\brl000001\b", "rl000001"),
        (r"\(s775\)", "(s775)"),
        (r"aka\.ms/postmaster", "aka.ms/postmaster"),
        (r"your dkim domain", "your dkim domain"),
        (r"x\\b", "x\\b"),  # an escaped backslash, then b
        (r"a|b", None),
        (r"ab?", None),
        (r"\d+", None),
        (r"\bx\s", None),
        (r"[ab]", None),
        (r"\b", None),
    ],
)
def test_required_literal_only_of_a_plain_literal(pattern: str, literal: str | None) -> None:
    assert required_literal(pattern) == literal


def test_most_token_patterns_have_a_required_literal() -> None:
    """The knowledge base's tokens are single codes (`\\bRL000001\\b`): checked with `in`."""
    tokens = [c for where, c in SHIPPED if where.endswith(" token")]
    assert sum(c.literal is not None for c in tokens) >= len(tokens) - 3
