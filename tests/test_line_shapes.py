"""Every real line shape (issue 9): each is used or ignored, never unparsed, and no delivery
line is dropped. The sample lines are the shapes quoted from real public logs."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.core.model import Delivery, Status
from maillog_diag.scan.lines import LineParser

COMMON = ["--tz", "UTC", "--year", "2026"]

SOLARIS = [
    "Nov 29 12:00:00 sol postfix/qmgr[9657]: [ID 197553 mail.info] 292633780: from=<>, size=2245, nrcpt=1 (queue active)",
    "Nov 29 12:00:01 sol postfix/smtp[9660]: [ID 197553 mail.info] 292633780: to=<a@b.example>, relay=mx.b.example[192.0.2.1]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
    "Nov 29 12:00:01 sol postfix/qmgr[9657]: [ID 197553 mail.info] 292633780: removed",
]

NOT_DELIVERIES = [
    "Nov 29 12:00:02 mx1 postfix[4987]: Postfix is running with backwards-compatible default settings",
    "Nov 29 12:00:02 mx1 postfix/postfix-script: starting the Postfix mail system",
    "Nov 29 12:00:02 mx1 postfix/postfix-script[4990]: waiting for the Postfix mail system to terminate",
    "Nov 29 12:00:03 mx1 postfix/master[4991]: daemon started -- version 3.7.11, configuration /etc/postfix",
    "Nov 29 12:00:03 mx1 postfix/smtpd[100]: discarding EHLO keywords: CHUNKING",
    "Nov 29 12:00:04 mx1 postfix/smtp[101]: discarding EHLO keywords: SMTPUTF8",
]


def _run(tmp_path: Path, lines: list[str], *args: str) -> tuple[int, str, str]:
    log = tmp_path / "mail.log"
    log.write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(app, [*args, str(log), *COMMON], env={"MAILLOG_DIAG_CONFIG": ""})
    return res.exit_code, res.stdout, res.stderr


def test_solaris_message_id_tag_is_read(parser: LineParser) -> None:
    events = [parser.parse(line, "sol.log", n) for n, line in enumerate(SOLARIS, 1)]
    assert parser.counts.unparsed == 0 and parser.counts.used == 3
    delivery = events[1]
    assert isinstance(delivery, Delivery)
    assert (delivery.queue_id, delivery.recipient, delivery.status) == (
        "292633780",
        "a@b.example",
        Status.SENT,
    )


def test_solaris_log_reports_its_message(tmp_path: Path) -> None:
    code, out, err = _run(tmp_path, SOLARIS, "messages", "--format", "jsonl")
    assert code == 0, err
    (msg,) = [json.loads(line) for line in out.splitlines()]
    assert msg["queue_id"] == "292633780"
    assert [r["outcome"] for r in msg["recipients"]] == ["delivered"]


def test_postfix_command_script_and_ehlo_lines_are_ignored(parser: LineParser) -> None:
    for n, line in enumerate(NOT_DELIVERIES, 1):
        assert parser.parse(line, "mail.log", n) is None
    assert parser.counts.ignored == len(NOT_DELIVERIES) and parser.counts.unparsed == 0


def test_a_log_of_only_non_delivery_lines_is_a_valid_empty_report(tmp_path: Path) -> None:
    code, out, err = _run(tmp_path, NOT_DELIVERIES, "report", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["lines"]["ignored"] == len(NOT_DELIVERIES) and data["destinations"] == []
    assert "could be read" not in err


EXIM_CUTTHROUGH = [
    '2026-11-29 12:00:00 1vQxyz-000AbC-12 >> bob@dest.example R=dnslookup T=remote_smtp H=mx.dest.example [192.0.2.10] C="250 OK id=1vQxyz"',
    "2026-11-29 12:00:00 1vQxyz-000AbC-12 <= alice@sender.example H=(client) [192.0.2.5] P=esmtp S=1234 id=abc@x",
    "2026-11-29 12:00:01 1vQxyz-000AbC-12 Completed",
]

EXIM_MESSAGE_NOTES = [
    "2026-11-29 12:00:04 1vQfrz-000AbC-12 <= <> R=1vQxyz-000AbC-12 U=Debian-exim P=local S=1500",
    "2026-11-29 12:00:04 1vQfrz-000AbC-12 Delivery deferred by system filter",
    "2026-11-29 12:00:05 1vQfrz-000AbC-12 Message is frozen",
    "2026-11-29 12:00:06 1vQfrz-000AbC-12 dave@dest.example: error ignored",
    # (deliver.c: the address, its parent, then the reason when it is a DSN's)
    "2026-11-29 12:00:06 1vQfrz-000AbC-12 dave@dest.example <d@src.example>: error ignored",
    "2026-11-29 12:00:06 1vQfrz-000AbC-12 dave@dest.example: error ignored: RFC 3461 DSN, failure notify not requested",
    "2026-11-29 12:00:07 1vQfrz-000AbC-12 Process failed (1) when writing error message to dave@dest.example",
    "2026-11-29 12:00:08 1vQfrz-000AbC-12 eve@dest.example marked delivered by root",
    "2026-11-29 12:00:08 1vQfrz-000AbC-12 error in remote_smtp transport: failed to expand helo_data",
    "2026-11-29 12:00:08 1vQfrz-000AbC-12 dnslookup router: defer for dave@dest.example: lookup of host failed",
    "2026-11-29 12:00:08 1vQfrz-000AbC-12 delivery of bounce message failed (frozen)",
    "2026-11-29 12:00:08 1vQfrz-000AbC-12 Completed",
]

EXIM_BEFORE_THE_LOG = [
    # the message arrived before the log began: no `<=` line
    "2026-11-29 12:00:02 1vQold-000AbC-12 == carol@dest.example R=dnslookup T=remote_smtp defer (-44) H=mx.dest.example [192.0.2.10]: SMTP error from remote mail server after RCPT TO:<carol@dest.example>: 450 4.2.1 try later",
    "2026-11-29 12:00:03 1vQold-000AbC-12 ** erin@dest.example R=dnslookup T=remote_smtp H=mx.dest.example [192.0.2.10]: SMTP error from remote mail server after RCPT TO:<erin@dest.example>: 550 5.1.1 User unknown",
    '2026-11-29 12:00:04 1vQold-000AbC-12 => carol@dest.example R=dnslookup T=remote_smtp H=mx.dest.example [192.0.2.10] C="250 OK"',
    "2026-11-29 12:00:04 1vQold-000AbC-12 Completed",
]

EXIM_MULTILINE = [
    "2026-11-29 12:00:00 1vQxyz-000AbC-12 <= alice@sender.example H=(client) [192.0.2.5] P=esmtp S=1234 id=abc@x",
    "2026-11-29 12:00:02 1vQxyz-000AbC-12 == bob@gmail.example R=dnslookup T=remote_smtp defer (-44) H=gmail-smtp-in.l.google.com [192.0.2.10]: SMTP error from remote mail server after RCPT TO:<bob@gmail.example>: 450-4.2.1 The user you are trying to contact is receiving mail at a rate that\\n450-4.2.1 prevents additional messages from being delivered. Please resend your\\n450 4.2.1 message at a later time. abc.123 - gsmtp",
]


def _messages(tmp_path: Path, lines: list[str]) -> tuple[list[dict], str]:  # type: ignore[type-arg]
    code, out, err = _run(tmp_path, lines, "messages", "--format", "jsonl")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()], err


def test_exim_cutthrough_delivery_is_a_delivery(tmp_path: Path) -> None:
    (msg,), err = _messages(tmp_path, EXIM_CUTTHROUGH)
    assert "could not be parsed" not in err
    assert [(r["address"], r["outcome"]) for r in msg["recipients"]] == [
        ("bob@dest.example", "delivered")
    ]


def test_exim_message_level_lines_are_recognised(tmp_path: Path) -> None:
    code, out, err = _run(tmp_path, EXIM_MESSAGE_NOTES, "stats")
    assert code == 0, err
    assert json.loads(out)["lines"]["unparsed"] == 0


def test_exim_lines_of_a_message_that_arrived_before_the_log(tmp_path: Path) -> None:
    (msg,), _ = _messages(tmp_path, EXIM_BEFORE_THE_LOG)
    assert msg["arrival_seen"] is False
    outcomes = {r["address"]: r["outcome"] for r in msg["recipients"]}
    assert outcomes == {"carol@dest.example": "delivered", "erin@dest.example": "bounced"}


def test_exim_multi_line_reply_is_condensed_like_postfix(tmp_path: Path) -> None:
    code, out, err = _run(tmp_path, EXIM_MULTILINE, "report", "--format", "json")
    assert code == 0, err
    (dest,) = json.loads(out)["destinations"]
    (reason,) = dest["reasons"]
    assert "\\n" not in reason["reason"] and "450-4.2.1" not in reason["reason"]
    assert "receiving mail at a rate that prevents additional messages" in reason["reason"]


def test_exim_4_97_long_ids_and_zone_offsets(tmp_path: Path) -> None:
    lines = [
        "2026-11-29 13:00:00.123 +0100 [4242] 1wN9t2-00000002BQv-3hr9 <= a@sender.example H=c [192.0.2.9] P=esmtp S=1",
        '2026-11-29 13:00:01.456 +0100 [4243] 1wN9t2-00000002BQv-3hr9 >> b@dest.example R=dnslookup T=remote_smtp H=mx.dest.example [192.0.2.10] C="250 OK"',
        "2026-11-29 13:00:02.000 +0100 [4243] 1wN9t2-00000002BQv-3hr9 Completed",
    ]
    (msg,), _ = _messages(tmp_path, lines)
    assert msg["queue_id"] == "1wN9t2-00000002BQv-3hr9"
    assert msg["arrived"] == "2026-11-29T12:00:00.123+00:00"
    assert [r["outcome"] for r in msg["recipients"]] == ["delivered"]


def test_a_reply_that_ends_like_an_ignored_error_does_not_hide_a_delivery_line(
    tmp_path: Path,
) -> None:
    """Exim writes `<address>: error ignored` on a line of its own, never after a delivery
    flag: a deferral or a bounce whose reply text (the receiver's choice) ends with those
    words is still a deferral or a bounce."""
    said = ": error ignored"
    lines = [
        EXIM_BEFORE_THE_LOG[0] + said,
        EXIM_BEFORE_THE_LOG[1] + said,
        *EXIM_BEFORE_THE_LOG[2:],
    ]
    (msg,), _ = _messages(tmp_path, lines)
    outcomes = {r["address"]: (r["outcome"], r["deferrals"]) for r in msg["recipients"]}
    assert outcomes == {"carol@dest.example": ("delivered", 1), "erin@dest.example": ("bounced", 0)}
