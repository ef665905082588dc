"""Forced splits, the retry schedule against stated intervals, held mail, and the JSON fields
that carry them: end to end from log lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.core.analysis import DestinationStats, ScheduleStats
from maillog_diag.core.causes import Cause
from maillog_diag.core.diagnosis import ScheduleCheck, check_schedule, diagnose, tolerance
from maillog_diag.core.hints import HintKind
from maillog_diag.core.model import Attempt, Status
from maillog_diag.core.tuning import schedule_suggestion

COMMON = ["--tz", "UTC", "--year", "2026", "--format", "json"]


def line(
    t: str,
    qid: str,
    rcpt: str,
    status: str,
    reply: str,
    relay: str = "mx.d.example[192.0.2.1]:25",
    prog: str = "smtp",
) -> str:
    dsn = "2.0.0" if status == "sent" else "4.0.0"
    return (
        f"Nov 29 {t} mx1 postfix/{prog}[9]: {qid}: to=<{rcpt}>, relay={relay}, delay=1, "
        f"delays=0/0/0/1, dsn={dsn}, status={status} ({reply})"
    )


GREY = "host mx.d.example[192.0.2.1] said: 450 4.2.0 <{r}>: Recipient address rejected: Greylisted for 300 seconds (in reply to RCPT TO command)"
SPLIT = "host mx.d.example[192.0.2.1] said: 452 4.5.3 Too many recipients, please try this recipient in a separate transaction (in reply to RCPT TO command)"


def report(tmp_path: Path, lines: list[str]) -> dict:  # type: ignore[type-arg]
    log = tmp_path / "mail.log"
    log.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(app, ["report", str(log), *COMMON])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_forced_split_is_reported_as_split_not_failure(tmp_path: Path) -> None:
    data = report(
        tmp_path,
        [
            "Nov 29 10:00:00 mx1 postfix/pickup[1]: AB12CD: uid=0 from=<me@here.example>",
            line("10:00:01", "AB12CD", "a@d.example", "sent", "250 ok"),
            line("10:00:01", "AB12CD", "b@d.example", "deferred", SPLIT),
            line("10:00:01", "AB12CD", "c@d.example", "deferred", SPLIT),
            line("10:05:01", "AB12CD", "b@d.example", "sent", "250 ok"),
            line("10:05:01", "AB12CD", "c@d.example", "sent", "250 ok"),
            "Nov 29 10:05:01 mx1 postfix/qmgr[3]: AB12CD: removed",
        ],
    )
    (d,) = data["destinations"]
    assert d["forced_split"] == {"deferrals": 2, "recipients": 2, "delay_seconds": 600.0}
    assert d["forced_split_only"] is True
    assert d["causes"][0]["cause"] == "forced_split"


def test_split_cause_without_an_accepted_recipient_is_not_a_forced_split(tmp_path: Path) -> None:
    data = report(
        tmp_path,
        [
            line("10:00:01", "AB12CE", "b@d.example", "deferred", SPLIT),
            line("10:05:01", "AB12CE", "b@d.example", "sent", "250 ok"),
        ],
    )
    (d,) = data["destinations"]
    assert d["forced_split"]["deferrals"] == 0
    assert d["forced_split_only"] is False


def test_retries_too_early_and_too_late_against_stated_interval(tmp_path: Path) -> None:
    r = "g@d.example"
    data = report(
        tmp_path,
        [
            line("10:00:00", "AB12CF", r, "deferred", GREY.format(r=r)),
            line(
                "10:01:00", "AB12CF", r, "deferred", GREY.format(r=r)
            ),  # 60 s < 300: early, wasted
            line("10:21:00", "AB12CF", r, "sent", "250 ok"),  # 1200 s > 300: late by 900 s
        ],
    )
    (d,) = data["destinations"]
    sched = d["retry_schedule"]
    assert (sched["early"], sched["wasted"], sched["late"], sched["on_time"]) == (1, 1, 1, 0)
    assert sched["avoidable_seconds"] == 900.0
    cause = d["causes"][0]
    assert (cause["cause"], cause["retry_hint_seconds"], cause["retry_hint"]) == (
        "greylisting",
        300,
        "explicit",
    )


def test_held_mail_says_since_when_why_and_when_to_retry(tmp_path: Path) -> None:
    r = "h@d.example"
    data = report(
        tmp_path,
        [
            "Nov 29 10:00:00 mx1 postfix/pickup[1]: AB12D0: uid=0 from=<me@here.example>",
            line("10:00:01", "AB12D0", r, "deferred", GREY.format(r=r)),
            "Nov 29 10:02:00 mx1 postfix/qmgr[3]: FFF000: removed",
        ],
    )
    (held,) = data["held_mail"]
    assert held["address"] == r
    assert held["since"] == "2026-11-29T10:00:00+00:00"
    assert held["last_cause"] == "greylisting"
    assert held["retry_after"] == "2026-11-29T10:05:01+00:00"
    assert held["held_seconds"] == 120.0


def test_attempt_json_carries_cause_and_hint(tmp_path: Path) -> None:
    r = "j@d.example"
    log = tmp_path / "mail.log"
    log.write_text(
        line("10:00:00", "AB12D1", r, "deferred", GREY.format(r=r))
        + "\n"
        + line("10:06:00", "AB12D1", r, "sent", "250 ok")
        + "\n"
    )
    result = CliRunner().invoke(app, ["messages", str(log), "--tz", "UTC", "--year", "2026"])
    (msg,) = [json.loads(x) for x in result.stdout.splitlines()]
    first, second = msg["recipients"][0]["attempts"]
    assert {
        k: first[k] for k in ("cause", "provider", "token", "retry_hint_seconds", "retry_hint")
    } == {
        "cause": "greylisting",
        "provider": None,
        "token": None,
        "retry_hint_seconds": 300,
        "retry_hint": "explicit",
    }
    assert second["cause"] is None and second["retry_hint"] == "none"


def test_why_lists_causes_with_domains_and_example(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text(
        "\n".join(
            [
                line(
                    "10:00:00",
                    "AB12D2",
                    "a@one.example",
                    "deferred",
                    "connect to mx.one.example[192.0.2.5]:25: Connection refused",
                    relay="none",
                ),
                line(
                    "10:00:00",
                    "AB12D3",
                    "b@two.example",
                    "deferred",
                    "connect to mx.two.example[192.0.2.6]:25: Connection refused",
                    relay="none",
                ),
                line(
                    "10:00:00",
                    "AB12D4",
                    "c@two.example",
                    "deferred",
                    GREY.format(r="c@two.example"),
                ),
            ]
        )
        + "\n"
    )
    result = CliRunner().invoke(app, ["why", str(log), *COMMON])
    data = json.loads(result.stdout)
    conn = next(c for c in data["causes"] if c["cause"] == "connection")
    assert conn["count"] == 2 and conn["domain_count"] == 2
    assert {d["domain"] for d in conn["domains"]} == {"one.example", "two.example"}
    assert conn["example_line"].endswith("mail.log:1")
    text = CliRunner().invoke(app, ["why", str(log), "--tz", "UTC", "--year", "2026"]).stdout
    assert "connection: 2 deferral(s) of 2 recipient(s) at 2 destination(s)" in text
    assert "what to do:" in text


def _attempt(t: float, status: Status, reply: str = "", suspended: bool = False) -> Attempt:
    return Attempt(t, status, "mx.d.example[192.0.2.1]:25", "4.0.0", reply, suspended=suspended)


def test_suspended_attempts_are_not_retries() -> None:
    grey = "host mx said: 451 Greylisted, please try again in 100 seconds"
    attempts = [
        _attempt(0, Status.DEFERRED, grey),
        _attempt(10, Status.DEFERRED, "delivery temporarily suspended: " + grey, suspended=True),
        _attempt(100, Status.SENT, "250 ok"),
    ]
    checks = check_schedule(attempts, [diagnose(a) for a in attempts])
    assert [(c.verdict, c.next_attempt_at) for c in checks] == [("on_time", 100)]


def test_tolerance() -> None:
    assert tolerance(30) == 5.0
    assert tolerance(3000) == 300.0


def _stats(mta: str, gaps: list[float], hint: int) -> DestinationStats:
    d = DestinationStats("d.example")
    d.mtas[mta] += 1
    d.schedule = ScheduleStats()
    for g in gaps:
        verdict = (
            "early"
            if g < hint - tolerance(hint)
            else "late"
            if g > hint + tolerance(hint)
            else "on_time"
        )
        d.schedule.add(
            ScheduleCheck(
                0.0,
                hint,
                HintKind.EXPLICIT,
                g,
                verdict,
                wasted=verdict == "early",
                avoidable_seconds=max(0.0, g - hint) if verdict == "late" else 0.0,
            )
        )
    return d


@pytest.mark.parametrize(
    ("mta", "needle"),
    [
        ("postfix", "minimal_backoff_time to at least 300s"),
        ("exim", "F,4h,300s"),
        ("sendmail", "Interval=300s"),
        ("opensmtpd", "nothing in smtpd.conf spaces them out"),
    ],
)
def test_suggestion_for_consistently_early_retries(mta: str, needle: str) -> None:
    text = schedule_suggestion(_stats(mta, [60, 60, 90, 400], 300))
    assert text is not None
    assert needle in text
    assert "3 of 4 retries came before the 300s" in text


def test_suggestion_for_consistently_late_retries() -> None:
    text = schedule_suggestion(_stats("postfix", [1200, 1500, 1800], 300))
    assert text is not None
    assert "3 of 3 retries came after the 300s" in text and "queue_run_delay" in text


def test_opensmtpd_late_retries_say_what_smtpd_conf_can_and_cannot_set() -> None:
    """OpenSMTPD's retry schedule is compiled in (400 s times the square of the retry
    number after arrival); smtpd.conf(5) sets the queue lifetime and the delay warnings."""
    text = schedule_suggestion(_stats("opensmtpd", [400, 400, 1200], 60))
    assert text is not None
    assert "3 of 3 retries came after the 60s" in text
    assert "cannot change it" in text and "`queue ttl`" in text
    assert "smtpctl schedule" in text
    assert "minimal_backoff_time" not in text  # not Postfix's advice


def test_no_suggestion_without_a_pattern() -> None:
    assert schedule_suggestion(_stats("postfix", [60, 1200, 300], 300)) is None
    assert schedule_suggestion(_stats("postfix", [60, 60], 300)) is None


def test_expired_without_reply_is_expired_cause() -> None:
    cls = diagnose(Attempt(0, Status.EXPIRED, None, None, None))
    assert cls is not None and cls.cause is Cause.EXPIRED


def test_attempt_json_of_a_repeat_carries_the_cause_it_repeats() -> None:
    """Exim's `retry time not reached` names no cause: its attempt shows the greylisting it
    repeats, as the report counts it."""
    from .conftest import FIXTURES

    result = CliRunner().invoke(app, ["messages", str(FIXTURES / "exim_small.log"), "--tz", "UTC"])
    carol = next(
        r
        for line in result.stdout.splitlines()
        for r in json.loads(line)["recipients"]
        if r["address"] == "carol@grey.example"
    )
    repeats = [a for a in carol["attempts"] if a["suspended"]]
    assert repeats
    assert {a["cause"] for a in repeats} == {"greylisting"}
