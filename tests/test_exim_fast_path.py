"""The Exim reader's shortcuts must read every line exactly as Lark's own parse of
`grammars/exim.lark` does: same events, same ignored reasons, same failures.

The reader (`maillog_diag.mta.exim`) matches LEAD by its EXIM_STAMP alternative when a line
cannot hold any other, matches LEAD, QID and the body token with one pattern and reads the
body token with `LastToken` instead of the LALR driver, tries the message-note pattern only
on texts that hold one of its words, and finds fields with `str.find` instead of searching
with patterns that have no literal prefix. The reference here is the same reader with these
undone: the full LEAD pattern, then the QID pattern, the message-note pattern on every
text, Lark's interactive parser fed the LEAD and QID tokens and lexing the rest itself, and
the original field patterns.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lark import Lark, Token, UnexpectedInput

from maillog_diag.input.timestamps import BadTimestamp, TimeParser, YearInference, resolve_zone
from maillog_diag.mta import exim
from maillog_diag.mta.base import LineShapeError
from maillog_diag.mta.exim import EximReader
from maillog_diag.scan.lines import syslog_head
from maillog_diag.syntax.grammars import load_grammar, terminal_regex

from .conftest import CORPUS, FIXTURES, SAMPLE_LOGS, pure_only

LOGS = [
    FIXTURES / "exim_small.log",
    SAMPLE_LOGS / "exim" / "mainlog",
    SAMPLE_LOGS / "exim" / "mainlog.millisec_tz",
]
SHARED_LOGS = sorted((CORPUS / "exim").glob("*.log")) if (CORPUS / "exim").is_dir() else []

# The patterns the shortcuts replace, as they were.
_H_FIELD = re.compile(r"(?:^| )H=(?:([^ \[(][^ ]*) )?(?:\([^)]*\) )?\[([^\]]*)\](?::([0-9]+))?")
_HOST_IN_TEXT = re.compile(r"(?:^|: )host ([^ ]+) \[([^\]]*)\](?::([0-9]+))?")
_ENHANCED = re.compile(r"\b[245][0-9][0-9][ -]([245]\.[0-9]{1,3}\.[0-9]{1,3})\b")


def _lark_parse(lark: Lark, text: str, pos: int, pre: tuple[tuple[str, str], ...]) -> Any:
    """Lark's own LALR parser and contextual lexer: `pre` fed as tokens, then the text
    from `pos` lexed by Lark."""
    interactive = lark.parse_interactive(text)
    for name, value in pre:
        interactive.feed_token(Token(name, value))
    interactive.lexer_thread.state.line_ctr.char_pos = pos  # type: ignore[union-attr]
    interactive.exhaust_lexer()
    return interactive.feed_eof()


class ReferenceReader(EximReader):
    """The Exim reader without its shortcuts (see the module docstring): LEAD, QID and the
    ignored texts matched one by one, then Lark reads the rest of the line."""

    def __init__(self, time_parser: TimeParser) -> None:
        super().__init__(time_parser)
        lark = load_grammar("exim.lark", self._transformer)
        self._lark = lark
        self._lead_only = re.compile(terminal_regex(lark, "LEAD")).match
        self._qid_only = re.compile(terminal_regex(lark, "QID")).match

    def _parse_rest(self, text: str, pos: int, pre: tuple[tuple[str, str], ...]) -> Any:
        return _lark_parse(self._lark, text, pos, pre)

    def _mainlog_lead(self, line: str) -> re.Match[str] | None:
        return self._lead_only(line)

    def parse_syslog(self, line: str, end: int, header: str, program: str) -> Any:
        split = exim._SYSLOG_PART.match(line, end)
        if split is not None:
            if split[1] != "1":
                return "exim later part of a line split for syslog"
            end = split.end()
        m = self._lead_only(line, end)
        pos = m.end() if m is not None else end
        return self._reference_message(line, line[:pos], pos)

    def parse_bare(self, line: str) -> Any:
        m = self._lead_only(line)
        if m is None:
            if line[:1] in (" ", "\t") and not line.isspace():
                return "continuation line (indented)"
            return None
        return self._reference_message(line, m.group(), m.end())

    def _reference_message(self, line: str, lead: str, pos: int) -> Any:
        q = self._qid_only(line, pos)
        if q is None:
            if self._flag_line(line, pos) is not None:
                return self._parse_rest(line, pos, (("LEAD", lead),))
            return exim._no_message_reason(line, pos)
        body = q.end()
        if line[body : body + 3] not in exim._FLAGS:
            if line.startswith(exim.IGNORED_MESSAGE_PREFIXES, body):
                return f"exim {line[body : line.find(' ', body)]}"
            if line.endswith(exim._ERROR_IGNORED):
                return "exim error ignored"
            if line.endswith(" (frozen)") or exim._MESSAGE_NOTE.match(line, body):
                return "exim message note (admin mark, router or transport error, frozen)"
        return self._parse_rest(line, body, (("LEAD", lead), ("QID", q.group())))


def _time_parser() -> TimeParser:
    return TimeParser(resolve_zone("Europe/Berlin"), YearInference(fixed=2026))


def _outcome(read: Any, *args: Any) -> object:
    try:
        result = read(*args)
    except UnexpectedInput:
        return "grammar error"
    except (LineShapeError, BadTimestamp) as exc:
        return (type(exc).__name__, str(exc))
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return (type(result).__name__, dataclasses.astuple(result))
    return result


def variants(line: str) -> Iterator[str]:
    """The line and shapes near it: cut, re-stamped, wrapped in syslog, flags swapped."""
    yield line
    yield line + " "
    yield line[:-1]
    for cut in (19, 20, 21, 36, 37, 38, 40, 60, len(line) // 2):
        yield line[:cut]
    stamp, rest = line[:19], line[19:]
    yield f"{stamp}.123 +0100 [4242]{rest}"
    yield f"{stamp} [4242]{rest}"
    yield f"{stamp}.5{rest}"
    yield f"{stamp} -0330{rest}"
    yield f"{stamp}  {line[20:]}"
    yield line.replace(" ", "\t", 3)
    yield f"{line[:20]}host exim[1]: {line[20:]}"
    yield f"{line[:20]}mx1 exim4: {line}"
    yield f"{line[:20]}exim {line[20:]}"
    yield line + " exim"
    yield f"mx1 exim[42]: {line}"
    yield f"mx1 exim[42]: {line[20:]}"
    for a, b in (("=>", "=="), ("=>", "**"), ("<=", "=>"), ("=>", "->"), ("=>", "*>")):
        yield line.replace(a, b, 1)
    yield line.replace("Completed", "Completed QT=99999999999w", 1)
    yield line.replace(" QT=", " QT=9999999999w", 1)
    yield line.replace(" H=", " H=(helo) ", 1)
    yield line.replace(" H=", " H=[", 1)
    yield line.replace('"', "", 1)
    yield line.replace(": ", " host mx [192.0.2.1]:25: 450 4.1.1 x", 1)
    body = line[37:]
    yield line[:37] + "SA: " + body
    yield line[:37] + body[3:]
    yield line + ": error ignored"
    yield line + ": error ignored: RFC 3461 DSN, failure notify not requested"
    yield line + " (frozen)"
    yield line[:37] + "removed by root"
    yield line[:37] + "Frozen (delivery error message)"
    yield line[:37] + "H=mx [192.0.2.4] Connection refused"
    yield line[:37] + "F=<a@b> rejected after DATA: spam"
    yield line[:37] + "=> |/usr/bin/x y <a@b> R=r T=t"
    yield line[:37] + "=> /var/mail/a (b@c) <b@c> R=r T=t"
    yield line[:37] + "** a@b: Unrouteable address"
    yield line[:37] + "=> "
    yield line[:36] + "X" + line[36:]
    yield line[:10] + "T" + line[11:]
    yield line[:4] + "x" + line[5:]
    yield "2026-13-45 99:99:99" + rest
    yield "2026-02-30 12:00:00" + rest
    yield line + "\r"
    yield line + "\n"
    yield line.replace(" ", "  ", 2)


def _lines(paths: list[Path]) -> list[str]:
    lines: list[str] = []
    for path in paths:
        if path.is_file():
            lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return lines


def _assert_alike(lines: list[str]) -> None:
    fast, reference = EximReader(_time_parser()), ReferenceReader(_time_parser())
    differ = [
        line
        for line in lines
        if _outcome(fast.parse_bare, line) != _outcome(reference.parse_bare, line)
    ]
    assert differ == []


@pure_only
def test_shortcuts_read_the_sample_logs_and_their_variants_as_lark_does() -> None:
    lines = _lines(LOGS)
    assert len(lines) > 1000
    _assert_alike([v for line in lines for v in variants(line)])


@pure_only
@pytest.mark.skipif(not SHARED_LOGS, reason="../shared corpus not present")
def test_shortcuts_read_the_shared_corpus_as_lark_does() -> None:
    lines = _lines(SHARED_LOGS)
    sample = random.Random(12).sample(lines, min(len(lines), 1500))
    _assert_alike(lines + [v for line in sample for v in variants(line)])


@pure_only
def test_shortcuts_read_syslog_lines_as_lark_does() -> None:
    head = syslog_head().match
    fast, reference = EximReader(_time_parser()), ReferenceReader(_time_parser())
    checked = 0
    for line in _lines(LOGS):
        for wrapped in (
            f"Nov 29 12:00:01 mx1 exim[42]: {line}",
            f"Nov 29 12:00:01 mx1 exim: {line[20:]}",
            f"2026-11-29T12:00:01.5+01:00 mx1 exim4[42]: {line}",
        ):
            m = head(wrapped)
            assert m is not None
            args = (wrapped, m.end(), m["header"], m["program_full"])
            assert _outcome(fast.parse_syslog, *args) == _outcome(reference.parse_syslog, *args)
            checked += 1
    assert checked > 1000


def _texts() -> list[str]:
    rnd = random.Random(5)
    texts = _lines(LOGS + SHARED_LOGS)
    alphabet = " H=host:[]()<>|.@245-0x\\*"
    texts += ["".join(rnd.choice(alphabet) for _ in range(rnd.randrange(30))) for _ in range(20000)]
    texts += ["H=a [b]", " H=[x]:25", "host a [b]: 1", ": host a [b]:9", "H= H=a [b]", "x  H=a [b]"]
    return texts


def test_field_search_finds_what_the_patterns_find() -> None:
    for text in _texts():
        for pattern, sep, key, value in (
            (_H_FIELD, " ", "H=", exim._H_VALUE),
            (_HOST_IN_TEXT, ": ", "host ", exim._HOST_VALUE),
        ):
            want = pattern.search(text)
            got = exim._first_field(text, sep, key, value)
            assert (want and (want.groups(), want.end())) == (got and (got.groups(), got.end()))


def test_enhanced_code_pattern_finds_what_the_word_boundary_pattern_finds() -> None:
    extra = ["550 5.1.1 x", "x550 5.1.1", "_450-4.2.1", "é450 4.2.1", "1450 4.2.1 450 4.2.2"]
    for text in _texts() + extra:
        want, got = _ENHANCED.search(text), exim._ENHANCED.search(text)
        assert (want and want.span(1)) == (got and got.span(1)), text


def test_address_cut_is_the_address_pattern() -> None:
    texts = [t[37 + 3 :] for t in _lines(LOGS)] + _texts()
    texts += ["", " a", "a", "a (b", "a (b) <c", "a <b>", "| x <y>", "|x", "a:", "a (b)  <c>"]
    for text in texts:
        m = exim._ADDRESS.match(text)
        want = None if m is None else (m[1], m[2], m[3], m.end())
        assert exim._address(text) == want, text


def test_quoted_value_is_the_quoted_pattern() -> None:
    texts = _texts() + ['"a"', '"a\\"b"', '"a\\', '"', '"\\\\"x"', '"a" "b"', '"a\\nb"']
    for text in ('"' + t for t in texts):
        m = exim._QUOTED.match(text)
        want = None if m is None else (m[1].replace('\\"', '"'), m.end())
        assert exim._quoted(text, 0) == want, text


def _iso_outcome(parse: Any, stamp: str) -> object:
    try:
        return parse(stamp)
    except BadTimestamp as exc:
        return ("BadTimestamp", str(exc))


@pytest.mark.parametrize(
    "zone",
    [
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Australia/Lord_Howe",  # half-hour changes
        "Pacific/Chatham",  # changes at 02:45 / 03:45
        "America/St_Johns",
        "Asia/Kolkata",
    ],
)
def test_minute_cache_places_every_second_as_iso_does(zone: str) -> None:
    from datetime import datetime, timedelta

    parser = TimeParser(resolve_zone(zone), YearInference(fixed=2026))
    transformer = exim.EximTransformer(parser)
    hour, end = datetime(2026, 1, 1), datetime(2027, 1, 1)
    changes = []
    last = parser.iso(f"{hour:%Y-%m-%d %H:%M:%S}")
    while hour < end:
        hour += timedelta(hours=1)
        now = parser.iso(f"{hour:%Y-%m-%d %H:%M:%S}")
        if now - last != 3600.0:
            changes.append(hour)
        last = now
    assert zone in ("UTC", "Asia/Kolkata") or changes
    windows = [(c - timedelta(hours=2), c + timedelta(hours=1)) for c in changes]
    windows.append((datetime(2026, 11, 29, 11, 58), datetime(2026, 11, 29, 12, 3)))
    if zone == "America/New_York":
        windows.append((datetime(1883, 11, 18, 11, 55), datetime(1883, 11, 18, 12, 10)))
    for start, stop in windows:
        moment = start
        while moment < stop:
            stamp = f"{moment:%Y-%m-%d %H:%M:%S}"
            got = _iso_outcome(transformer._mainlog_time, stamp + " ")
            assert got == _iso_outcome(parser.iso, stamp), stamp
            moment += timedelta(seconds=1)
    for stamp in (
        "2026-02-30 12:00:00",
        "2026-11-29 12:00:60",
        "2026-11-29 12:60:00",
        "2026-11-29 24:00:00",
        "0000-01-01 00:00:00",
        "9999-12-31 23:59:59",
    ):
        got = _iso_outcome(transformer._mainlog_time, stamp + " ")
        assert got == _iso_outcome(parser.iso, stamp), stamp


def test_message_note_words_are_in_every_note() -> None:
    texts = [t[37:] for t in _lines(LOGS + SHARED_LOGS)] + _texts()
    texts += [
        "a@b marked delivered by root",
        "a@b marked as delivered by root",
        "error in the dnslookup router: x",
        "smarthost transport: failure",
        "x y remote_smtp transport forced defer",
        "router dnslookup: loop",
        "transport t: x",
        "xmarked delivered by ",
    ]
    rnd = random.Random(9)
    words = ["marked ", "as ", "delivered ", "by ", "error ", "in ", "the ", "router", "transport"]
    words += [": ", " ", "forced ", "failure", "defer", "a-b_c", "x"]
    texts += ["".join(rnd.choice(words) for _ in range(rnd.randrange(8))) for _ in range(20000)]
    matched = 0
    for text in texts:
        for start in (0, 1):
            if exim._MESSAGE_NOTE.match(text, start):
                matched += 1
                assert any(word in text[start:] for word in exim._MESSAGE_NOTE_WORDS), text
    assert matched > 50


def test_last_token_reads_the_tables_of_a_fresh_parser() -> None:
    """`LastToken` on a `Lark` whose lexers were never used (no `FastLALR` built first):
    Lark builds a lexer's scanner, and its terminal callbacks, only when first asked."""
    from maillog_diag.mta.exim import EximTransformer, LastToken
    from maillog_diag.syntax.grammars import load_grammar

    transformer = EximTransformer(TimeParser(resolve_zone("UTC")))
    body = LastToken(load_grammar("exim.lark", transformer), transformer)
    assert body.methods  # the terminals that end a mainlog line, each with its rule


