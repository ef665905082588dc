"""`reasons.folds` skips tokens of letters, looks every other token up in one table and copies
a view only when a token changes in it: the same result as the loop it replaced.

`_reference_folds` is that token-by-token loop, kept here as the definition
the fast path must meet, on generated texts made of the tokens the folding rules care about
(numbers before counted units, `NAME=digits`, addresses, hosts with IPs, ids, clocks,
punctuation around words) and on odd white space.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from maillog_diag.core import reasons
from maillog_diag.core.hints import strip_continuations


def _reference_folds(reply: str) -> tuple[str, str]:
    """The token-by-token fold (the code `folds` had before its one-pass form)."""
    tokens = strip_continuations(reply).split()
    plain: list[str] = []
    detailed: list[str] = []
    last = len(tokens) - 1
    for i, tok in enumerate(tokens):
        if tok.isalpha() or reasons._PLAIN_WORD(tok) is not None:
            plain.append(tok)
            detailed.append(tok)
            continue
        folded, folded_detailed = reasons._token_pair(tok)
        detailed.append(folded_detailed)
        core = tok.strip(reasons._EDGE)
        if (
            core.isdigit()
            and i < last
            and tokens[i + 1].strip(reasons._EDGE).lower() in reasons._COUNTED
        ):
            plain.append(tok.replace(core, "<n>"))
            continue
        if "=" in tok:
            name, eq, value = tok.partition("=")
            if value.strip(reasons._EDGE).isdigit():
                plain.append(f"{name}=<n>{value[len(value.rstrip(reasons._EDGE)) :]}")
                continue
        plain.append(folded)
    return " ".join(plain), " ".join(detailed)


_TOKENS = [
    "450", "4.7.1", "421-4.7.28", "300", "seconds", "Seconds", "(802", "bytes", "written)",
    "min", "5m", "15min", "00:05:00", "12:30", "SIZE=1594", "retry=0", "a=b", "x=12,",
    "<a@b.example>", "user@example.com", "mx.example.com[192.0.2.1]:25", "[127.0.0.1]:10025",
    "[::1]", "private/amavis", "2001:db8::1", "IPv6:2001:db8::1", "a:b:c:d", "::",
    "bv15si15610322wjb.142", "OFR006_102", "4F2A31C02B9", "1234567890", "12345", "9",
    "https://example.com/x?1", "(in", "reply", "to", "RCPT", "TO", "command)", "out-of-office",
    '"quota"', "rejected:", "-abc", "a.b(c", "...", "(a)b", "(foo)bar,baz;qux", "word.)",
    "word).", "Größe", "café.", "\u00b2", "\u0661\u0662", "ſpam", "K", "'", ",", "=",
    "[TSS04]", "(S775)", "RL000010", "abcdef", "ABCDEF12", "I:1:2", "deadbeef:1:2:3",
]  # fmt: skip
_SPACES = [" ", " ", " ", "  ", "\t", " \n ", "\u00a0", "\u2003", "\x1c"]


@st.composite
def _replies(draw: st.DrawFn) -> str:
    tokens = draw(st.lists(st.sampled_from(_TOKENS) | st.text(max_size=6), max_size=14))
    out = draw(st.sampled_from(["", " ", "\t"]))
    for tok in tokens:
        out += tok + draw(st.sampled_from(_SPACES))
    return out


@settings(max_examples=1500, deadline=None)
@given(_replies())
def test_fast_fold_equals_the_token_by_token_fold(reply: str) -> None:
    reasons.folds.cache_clear()  # type: ignore[attr-defined]
    assert reasons.folds(reply) == _reference_folds(reply)


def test_counted_units_and_parameters_stay_exact() -> None:
    for reply in (
        "451 try again in 300 seconds",
        "(802 bytes written) 12 bytes",
        "300 seconds.",
        "SIZE=1594 BODY=8BITMIME retry=0",
        "123 456 789 min",
        "450 4.2.0 <a@b.example>: Recipient address rejected: Greylisted for 300 seconds",
        "",
        "   ",
        "x",
        "12345",
    ):
        assert reasons.folds(reply) == _reference_folds(reply), reply


_OLD_FIRST = re.compile(r"(?:^|(?<=[\s:]))([245]\d\d)-(?:([245]\.\d{1,3}\.\d{1,3})(?![\d.])\s?)?")


def _old_continuation_re(code: str, enhanced: str | None) -> re.Pattern[str]:
    enh = re.escape(enhanced) if enhanced else r"[245]\.\d{1,3}\.\d{1,3}"
    return re.compile(rf"(?:^|(?<=\s)){code}(?:-|\s(?={enh}))(?:{enh}(?![\d.])\s?)?")


def _reference_strip(reply: str) -> str:
    """`strip_continuations` with the patterns it had before they were turned round (the
    look-behind after the first character instead of before it)."""
    if "-" not in reply:
        return reply
    m = _OLD_FIRST.search(reply)
    if m is None:
        return reply
    code, enhanced = m.group(1), m.group(2)
    head = f"{reply[: m.start()]}{code} {enhanced + ' ' if enhanced else ''}"
    return head + _old_continuation_re(code, enhanced).sub("", reply[m.end() :])


_PIECES = ["421", "421-", "421 ", "4.7.28", "4.7.0", "5.1.1", "-", " ", ":", "x", "a421-",
           "\t", "\u0663", "1", ".", "250-", "4.16.55.1", "421-4.7.28 ", ":421-", "0421-"]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=16).map("".join))
def test_turned_round_continuation_patterns_strip_alike(reply: str) -> None:
    assert strip_continuations(reply) == _reference_strip(reply)


def test_the_token_table_stays_bounded() -> None:
    reasons._TOKENS.clear()
    for i in range(reasons._TOKENS_MAX + 10):
        reasons.folds(f"450 id{i:08d}x {i}")
    assert 0 < len(reasons._TOKENS) <= reasons._TOKENS_MAX
    long_token = "x1" * reasons.DEFAULT_MAX_CHARS
    reasons.folds(long_token)
    assert long_token not in reasons._TOKENS
