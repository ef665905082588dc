"""The line classifier's syslog header pattern (`maillog_diag.scan.lines.syslog_head`) commits
to the header's only possible match (an atomic group) and takes the program name
possessively; it must match exactly what the plain pattern, as the grammar writes it, matches:
the same lines, the same groups, the same end."""

from __future__ import annotations

import random
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from maillog_diag.scan import lines as scan_lines
from maillog_diag.scan.lines import syslog_head
from maillog_diag.syntax.grammars import load_grammar, terminal_regex

from .conftest import CORPUS, FIXTURES, SAMPLE_LOGS

_PLAIN = re.compile(
    f"(?P<header>{terminal_regex(load_grammar('syslog_head.lark'), 'HEADER')})"
    r"(?P<program_full>(?P<program>[^ \[:]+)(?:\[[0-9]+\])?: )"
)
"""The header and program name without the atomic group and possessive repeat."""

_FAST = syslog_head()


def _same(line: str) -> None:
    fast, plain = _FAST.match(line), _PLAIN.match(line)
    if plain is None:
        assert fast is None, line
    else:
        assert fast is not None, line
        assert (fast.groups(), fast.end()) == (plain.groups(), plain.end()), line


def _log_lines() -> list[str]:
    found: list[str] = []
    for folder in (FIXTURES, SAMPLE_LOGS, CORPUS):
        if not Path(folder).is_dir():
            continue
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file() and path.suffix not in (".md", ".jsonl", ".json", ".gz", ".xz"):
                found += path.read_text(encoding="utf-8", errors="replace").splitlines()[:3000]
    return found


def _near(line: str) -> list[str]:
    """Shapes around a line: spaces doubled, cut, a colon or bracket put after each word."""
    out = [line, line + " ", line.replace(" ", "  ", 3), line.replace(" ", "\t", 2)]
    words = line.split(" ")
    for i in range(1, min(len(words), 6)):
        head, tail = " ".join(words[:i]), " ".join(words[i:])
        out += [f"{head}: {tail}", f"{head}[12]: {tail}", f"{head}[x]: {tail}", f"{head}:{tail}"]
        out.append(head)
    return out


def test_header_pattern_keeps_the_plain_pattern_groups() -> None:
    assert _FAST.groupindex == _PLAIN.groupindex
    assert _FAST.groups == _PLAIN.groups == 3
    assert "(?>" in _FAST.pattern and "++" in _FAST.pattern


def test_log_lines_and_shapes_near_them_match_as_the_plain_pattern() -> None:
    checked = 0
    for line in _log_lines():
        for variant in _near(line):
            _same(variant)
            checked += 1
    assert checked > 10000


_TABLE = [
    "2026-11-26 09:48:21 1xWW5V-000c4F-3y => a@b R=r T=t",
    "2026-11-26 09:48:21 1xWW5V-000c4F-3y SA: spam",
    "2026-11-26 09:48:21 1xWW5V-000c4F-3y SA[1]: spam",
    "2026-11-26 09:48:21  host prog: x",
    "2026-11-26 09:48:21 host  prog: x",
    "2026-11-26 09:48:21 host prog : x",
    "2026-11-26 09:48:21 host: prog: x",
    "2026-11-26 09:48:21 host: : x",
    "2026-11-26 09:48:21.5 host exim[1]: x",
    "2026-11-26 09:48:21.5+01:00 host exim[1]: x",
    "2026-11-26 09:48:21.5+0100 host exim[1]: x",
    "2026-11-26 09:48:21.5+01:0 host exim[1]: x",
    "2026-11-26 09:48:21.123 +0100 [4242] 1xWW5V-000c4F-3y => a",
    "2026-11-26 09:48:21 +0100 x: y",
    "2026-11-26T09:48:21Z mx1 postfix/smtp[12]: ABC: to=<a@b>",
    "2026-11-26T09:48:21ZZ mx1 postfix/smtp[12]: ABC: to=<a@b>",
    "2026-11-26T09:48:21 mx1 postfix/smtp[12]:x",
    "2026-11-26T09:48:21 mx1 postfix/smtp[]: x",
    "2026-11-26T09:48:21 mx1 postfix/smtp[12][13]: x",
    "2026-11-26T09:48:21 mx1 postfix/smtp[12: x",
    "Nov 29 12:00:01 mx1 exim[42]: x",
    "Nov  9 12:00:01 mx1 exim[42]: x",
    "Nov 9 12:00:01 mx1 exim[42]: x",
    "Nov 19 12:00:01.25 mx1 exim[42]: x",
    "Nov 1912:00:01 mx1 exim[42]: x",
    "Nov 29 12:00:01   mx1 exim: x",
    "Nov 29 12:00:01 mx1 exim: ",
    "Nov 29 12:00:01 mx1 exim:",
    "Nov 29 12:00:01 mx1 ex im: x",
    "",
    " ",
    ": ",
]


def test_table_of_near_misses_matches_as_the_plain_pattern() -> None:
    for line in _TABLE:
        for variant in _near(line):
            _same(variant)


_ALPHABET = "0123456789-: T.Z+[]abexim/N vo\t"


@settings(max_examples=3000, deadline=None)
@given(
    st.sampled_from(["2026-11-26 09:48:21", "2026-11-26T09:48:21", "Nov 29 12:00:01", "Nov  9 1"]),
    st.text(alphabet=_ALPHABET, max_size=40),
)
def test_random_text_after_a_stamp_matches_as_the_plain_pattern(stamp: str, rest: str) -> None:
    _same(stamp + rest)


def test_random_lines_of_header_characters_match_as_the_plain_pattern() -> None:
    rnd = random.Random(20261201)
    pieces = ["2026-11-26", " ", "09:48:21", "T", ".5", "+01:00", "Z", "host", "exim", "[1]", ":"]
    for _ in range(30000):
        _same("".join(rnd.choice(pieces) for _ in range(rnd.randrange(1, 12))))


def test_classifier_uses_this_pattern() -> None:
    assert scan_lines.syslog_head().pattern == _FAST.pattern


def test_every_header_match_holds_colon_space() -> None:
    """`LineParser.parse` skips the pattern on a line without ": " (it ends with that
    literal): no line without one matches."""
    assert _FAST.pattern.endswith(": )")
    for line in _TABLE + _log_lines()[:20000]:
        for variant in _near(line):
            if ": " not in variant:
                assert _FAST.match(variant) is None, variant
                assert _PLAIN.match(variant) is None, variant


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=60))
def test_random_text_without_colon_space_never_matches(text: str) -> None:
    line = "2026-11-26 09:48:21 host " + text
    if ": " not in line:
        assert _FAST.match(line) is None
