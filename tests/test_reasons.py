"""Reason keys: one policy is one reason, whatever addresses, hosts, ids and intervals it names."""

from __future__ import annotations

import pytest

from maillog_diag.reasons import join_multiline, reason_key


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
    assert join_multiline(text) == "said: 421 4.7.28 first line second line last line"


def test_clock_time_is_not_an_ipv6_address() -> None:
    assert "<ip>" not in reason_key("please come back in 00:05:00")
