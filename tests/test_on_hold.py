"""Mail put on hold by the admin (`postsuper -h`, a header/body check's HOLD) is reported as
on hold, with how long, and counts as delayed (issue 9)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.output.render import summary_line

COMMON = ["--tz", "UTC", "--year", "2026"]

HELD_BY_CHECK = [
    # cleanup's header_checks HOLD: the message never reaches the active queue
    "Nov 29 10:00:00 mx1 postfix/pickup[1]: AAAA111111: uid=0 from=<root@mx1.example>",
    "Nov 29 10:00:00 mx1 postfix/cleanup[2]: AAAA111111: hold: header Subject: invoice from local; from=<root@mx1.example> to=<x@dest.example>: held for review",
    "Nov 29 10:30:00 mx1 postfix/anvil[3]: statistics: max connection rate 1/60s for (smtp:192.0.2.1) at Nov 29 10:00:00",
]

HELD_THEN_RELEASED = [
    "Nov 29 10:00:00 mx1 postfix/qmgr[2]: BBBB222222: from=<a@mx1.example>, size=300, nrcpt=1 (queue active)",
    "Nov 29 10:00:01 mx1 postfix/smtp[3]: BBBB222222: to=<b@dest.example>, relay=mx.dest.example[192.0.2.1]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=4.2.0, status=deferred (host mx.dest.example[192.0.2.1] said: 450 4.2.0 try later (in reply to RCPT TO command))",
    "Nov 29 10:05:00 mx1 postfix/postsuper[9]: BBBB222222: placed on hold",
    "Nov 29 10:25:00 mx1 postfix/postsuper[9]: BBBB222222: released from hold",
    "Nov 29 10:26:00 mx1 postfix/qmgr[2]: BBBB222222: from=<a@mx1.example>, size=300, nrcpt=1 (queue active)",
    "Nov 29 10:26:01 mx1 postfix/smtp[3]: BBBB222222: to=<b@dest.example>, relay=mx.dest.example[192.0.2.1]:25, delay=1561, delays=1560/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
    "Nov 29 10:26:01 mx1 postfix/qmgr[2]: BBBB222222: removed",
    "Nov 29 10:30:00 mx1 postfix/qmgr[2]: CCCC333333: from=<a@mx1.example>, size=300, nrcpt=1 (queue active)",
    "Nov 29 10:30:01 mx1 postfix/smtp[3]: CCCC333333: to=<c@dest.example>, relay=mx.dest.example[192.0.2.1]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=4.2.0, status=deferred (host mx.dest.example[192.0.2.1] said: 450 4.2.0 try later (in reply to RCPT TO command))",
    "Nov 29 10:31:00 mx1 postfix/postsuper[9]: CCCC333333: placed on hold",
    "Nov 29 11:31:00 mx1 postfix/anvil[3]: statistics: max connection rate 1/60s for (smtp:192.0.2.1) at Nov 29 10:00:00",
]


def _report(tmp_path: Path, lines: list[str]) -> dict:  # type: ignore[type-arg]
    log = tmp_path / "mail.log"
    log.write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(
        app, ["report", str(log), *COMMON, "--format", "json"], env={"MAILLOG_DIAG_CONFIG": ""}
    )
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)  # type: ignore[no-any-return]


def test_a_message_held_by_a_header_check_is_on_hold(tmp_path: Path) -> None:
    data = _report(tmp_path, HELD_BY_CHECK)
    (hold,) = data["on_hold"]
    assert hold["queue_id"] == "AAAA111111"
    assert hold["since"] == "2026-11-29T10:00:00+00:00"
    assert hold["hold_seconds"] == 1800  # to the end of the log
    assert "held for review" in hold["reason"]
    assert summary_line(data) != "No mail was delayed."
    assert "1 on hold" in summary_line(data)


def test_postsuper_hold_is_reported_with_its_duration(tmp_path: Path) -> None:
    data = _report(tmp_path, HELD_THEN_RELEASED)
    (hold,) = data["on_hold"]  # BBBB222222 was released: only CCCC333333 is still on hold
    assert hold["queue_id"] == "CCCC333333"
    assert hold["hold_seconds"] == 3600
    assert hold["recipients"] == ["c@dest.example"]
    (held,) = data["held_mail"]
    assert held["on_hold"] is True and held["address"] == "c@dest.example"
    (dest,) = data["destinations"]
    assert dest["on_hold"] == 1 and dest["recipients_deferred"] == 2


def test_messages_json_gives_the_time_on_hold(tmp_path: Path) -> None:
    log = tmp_path / "mail.log"
    log.write_text("\n".join(HELD_THEN_RELEASED) + "\n")
    res = CliRunner().invoke(app, ["messages", str(log), *COMMON], env={"MAILLOG_DIAG_CONFIG": ""})
    by_id = {m["queue_id"]: m for m in map(json.loads, res.stdout.splitlines())}
    assert (
        by_id["BBBB222222"]["hold_seconds"] == 1200 and by_id["BBBB222222"]["on_hold_since"] is None
    )
    assert by_id["CCCC333333"]["on_hold_since"] == "2026-11-29T10:31:00+00:00"
