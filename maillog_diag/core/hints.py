"""Retry-hint extraction: when did the receiver ask us to come back?

The hint language is defined once, by the Lark grammar ``grammars/retry_hint.lark``. This module
builds a cheap pre-scan regex out of that grammar's own terminals, runs it over the reply to find
candidate spans, and parses each span with the grammar (LALR) to decide whether it is a hint and
what it means. Lark therefore only ever sees a few short spans, never whole replies.

Kinds of hint:

* ``EXPLICIT``: the reply names an interval ("in 300 seconds", "for 5 minutes", "15min",
  "00:05:00", "retry=0", "retry immediately") or an absolute time ("try again after
  2024-11-29 13:30:00", rspamd's "Try again later: <end time>"). ``seconds`` is the interval,
  or the time from the line's own timestamp ``at`` to that absolute time (clamped at 0).
* ``DOCUMENTED``: not produced here; :mod:`maillog_diag.classify` adds it from the provider
  knowledge base.
* ``VAGUE``: "later", "at a later time", "in a few moments", "after some time" ... -- and an
  absolute time when ``at`` is not known (it cannot be turned into seconds).
* ``NONE``: nothing said.

Numbers that are not intervals never count: a number only starts an interval when a time unit
follows it, and not when it is glued to letters, dots, colons or brackets (``S77719``,
``RL000010``, ``4.16.55.1``, ``[1.2.3.4]``, ``421``). Intervals right after words that describe
a rate or a history rather than a retry ("messages in 1 hour", "failing for 5 days", "per",
"last") are ignored too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache, lru_cache

from lark import Lark, Token, Tree
from lark.exceptions import LarkError

from maillog_diag.core.memo import text_cache
from maillog_diag.syntax import grammars

__all__ = [
    "HintKind",
    "RetryHint",
    "extract_hint",
    "grammar_text",
    "strip_continuations",
]

GRAMMAR_NAME = "retry_hint.lark"


class HintKind(StrEnum):
    """How a retry hint was obtained."""

    EXPLICIT = "explicit"
    DOCUMENTED = "documented"
    VAGUE = "vague"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class RetryHint:
    """When the receiver asked us to retry.

    ``seconds`` is set only for ``EXPLICIT`` and ``DOCUMENTED`` hints. ``text`` is the reply
    fragment (or, for documented hints, the knowledge-base note) the hint came from.
    """

    kind: HintKind
    seconds: int | None
    text: str | None


NO_HINT = RetryHint(HintKind.NONE, None, None)

# --------------------------------------------------------------------------------------------
# Multi-line replies: Postfix joins the lines with spaces and keeps the inner "421-4.7.28 "
# prefixes ("... an unusual rate of 421-4.7.28 unsolicited mail ..."). Strip them first.
# Both start with what they look for and check the character before it afterwards, with a
# look-behind: a search can then skip to the candidates (a digit 2, 4 or 5; the reply code)
# instead of trying the start or the look-behind at every position (3x faster). The
# look-behind `(?<![^\s:][245])` after the first digit holds just where `(?:^|(?<=[\s:]))`
# before it would: at the start or after white space or a colon.
_CONTINUATION_FIRST = re.compile(
    r"([245](?<![^\s:][245])\d\d)-(?:([245]\.\d{1,3}\.\d{1,3})(?![\d.])\s?)?"
)


@lru_cache(maxsize=256)
def _continuation_re(code: str, enhanced: str | None) -> re.Pattern[str]:
    enh = re.escape(enhanced) if enhanced else r"[245]\.\d{1,3}\.\d{1,3}"
    # `{code}(?<!\S{code})`: the code at the start or after white space (see above).
    return re.compile(rf"{code}(?<!\S{code})(?:-|\s(?={enh}))(?:{enh}(?![\d.])\s?)?")


def strip_continuations(reply: str) -> str:
    """Join a multi-line reply: keep the first ``421 4.7.28`` prefix, drop the repeated ones.

    ``421-4.7.28 Our system ... 421-4.7.28 unsolicited mail ... 421 4.7.28 rate limited`` becomes
    ``421 4.7.28 Our system ... unsolicited mail ... rate limited``.
    """
    if "-" not in reply:
        return reply
    m = _CONTINUATION_FIRST.search(reply)
    if m is None:
        return reply
    code, enhanced = m.group(1), m.group(2)
    head = f"{reply[: m.start()]}{code} {enhanced + ' ' if enhanced else ''}"
    return head + _continuation_re(code, enhanced).sub("", reply[m.end() :])


@cache
def grammar_text() -> str:
    """Return the text of ``retry_hint.lark`` from the installed package or the checkout."""
    return grammars.grammar_text(GRAMMAR_NAME)


@cache
def _parser() -> Lark:
    """LALR with the contextual lexer, the tables kept in the private per-user cache
    (`grammars.load_grammar`): building them costs about 0.3 s, in every process."""
    return grammars.load_grammar(GRAMMAR_NAME)


@cache
def _prescan() -> re.Pattern[str]:
    """The candidate-span regex, assembled from the grammar's own terminals."""
    terms: dict[str, str] = {}
    for term in _parser().terminals:
        terms[term.name] = term.pattern.to_regexp()

    def t(name: str) -> str:
        return f"(?:{terms[name]})"

    lead = f"(?:{t('DUR_LEAD')}|{t('ABS_LEAD')})"
    amount = (
        f"(?:{t('INT')}|{t('NUMWORD')}|{t('COUPLE')}|{t('HALF')}\\s+{t('ARTICLE')}|{t('ARTICLE')})"
    )
    unit = f"(?:{t('SEC')}|{t('MIN')}|{t('HOUR')}|{t('DAY')})"
    # A one-letter unit ("15m", "300s") must be glued to digits; word units may follow a space.
    part = f"{amount}(?:\\s*(?=[a-z]{{2}})|(?<=\\d)){unit}"
    interval = f"(?:{lead}\\s+)?(?:{t('QUAL')}\\s+)?{part}(?:\\s*(?:{t('JOIN')}\\s*)?{part})*"
    alternatives = [
        f"(?P<absolute>{t('ABS_LEAD')}\\s*{t('DATE')})",
        f"(?P<clock>{lead}\\s+{t('CLOCK')})",
        f"(?P<retry_kv>{t('RETRY_KV')})",
        f"(?P<immediate>{t('IMMEDIATE')})",
        f"(?P<interval>{interval})",
        f"(?P<vague>(?:{lead}\\s+)?{t('VAGUE')})",
    ]
    # Candidates start at the beginning of a word: failing fast elsewhere makes the scan ~7x faster.
    return re.compile("(?<![a-z0-9])(?=[a-z0-9])(?:" + "|".join(alternatives) + ")")


