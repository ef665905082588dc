"""Reason keys: one policy is one reason, whatever addresses, hosts, ids and intervals it names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maillog_diag.core.hints import strip_continuations
from maillog_diag.core.reasons import reason_key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "host mx1.grey.example[192.0.2.1] said: 450 4.2.0 <ann@grey.example>: Recipient address rejected: Greylisted for 300 seconds (in reply to RCPT TO command)",
            "host mx2.grey.example[192.0.2.2] said: 450 4.2.0 <bob@grey.example>: Recipient address rejected: Greylisted for 287 seconds (in reply to RCPT TO command)",
        ),
        (
            "host x[127.0.0.4] said: 451 4.7.1 Greylisting in action, please come back in 00:05:00 (in reply to RCPT TO command)",
            "host x[127.0.0.4] said: 451 4.7.1 Greylisting in action, please come back in 00:00:41 (in reply to RCPT TO command)",
        ),
        (
            "connect to mx.dead.example[192.0.2.9]:25: Connection timed out",
            "connect to mx.dead.example[2001:db8::25]:25: Connection timed out",
        ),
        (
            "host gmail-smtp-in.l.google.com[74.125.136.26] said: 421-4.7.0 [192.0.2.1 15] Our system has detected 421-4.7.0 an unusual rate. bv15si15610322wjb.142 - gsmtp (in reply to end of DATA command)",
            "host alt1.gmail-smtp-in.l.google.com[74.125.1.2] said: 421-4.7.0 [192.0.2.1 15] Our system has detected 421-4.7.0 an unusual rate. zz99si1234567abc.7 - gsmtp (in reply to end of DATA command)",
        ),
    ],
)
def test_same_reason_same_key(a: str, b: str) -> None:
    assert reason_key(a) == reason_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("450 4.2.0 Greylisted for 300 seconds", "450 4.2.1 Greylisted for 300 seconds"),
        (
            "connect to x[192.0.2.1]:25: Connection refused",
            "connect to x[192.0.2.1]:25: Connection timed out",
        ),
        ("451 4.3.0 Temporary System Problem", "421 4.3.0 Temporary System Problem"),
    ],
)
def test_different_reasons_stay_apart(a: str, b: str) -> None:
    assert reason_key(a) != reason_key(b)


def test_multiline_prefixes_are_joined() -> None:
    text = "said: 421-4.7.28 first line 421-4.7.28 second line 421 4.7.28 last line"
    assert strip_continuations(text) == "said: 421 4.7.28 first line second line last line"


def test_clock_time_is_not_an_ipv6_address() -> None:
    assert "<ip>" not in reason_key("please come back in 00:05:00")


@pytest.mark.parametrize(
    ("reply", "key"),
    [
        (
            "450 4.2.0 <joe@x.com>: Recipient address rejected: Greylisted",
            "450 4.2.0 <address>: Recipient address rejected: Greylisted",
        ),
        (
            "host mx1.example.com[192.0.2.1] said: 421 4.7.0 [TSS04] Messages from 192.0.2.1",
            "host <host> said: 421 4.7.0 [TSS04] Messages from <ip>",
        ),
        (
            "451 4.7.500 Server busy. (S77719) [FR2DEU01FT008.eop-deu01.prod.protection.outlook.com]",
            "451 4.7.500 Server busy. (S77719) [<id>]",
        ),
        ("421 4.1.0 RL000010 Domain Throttled", "421 4.1.0 RL000010 Domain Throttled"),
        ("451 Greylisted for 287 seconds", "451 Greylisted for <n> seconds"),
        ("451 4.7.1 come back in 00:05:00", "451 4.7.1 come back in <hh:mm:ss>"),
        (
            "421-4.7.28 Our system 421-4.7.28 has detected 421 4.7.28 rate limited",
            "421 4.7.28 Our system has detected rate limited",
        ),
        ("IPv6 dead:beef::1 and 2001:db8:0:0:0:0:0:1", "IPv6 <ip> and <ip>"),
        ("250 2.0.0 OK 1700000000 abc", "250 2.0.0 OK <n> abc"),
    ],
)
def test_reason_key_examples(reply: str, key: str) -> None:
    assert reason_key(reply) == key


def test_fold_can_keep_intervals_for_the_classifier() -> None:
    from maillog_diag.core.reasons import fold

    assert fold(
        "host mx1.b.example[192.0.2.1] said: 451 <a@b.example> Greylisted for 287 seconds, back in 00:04:47",
        detailed=True,
    ) == (
        "host mx1.b.example[<ip>] said: 451 <address> Greylisted for 287 seconds, back in 00:04:47"
    )


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="aZ.-_:;,()<>[]\"'@=/1 x", min_size=1, max_size=24))
def test_a_word_kept_without_look_up_is_one_no_rule_changes(token: str) -> None:
    """`folds` keeps tokens that `_PLAIN_WORD` matches without asking `_token`: every rule
    of `_token` must leave such a token as it is, in both views."""
    from maillog_diag.core import reasons

    for tok in token.split():
        if reasons._PLAIN_WORD(tok) is not None:
            assert reasons._token(tok, False) == tok
            assert reasons._token(tok, True) == tok


def test_long_words_with_punctuation_inside_still_fold() -> None:
    """Near misses of `_PLAIN_WORD`: inner punctuation makes an id of a long word."""
    from maillog_diag.core.reasons import fold

    assert fold("450 try x((abcdefghijkl later") == "450 try <id> later"
    assert fold("450 rejected: out-of-office.") == "450 rejected: out-of-office."
