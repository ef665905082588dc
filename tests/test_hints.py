"""Retry-hint extraction: every syntax of the hint language, and numbers that are not hints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from maillog_diag.core.hints import (
    HintKind,
    RetryHint,
    extract_hint,
    grammar_text,
    strip_continuations,
)

AT = datetime(2024, 11, 29, 13, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("reply", "seconds", "fragment"),
    [
        ("451 Greylisted, please try again in 300 seconds", 300, "in 300 seconds"),
        ("451 Greylisted, please try again in 900 seconds", 900, "in 900 seconds"),
        ("450 4.7.1 <a@b.example>: Recipient address rejected: Greylisted for 5 minutes", 300,
         "for 5 minutes"),
        ("451 Greylisted, retry in 15min", 900, "in 15min"),
        ("451 try again in 300s", 300, "in 300s"),
        ("451 greylisted for 2h", 7200, "for 2h"),
        ("451 Please wait 1 hour(s) 25 minute(s) before retrying", 5100, "wait 1 hour(s) 25 minute(s)"),
        ("451 blocked, retry in 1 hour 25 minutes", 5100, "in 1 hour 25 minutes"),
        ("451 retry in 1 hour and 5 minutes", 3900, "in 1 hour and 5 minutes"),
        ("451 Greylisted, come back in five minutes", 300, "in five minutes"),
        ("451 Greylisted for ten seconds", 10, "for ten seconds"),
        ("451 Please try again in an hour", 3600, "in an hour"),
        ("451 Please try again in a minute", 60, "in a minute"),
        ("451 Please try again in half an hour", 1800, "in half an hour"),
        ("451 Please try again in a couple of minutes", 120, "in a couple of minutes"),
        ("451 retry after about 10 minutes", 600, "after about 10 minutes"),
        ("451 4.7.1 Greylisting in action, please come back in 00:05:00", 300, "in 00:05:00"),
        ("451 4.7.1 Greylisting in action, please come back in 01:00:30", 3630, "in 01:00:30"),
        ("451 4.5.3 Use PRDR or retry immediately, possibly in the same TCP connection, "
         "after DATA End of data; retry=0", 0, "retry immediately"),
        ("451 4.5.3 Use PRDR; retry=0", 0, "retry=0"),
        ("451 4.5.3 split; retry = 30", 30, "retry = 30"),
        ("451 Greylisting in action, please come back in 60 seconds", 60, "in 60 seconds"),
        ("452 4.2.2 Greylisted, please try again in 1 day", 86400, "in 1 day"),
    ],
)  # fmt: skip
def test_explicit_intervals(reply: str, seconds: int, fragment: str) -> None:
    hint = extract_hint(reply)
    assert hint == RetryHint(HintKind.EXPLICIT, seconds, fragment)


@pytest.mark.parametrize(
    "reply",
    [
        "450 4.2.1 Please resend your message at a later time.",
        "421 4.3.0 Temporary System Problem. Try again later.",
        "451 4.7.1 Greylisting in action, please come back later",
        "422 4.2.2 Greylisted, please try again in a few moments.",
        "451 4.7.1 Greylisted, try again after some time.",
        "451 Temporary local problem - please try later",
        "450 4.2.1 Peak SMTP relay limit exceeded for this customer. This is a temporary error.",
        "451 please retry in a little while",
        "451 come back later",
    ],
)
def test_vague(reply: str) -> None:
    hint = extract_hint(reply)
    assert hint.kind is HintKind.VAGUE
    assert hint.seconds is None
    assert hint.text is not None and hint.text.lower() in reply.lower()


@pytest.mark.parametrize(
    "reply",
    [
        # numbers that are not intervals
        "421 4.7.0 [TSS04] Messages from 185.205.69.214 temporarily deferred due to unexpected "
        "volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
        "451 4.7.500 Server busy. (S77719) [FR2DEU01FT008.eop-deu01.prod.protection.outlook.com]",
        "421 4.1.0 RL000010 Domain Throttled",
        "421 Service not available",
        "451 4.7.650 [AMS0EPF0000019C.eurprd05.prod.outlook.com 2026-05-14T15:49:33.598Z 08DE8F]",
        "see https://example.com/2024/11/29/13:45:00/faq and https://x.example/?t=300s",
        "Comcast allows 25 simultaneous connections per sending IP address",
        "452 Too many recipients received this hour",
        "exceeded the max emails per hour (3/-1 (-300%)) allowed",
        "550 you sent 500 messages in 1 hour",
        "Cannot send message for 5 days",
        "all hosts for 'example.com' have been failing for a long time",
        "Host or domain name not found. Name service error for name=x type=MX: Host not found, try again",
        "connect to mx.example.com[192.0.2.1]:25: Connection timed out",
        "451 4.4.2 Timeout - closing connection.",
        "",
    ],
)
def test_not_a_hint(reply: str) -> None:
    assert extract_hint(reply) == RetryHint(HintKind.NONE, None, None)


def test_absolute_iso_time_relative_to_line() -> None:
    hint = extract_hint("451 Greylisted, try again after 2024-11-29 13:05:00", AT)
    assert hint.kind is HintKind.EXPLICIT
    assert hint.seconds == 300


def test_absolute_rspamd_report_time() -> None:
    reply = "451 4.7.1 Try again later: Fri, 29 Nov 2024 13:04:30 GMT"
    assert extract_hint(reply, AT) == RetryHint(
        HintKind.EXPLICIT, 270, "later: Fri, 29 Nov 2024 13:04:30 GMT"
    )


def test_absolute_time_other_zone() -> None:
    reply = "451 try again after 2024-11-29T14:10:00+01:00"
    assert extract_hint(reply, AT).seconds == 600


def test_absolute_naive_date_takes_line_zone() -> None:
    cet = timezone(timedelta(hours=1))
    at = datetime(2024, 11, 29, 14, 0, 0, tzinfo=cet)
    assert extract_hint("451 try again after 2024-11-29 14:02:00", at).seconds == 120


def test_absolute_time_of_day() -> None:
    assert extract_hint("451 try again after 13:45", AT).seconds == 2700


def test_absolute_in_the_past_clamps_to_zero() -> None:
    hint = extract_hint("451 try again after 2024-11-29 12:00:00", AT)
    assert hint == RetryHint(HintKind.EXPLICIT, 0, "after 2024-11-29 12:00:00")


def test_absolute_without_line_time_is_vague() -> None:
    hint = extract_hint("451 try again after 2024-11-29 13:05:00")
    assert hint.kind is HintKind.VAGUE
    assert hint.seconds is None


def test_explicit_beats_vague_anywhere() -> None:
    reply = "451 Please try again later; greylisted for 90 seconds"
    assert extract_hint(reply) == RetryHint(HintKind.EXPLICIT, 90, "for 90 seconds")


def test_multiline_reply_prefixes_are_stripped() -> None:
    reply = (
        "451-4.7.1 Greylisting in action, please 451-4.7.1 come back in 451 4.7.1 00:05:00 "
        "(in reply to RCPT TO command)"
    )
    assert strip_continuations(reply).startswith("451 4.7.1 Greylisting in action")
    assert extract_hint(reply) == RetryHint(HintKind.EXPLICIT, 300, "in 00:05:00")


def test_multiline_gmail_keeps_first_code() -> None:
    reply = (
        "421-4.7.28 [1.2.3.4] Our system has detected an unusual rate of 421-4.7.28 unsolicited "
        "mail originating from your IP address. 421 4.7.28 rate limited. - gsmtp"
    )
    joined = strip_continuations(reply)
    assert joined.startswith("421 4.7.28 [1.2.3.4] Our system")
    assert "421-" not in joined and joined.count("4.7.28") == 1


def test_hint_inside_local_description_with_interval_in_reply() -> None:
    reply = (
        "host mx.example.org[192.0.2.1] said: 450 4.7.1 <bob@example.org>: Recipient address "
        "rejected: Greylisted for 287 seconds (in reply to RCPT TO command)"
    )
    assert extract_hint(reply) == RetryHint(HintKind.EXPLICIT, 287, "for 287 seconds")


def test_grammar_is_loadable() -> None:
    assert "retry_kv" in grammar_text()


def test_repeated_calls_are_cached_and_equal() -> None:
    reply = "451 Greylisted, please try again in 900 seconds"
    assert extract_hint(reply) is not None
    assert extract_hint(reply) == extract_hint(reply)


def test_a_cached_hint_span_keeps_its_meaning_not_its_parse_tree() -> None:
    """Greylisting software states a new number of seconds in almost every reply, so the
    cache of parsed spans fills with spans seen once or twice (1,074 on the 5M-line bench
    log): as Lark trees they cost 1.1 KB each, as their meaning a few plain values."""
    import gc
    import tracemalloc

    from maillog_diag.core import hints

    hints._span_meaning.cache_clear()  # type: ignore[attr-defined]
    spans = [f"in {n} seconds" for n in range(1000, 1500)]
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for span in spans:
            assert hints._span_meaning(span) == (
                HintKind.EXPLICIT,
                int(span.split()[1]),
                None,
                False,
            )
        gc.collect()
        size = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert size / len(spans) < 300, f"{size / len(spans):.0f} bytes per cached span"
    hint = extract_hint("451 4.7.1 Greylisted, please Try Again in 1234 seconds")
    assert hint == RetryHint(HintKind.EXPLICIT, 1234, "in 1234 seconds")