# Cheap gate: every hint contains one of these (a unit word, a glued unit such as "15m", a clock
# or date, "retry", or a vague word). The candidate scan only looks at windows around them, with
# room before for leads ("in about", "for the next") and after for the rest of the phrase.
_GATE_WORDS = (
    "later", "moment", "while", "some time", "shortly", "temporary error", "immediately",
    "retry", "sec", "min", "hour", "hr", "day", "until", "till",
)  # fmt: skip
_GATE_PATTERN = re.compile(r"\d(?:[smhd](?![a-z])|:\d\d)|\d{4}-\d\d-\d\d")
_BEFORE = 48
_AFTER = 96


def _scan_windows(lower: str) -> list[tuple[int, int]]:
    """Merged (start, end) windows of ``lower`` that may hold a hint; empty when none can."""
    hits: list[int] = []
    for word in _GATE_WORDS:
        pos = lower.find(word)
        while pos >= 0:
            hits.append(pos)
            pos = lower.find(word, pos + 1)
    hits.extend(m.start() for m in _GATE_PATTERN.finditer(lower))
    if not hits:
        return []
    hits.sort()
    windows: list[tuple[int, int]] = []
    for pos in hits:
        lo, hi = max(0, pos - _BEFORE), min(len(lower), pos + _AFTER)
        if windows and lo <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], hi))
        else:
            windows.append((lo, hi))
    return windows