def _plain_no_message_reason(line: str, pos: int) -> str:
    """`_no_message_reason` as it was: every group of prefixes tried in order."""
    for prefixes, reason in exim._NO_MESSAGE_REASONS:
        if line.startswith(prefixes, pos):
            return reason
    if " rejected " in line:
        return "exim inbound reject"
    if "authenticator failed" in line:
        return "exim inbound session"
    if line.startswith(("no host name found", "no IP address found"), pos):
        return "exim inbound session"
    return "exim line without a message id"


def test_no_message_reason_by_first_character_is_the_plain_loop() -> None:
    prefixes = [p for group, _ in exim._NO_MESSAGE_REASONS for p in group]
    prefixes += ["no host name found", "no IP address found", "x", "", " "]
    rnd = random.Random(31)
    texts = [line[20:] for line in _lines(LOGS + SHARED_LOGS)]
    texts += [p + tail for p in prefixes for tail in ("", " rejected x", "authenticator failed")]
    texts += [p[: rnd.randrange(len(p) + 1)] for p in prefixes for _ in range(5)]
    texts += ["".join(rnd.choice(prefixes) for _ in range(rnd.randrange(4))) for _ in range(5000)]
    for text in texts:
        for stamp in ("", "2026-11-29 12:00:01 "):
            line = stamp + text
            assert exim._no_message_reason(line, len(stamp)) == _plain_no_message_reason(
                line, len(stamp)
            ), line