# Words right before an interval that make it a rate window or a history, not a retry time.
_NOT_A_RETRY_BEFORE = re.compile(
    r"(?:\b(?:messages?|e?mails?|connections?|sessions?|recipients?|rcpts?|requests?|failing|"
    r"been|queued|delayed|held|pending|per|every|last|past|than|over|up\s+to|older|"
    r"send\s+message)|(?<![.\d])\d+)\s*$"
)
_LEAD_WORD = re.compile(r"(?:in|for|within|wait|after|until|till|not before)\s+")

_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60,
    "ninety": 90,
}  # fmt: skip
_UNIT_SECONDS = {"SEC": 1, "MIN": 60, "HOUR": 3600, "DAY": 86400}


@dataclass(frozen=True, slots=True)
class _Candidate:
    """One parsed hint, independent of the line's time."""

    kind: HintKind  # EXPLICIT or VAGUE
    seconds: int | None
    text: str
    when: str | None = None  # absolute time (date text) to resolve against `at`
    time_of_day: bool = False


def _amount(node: Tree[Token]) -> float:
    token = node.children[0]
    assert isinstance(token, Token)
    if node.data == "number":
        return float(token.value)
    if node.data == "word_number":
        return float(_WORD_NUMBERS[token.value])
    if node.data == "couple":
        return 2.0
    return 1.0  # article: "a minute", "an hour"


def _duration_seconds(duration: Tree[Token]) -> int:
    total = 0.0
    for part in duration.children:
        if not isinstance(part, Tree):
            continue  # JOIN
        unit = part.children[-1]
        assert isinstance(unit, Token)
        factor = _UNIT_SECONDS[unit.type]
        if part.data == "half_part":
            total += 0.5 * factor
        else:
            amount = part.children[0]
            assert isinstance(amount, Tree)
            total += _amount(amount) * factor
    return int(total)


def _clock_seconds(clock: str) -> int:
    fields = [int(x) for x in clock.split(":")]
    if len(fields) == 2:  # hh:mm
        return fields[0] * 3600 + fields[1] * 60
    return fields[0] * 3600 + fields[1] * 60 + fields[2]


def _lead_is_absolute(lead: Tree[Token] | Token) -> bool:
    token = lead.children[0] if isinstance(lead, Tree) else lead
    return isinstance(token, Token) and token.type == "ABS_LEAD"


def _evaluate(tree: Tree[Token], text: str) -> _Candidate | None:
    kind = tree.data
    if kind == "interval":
        duration = tree.children[-1]
        assert isinstance(duration, Tree)
        return _Candidate(HintKind.EXPLICIT, _duration_seconds(duration), text)
    if kind == "clock":
        lead, clock = tree.children
        assert isinstance(clock, Token)
        if _lead_is_absolute(lead):  # "after 13:45": a time of day
            return _Candidate(HintKind.EXPLICIT, None, text, when=clock.value, time_of_day=True)
        return _Candidate(HintKind.EXPLICIT, _clock_seconds(clock.value), text)
    if kind == "absolute":
        date = tree.children[-1]
        assert isinstance(date, Token)
        return _Candidate(HintKind.EXPLICIT, None, text, when=date.value)
    if kind == "retry_kv":
        value = tree.children[-1]
        assert isinstance(value, Token)
        return _Candidate(HintKind.EXPLICIT, int(value.value.rpartition("=")[2]), text)
    if kind == "immediate":
        return _Candidate(HintKind.EXPLICIT, 0, text)
    if kind == "vague":
        return _Candidate(HintKind.VAGUE, None, text)
    return None


_Meaning = tuple[HintKind, int | None, str | None, bool]
"""What a candidate span says: kind, seconds, absolute time text, whether a time of day
(the fields of `_Candidate` but its text)."""


@text_cache(4096)
def _span_meaning(span: str) -> _Meaning | None:
    """What one lower-cased candidate span means; None if the grammar rejects it. Cached as
    plain values, not the parse tree: spans repeat less than replies do (a greylisting
    server states a new number of seconds each time), and a tree costs 1.1 KB an entry."""
    try:
        tree = _parser().parse(span)
    except LarkError:
        return None
    candidate = _evaluate(tree, "")
    if candidate is None:
        return None
    return candidate.kind, candidate.seconds, candidate.when, candidate.time_of_day


SCAN_CACHE = 1024
"""Entries of `_scan`. A reply's shape is scanned when `classify_timeless` misses (its
8192 entries keep the result) and read again at once by `extract_hint`, and for each line
of a reply that names a moment: a small cache serves both."""


@text_cache(SCAN_CACHE)
def _scan(reply: str) -> tuple[_Candidate | None, _Candidate | None]:
    """First explicit and first vague candidate of a reply (time-independent, cached)."""
    text = strip_continuations(reply)
    lower = text.lower()
    if len(lower) != len(text):  # non-ASCII case mapping changed lengths: keep offsets sane
        lower = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    explicit: _Candidate | None = None
    vague: _Candidate | None = None
    matches = [m for lo, hi in _scan_windows(lower) for m in _prescan().finditer(lower, lo, hi)]
    for match in matches:
        group = match.lastgroup
        if group is None or (group == "vague" and vague is not None):
            continue
        start, end = match.span()
        if group in ("interval", "clock") and _NOT_A_RETRY_BEFORE.search(lower[:start][-40:]):
            lead = _LEAD_WORD.match(lower, start)
            if lead is None or lead.group().strip() in ("in", "for", "within"):
                continue
        meaning = _span_meaning(lower[start:end])
        if meaning is None:
            continue
        kind, seconds, when, time_of_day = meaning
        candidate = _Candidate(kind, seconds, text[start:end], when, time_of_day)
        if candidate.kind is HintKind.EXPLICIT:
            explicit = candidate
            break
        vague = candidate
    return explicit, vague


def _resolve_absolute(candidate: _Candidate, at: datetime) -> int | None:
    assert candidate.when is not None
    from dateutil import parser as date_parser  # here: only absolute retry times need it

    try:
        default = at.replace(tzinfo=None) if at.tzinfo is not None else at
        if candidate.time_of_day:
            default = default.replace(second=0, microsecond=0)
        when = date_parser.parse(candidate.when.upper(), default=default)
    except (ValueError, OverflowError):
        return None
    if when.tzinfo is None and at.tzinfo is not None:
        when = when.replace(tzinfo=at.tzinfo)
    elif when.tzinfo is not None and at.tzinfo is None:
        when = when.replace(tzinfo=None)
    delta: timedelta = when - at
    return max(0, int(delta.total_seconds()))


def scan_hint(reply: str) -> tuple[_Candidate | None, _Candidate | None]:
    """The first explicit and the first vague candidate hint of a reply (cached); an
    explicit one with `when` set names a moment and needs the line's time to be read."""
    return _scan(reply)


def extract_hint(reply: str, at: datetime | None = None) -> RetryHint:
    """Find the retry hint stated in ``reply`` (``EXPLICIT``, ``VAGUE`` or ``NONE``).

    ``at`` is the time of the log line (timezone-aware preferred); it is only needed to turn an
    absolute "try again after <time>" into seconds. Without it such a hint is ``VAGUE``.
    """
    if not reply:
        return NO_HINT
    explicit, vague = _scan(reply)
    if explicit is not None:
        if explicit.when is None:
            return RetryHint(HintKind.EXPLICIT, explicit.seconds, explicit.text)
        if at is not None:
            seconds = _resolve_absolute(explicit, at)
            if seconds is not None:
                return RetryHint(HintKind.EXPLICIT, seconds, explicit.text)
        return RetryHint(HintKind.VAGUE, None, explicit.text)
    if vague is not None:
        return RetryHint(HintKind.VAGUE, None, vague.text)
    return NO_HINT
