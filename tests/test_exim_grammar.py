"""Every Exim line shape the tool relies on, through the grammar, field by field."""

from __future__ import annotations

from datetime import datetime

import pytest

from maillog_diag.core.model import (
    Arrival,
    Delivery,
    QueueAction,
    Rejected,
    Removed,
    SessionNote,
    Status,
)
from maillog_diag.errors import UnparsableLine
from maillog_diag.mta.exim import MAINLOG_HOST, interval
from maillog_diag.scan.lines import LineParser

S = "2026-11-29 12:00:01"
ID = "1kXyZa-0001Ab-Cd"


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def parse(parser: LineParser, line: str) -> object:
    return parser.parse(line)


def test_arrival_with_host_protocol_size_message_id_subject_and_recipients(
    parser: LineParser,
) -> None:
    line = (
        f"{S} {ID} <= ann@example.org H=mail.example.org (helo.example.org) [192.0.2.7]:41234 "
        "I=[192.0.2.1]:25 P=esmtps X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no K S=1289 M8S=0 "
        'id=abc.123@example.org T="for you: a \\"quoted\\" subject" RT=0.5s for bob@example.com c@d.example'
    )
    ev = parser.parse(line)
    assert isinstance(ev, Arrival)
    assert ev.mta == "exim"
    assert ev.queue_id == ID
    assert ev.host == MAINLOG_HOST
    assert ev.time == ts("2026-11-29T12:00:01+00:00")
    assert ev.sender == "ann@example.org"
    assert ev.client == "mail.example.org[192.0.2.7]"
    assert ev.size == 1289
    assert ev.message_id == "abc.123@example.org"
    assert ev.nrcpt == 2
    assert ev.reference is None


def test_arrival_with_all_selectors_and_created_message_id(parser: LineParser) -> None:
    line = (
        "2026-11-29 14:04:16.442 +0000 [27006] 1xXfVo-00071a-1O <= <> R=1xXfVo-00071T-19 "
        "U=Debian-exim P=local S=2141 M8S=0 RT=0.003s id*=E1xXfVo-00071a-1O@mail.example.net "
        'T="Mail delivery failed: returning message to sender" from <> for bob@sender.test'
    )
    ev = parser.parse(line)
    assert isinstance(ev, Arrival)
    assert ev.message_id == "E1xXfVo-00071a-1O@mail.example.net"
    assert ev.reference == "1xXfVo-00071T-19"
    assert ev.notice == "sender non-delivery notification"
    assert ev.nrcpt == 1
    assert ev.time == ts("2026-11-29T14:04:16.442+00:00")


def test_local_arrival(parser: LineParser) -> None:
    ev = parser.parse(f"{S} {ID} <= root@host.example U=root P=local S=298")
    assert isinstance(ev, Arrival)
    assert ev.client == "local"
    assert ev.size == 298
    assert ev.message_id is None
    assert ev.nrcpt is None


@pytest.mark.parametrize(
    ("subject", "notice"),
    [
        ("", "sender notification"),
        (
            ' T="Mail delivery failed: returning message to sender"',
            "sender non-delivery notification",
        ),
        (' T="Warning: message 1kXyZa-0001Ab-Cd delayed 24 hours"', "sender delay notification"),
    ],
)
def test_bounce_arrival_references_the_original(
    parser: LineParser, subject: str, notice: str
) -> None:
    ev = parser.parse(f"{S} 1kXyZb-0001Ac-Ee <= <> R={ID} U=Debian-exim P=local S=3958{subject}")
    assert isinstance(ev, Arrival)
    assert ev.sender == ""
    assert ev.reference == ID
    assert ev.notice == notice


def test_remote_delivery_with_selectors(parser: LineParser) -> None:
    line = (
        f"{S} {ID} => bob@example.com R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.9]:25 "
        'X=TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256 CV=yes DN="CN=mx.example.com" K '
        'C="250 2.0.0 Ok: queued as 4F2A31C02B9" QT=1h2m3s DT=1.5s'
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.status is Status.SENT
    assert ev.recipient == "bob@example.com"
    assert ev.orig_recipient is None
    assert ev.relay == "mx.example.com[192.0.2.9]:25"
    assert ev.reply == "250 2.0.0 Ok: queued as 4F2A31C02B9"
    assert ev.delay == 3723.0
    assert ev.program == "exim"
    assert not ev.suspended and not ev.handoff


def test_delivery_continued_connection_star_and_rewritten_address(parser: LineParser) -> None:
    line = (
        f"{S} {ID} -> real@isp.example <alias@example.org> R=dnslookup T=remote_smtp "
        'H=mxs.isp.example [94.100.176.20]* C="250 OK id=1RwtKD-0000rP-HF"'
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.status is Status.SENT
    assert ev.recipient == "real@isp.example"
    assert ev.orig_recipient == "alias@example.org"
    assert ev.relay == "mxs.isp.example[94.100.176.20]"


@pytest.mark.parametrize(
    "first", ["userx", "/var/mail/userx", ":blackhole:", "|/usr/bin/procmail -d userx"]
)
def test_local_delivery_is_recorded_under_the_original_address(
    parser: LineParser, first: str
) -> None:
    ev = parser.parse(f"{S} {ID} => {first} <userx@test.example> R=localuser T=local_delivery")
    assert isinstance(ev, Delivery)
    assert ev.recipient == "userx@test.example"
    assert ev.relay is None


def test_delivery_with_parent_address(parser: LineParser) -> None:
    ev = parser.parse(f"{S} {ID} => joe@other.example (list@example.org) <top@example.org> R=x T=y")
    assert isinstance(ev, Delivery)
    assert ev.recipient == "joe@other.example"
    assert ev.orig_recipient == "top@example.org"


def test_suppressed_delivery(parser: LineParser) -> None:
    ev = parser.parse(f"{S} {ID} *> bob@example.com R=dnslookup T=remote_smtp")
    assert isinstance(ev, Delivery)
    assert ev.status is Status.SENT


def test_deferral_new_format_with_host_before_reason(parser: LineParser) -> None:
    line = (
        f"{S} {ID} == bob@example.com R=dnslookup T=remote_smtp defer (-44) "
        "H=mx.example.com [192.0.2.9]: SMTP error from remote mail server after "
        "RCPT TO:<bob@example.com>: 451 4.7.1 Greylisted, see http://x.example/g?a=1"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.status is Status.DEFERRED
    assert ev.recipient == "bob@example.com"
    assert ev.relay == "mx.example.com[192.0.2.9]"
    assert ev.dsn == "4.7.1"
    assert ev.stage == "rcpt"
    assert ev.reply == (
        "SMTP error from remote mail server after RCPT TO:<bob@example.com>: "
        "451 4.7.1 Greylisted, see http://x.example/g?a=1"
    )
    assert not ev.suspended


def test_deferral_with_deliver_time_before_the_reason(parser: LineParser) -> None:
    line = (
        f"{S} {ID} == jo@expire.test R=lab T=remote_smtp defer (-44) H=127.0.0.13 "
        "[127.0.0.13]:25 DT=0s: SMTP error from remote mail server after RCPT TO:<jo@expire.test>: "
        "450 4.2.2 <jo@expire.test>: Recipient address rejected: Mailbox over quota, try again later"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.relay == "127.0.0.13[127.0.0.13]:25"
    assert ev.dsn == "4.2.2" and ev.stage == "rcpt"
    assert ev.reply is not None and ev.reply.startswith("SMTP error from remote mail server")


@pytest.mark.parametrize(
    ("tail", "reply", "relay", "stage"),
    [
        ("defer (111): Connection refused DT=0s", "Connection refused", None, "connect"),
        (
            "defer (110): Connection timed out H=127.0.0.12 [127.0.0.12]:25 DT=0s: "
            "SMTP timeout after initial connection",
            "Connection timed out: SMTP timeout after initial connection",
            "127.0.0.12[127.0.0.12]:25",
            "greeting",
        ),
    ],
)
def test_deliver_time_and_host_inside_the_reason(
    parser: LineParser, tail: str, reply: str, relay: str | None, stage: str
) -> None:
    ev = parser.parse(f"{S} {ID} == hal@down.test R=lab T=remote_smtp {tail}")
    assert isinstance(ev, Delivery)
    assert (ev.reply, ev.relay, ev.stage) == (reply, relay, stage)


def test_failure_with_deliver_time_after_the_reason(parser: LineParser) -> None:
    line = (
        f"{S} {ID} ** nobody@bounce.test P=<bob@sender.test> R=lab T=remote_smtp "
        "H=127.0.0.9 [127.0.0.9]:25: SMTP error from remote mail server after "
        "RCPT TO:<nobody@bounce.test>: 550 5.1.1 <nobody@bounce.test>: User unknown DT=0s"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.status is Status.BOUNCED
    assert ev.reply is not None and ev.reply.endswith("User unknown")
    assert ev.relay == "127.0.0.9[127.0.0.9]:25"


def test_deferral_old_format_host_inside_reason(parser: LineParser) -> None:
    line = (
        f"{S} {ID} == a@london.example R=dnslookup T=remote_smtp defer (-44): SMTP error from "
        "remote mail server after RCPT TO:<a@london.example>: host mx0.gmx.example [74.208.5.90]: "
        "450 4.3.2 Too many mails (mail bomb), try again in 1 hour(s) {mx-us011}"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.relay == "mx0.gmx.example[74.208.5.90]"
    assert ev.dsn == "4.3.2"
    assert ev.stage == "rcpt"
    assert ev.reply is not None and ev.reply.endswith("{mx-us011}")


@pytest.mark.parametrize(
    ("after", "stage"),
    [
        ("MAIL FROM:<s@x.example>", "mail"),
        ("pipelined MAIL FROM:<s@x.example>", "mail"),
        ("RCPT TO:<a@b.example>", "rcpt"),
        ("DATA", "data"),
        ("pipelined DATA", "data"),
        ("end of data", "end_of_data"),
        ("initial connection", "greeting"),
        ("EHLO mx1.example", "helo"),
    ],
)
def test_stage_from_the_smtp_command(parser: LineParser, after: str, stage: str) -> None:
    line = (
        f"{S} {ID} == a@b.example R=dnslookup T=remote_smtp defer (-46) H=mx.b.example "
        f"[192.0.2.1]: SMTP error from remote mail server after {after}: 421 busy"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.stage == stage


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("defer (111): Connection refused", "connect"),
        ("defer (110): Connection timed out", "connect"),
        ("defer (145): Operation timed out", "connect"),
        (
            "defer (-18): Remote host mx [192.0.2.1] closed connection in response to end of data",
            "end_of_data",
        ),
        ("defer (-1): host lookup did not complete", None),
        ("defer (-1): domain matches queue_smtp_domains, or -odqs set", None),
    ],
)
def test_deferral_texts(parser: LineParser, text: str, stage: str | None) -> None:
    ev = parser.parse(f"{S} {ID} == a@b.example R=dnslookup T=remote_smtp {text}")
    assert isinstance(ev, Delivery)
    assert ev.status is Status.DEFERRED
    assert ev.stage == stage
    assert ev.reply == text.split(": ", 1)[1]
    assert not ev.suspended


@pytest.mark.parametrize(
    "tail",
    [
        "R=dnslookup T=remote_smtp defer (-53): retry time not reached for any host for 'b.example'",
        "R=all T=smtp defer (-54): retry time not reached for any host for 'b.example'",
        "routing defer (-51): retry time not reached",
        "R=local_user T=mail_spool defer (-52): Retry time not yet reached",
    ],
)
def test_retry_time_not_reached_is_suspended(parser: LineParser, tail: str) -> None:
    ev = parser.parse(f"{S} {ID} == a@b.example {tail}")
    assert isinstance(ev, Delivery)
    assert ev.status is Status.DEFERRED
    assert ev.suspended is True


def test_failure_with_smtp_reply(parser: LineParser) -> None:
    line = (
        f"{S} {ID} ** nobody@b.example R=dnslookup T=remote_smtp H=mx.b.example [192.0.2.40]: "
        "SMTP error from remote mail server after RCPT TO:<nobody@b.example>: 550 5.1.1 "
        "<nobody@b.example>: Recipient address rejected: User unknown"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.status is Status.BOUNCED
    assert ev.recipient == "nobody@b.example"
    assert ev.relay == "mx.b.example[192.0.2.40]"
    assert ev.dsn == "5.1.1"
    assert ev.stage == "rcpt"


@pytest.mark.parametrize(
    ("tail", "status", "reason"),
    [
        (": Unrouteable address", Status.BOUNCED, "Unrouteable address"),
        (" <orig@x.example>: Unrouteable address", Status.BOUNCED, "Unrouteable address"),
        (": retry timeout exceeded", Status.EXPIRED, "retry timeout exceeded"),
        (
            " R=dnslookup T=remote_smtp: retry time not reached for any host after a long failure period",
            Status.EXPIRED,
            "retry time not reached for any host after a long failure period",
        ),
        (
            " R=dnslookup T=remote_smtp: all hosts for 'b.example' have been failing for a long time (and retry time not reached)",
            Status.EXPIRED,
            "all hosts for 'b.example' have been failing for a long time (and retry time not reached)",
        ),
    ],
)
def test_failure_forms(parser: LineParser, tail: str, status: Status, reason: str) -> None:
    ev = parser.parse(f"{S} {ID} ** a@b.example{tail}")
    assert isinstance(ev, Delivery)
    assert ev.recipient == "a@b.example"
    assert ev.status is status
    assert ev.reply == reason
    assert not ev.suspended


@pytest.mark.parametrize("tail", ["Completed", "Completed QT=1m2s"])
def test_completed_is_removal(parser: LineParser, tail: str) -> None:
    ev = parser.parse(f"{S} {ID} {tail}")
    assert isinstance(ev, Removed)
    assert ev.queue_id == ID
    assert ev.by_admin is False


def test_removed_by_admin_marks_the_following_completed(parser: LineParser) -> None:
    action = parser.parse(f"{S} {ID} removed by root")
    assert isinstance(action, QueueAction) and action.action == "removed by root"
    ev = parser.parse(f"{S} {ID} Completed")
    assert isinstance(ev, Removed) and ev.by_admin is True


@pytest.mark.parametrize(
    "text",
    [
        "Frozen",
        "Frozen (delivery error message)",
        "Message is frozen",
        "Unfrozen by forced delivery",
        "Unfrozen by errmsg timer",
        "frozen by root",
        "cancelled by root",
    ],
)
def test_freezing_is_a_queue_action(parser: LineParser, text: str) -> None:
    ev = parser.parse(f"{S} {ID} {text}")
    assert isinstance(ev, QueueAction)
    assert ev.action == text


@pytest.mark.parametrize(
    "text",
    [
        "H=mx.b.example [192.0.2.9] Connection refused",
        "H=mx.b.example [192.0.2.9]:25 Connection timed out",
        "tech-caste.example [192.0.2.3] Operation timed out",
        "SMTP error from remote mail server after DATA: host imx1.b.example [81.19.66.234]: 452 4.7.1 Try again later",
        "Remote host MAIL.b.example [89.221.55.146] closed connection in response to initial connection",
        "SMTP timeout while connected to mx.b.example [192.0.2.9] after RCPT TO:<a@b.example>",
        "no IP address found for host mx.b.example",
        "lowest numbered MX record points to local host: b.example",
        "Message has lost track of what it was doing",
    ],
)
def test_per_host_notes(parser: LineParser, text: str) -> None:
    ev = parser.parse(f"{S} [4242] {ID} {text}")
    assert isinstance(ev, SessionNote)
    assert ev.queue_id == ID
    assert ev.text == text
    assert ev.pid == "4242"


@pytest.mark.parametrize(
    "text",
    [
        "F=<s@x.example> rejected by non-SMTP ACL: don't like sender",
        "H=(helo.example) [192.0.2.5]:3755 I=[192.0.2.1]:25 F=s@x.example rejected after DATA: virus found",
        "U=CALLER F=<s@x.example> rejected after DATA: malformed address",
        "H=x.example [192.0.2.5] F=<s@x.example> temporarily rejected after DATA: try later",
    ],
)
def test_rejected_while_receiving(parser: LineParser, text: str) -> None:
    ev = parser.parse(f"{S} {ID} {text}")
    assert isinstance(ev, Rejected)
    assert ev.reason == text


@pytest.mark.parametrize(
    "text",
    [
        f"{ID} Spool file is locked (another process is handling this message)",
        f"{ID} Spool file {ID}-D not found",
        f"{ID} DKIM: d=example.org s=sel c=relaxed/relaxed a=rsa-sha256 b=2048 [verification succeeded]",
        f"{ID} SMTP connection from x.example [192.0.2.5] closed by DROP in ACL",
        "Start queue run: pid=1234",
        "cwd=/var/spool/exim4 3 args: /usr/sbin/exim4 -Mc 1xXfVZ-0006zX-32",
        "End queue run: pid=1234",
        "exim 4.96 daemon started: pid=900, -q30m, listening for SMTP on port 25",
        "SMTP connection from [192.0.2.5]:4000 (TCP/IP connection count = 1)",
        "H=(helo) [192.0.2.5] F=<s@x.example> rejected RCPT <a@b.example>: relay not permitted",
        "login authenticator failed for (ylmf-pc) [192.0.2.5]: 535 Incorrect authentication data",
        "no host name found for IP address 192.0.2.8",
        "TLS error on connection from x.example [192.0.2.5] (SSL_accept): timed out",
    ],
)
def test_ignored_lines(parser: LineParser, text: str) -> None:
    assert parser.parse(f"{S} {text}") is None
    assert parser.counts.ignored == 1
    assert parser.counts.unparsed == 0


def test_indented_continuation_is_ignored(parser: LineParser) -> None:
    assert parser.parse(f"{S} Warning: purging the environment.") is None
    assert parser.parse(" Suggested action: use keep_environment.") is None
    assert parser.counts.ignored_by_reason == {
        "exim warning": 1,
        "continuation line (indented)": 1,
    }


def test_unknown_message_line_is_unparsed(parser: LineParser) -> None:
    with pytest.raises(UnparsableLine):
        parser.parse(f"{S} {ID} this is not a line exim writes")


def test_flag_line_with_a_broken_id_is_unparsed(parser: LineParser) -> None:
    with pytest.raises(UnparsableLine):
        parser.parse(f"{S} 1kXyZa-01Ab == a@b.example R=x T=y defer (-1): z")


# --- time stamps and the lead ------------------------------------------------------------


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-11-29 12:00:01", "2026-11-29T12:00:01+00:00"),
        ("2026-11-29 12:00:01.123", "2026-11-29T12:00:01.123+00:00"),
        ("2026-11-29 12:00:01 +0100", "2026-11-29T12:00:01+01:00"),
        ("2026-11-29 12:00:01.123 -0500", "2026-11-29T12:00:01.123-05:00"),
        ("2026-11-29 12:00:01 [4242]", "2026-11-29T12:00:01+00:00"),
        ("2026-11-29 12:00:01.5 +0100 [4242]", "2026-11-29T12:00:01.5+01:00"),
    ],
)
def test_mainlog_stamps(parser: LineParser, stamp: str, expected: str) -> None:
    ev = parser.parse(f"{stamp} {ID} Completed")
    assert isinstance(ev, Removed)
    assert ev.time == ts(expected)
    assert ev.host == MAINLOG_HOST


def test_long_message_ids(parser: LineParser) -> None:
    ev = parser.parse(f"{S} 1wN9t2-00000002BQv-3hr9 => a@b.example R=x T=y")
    assert isinstance(ev, Delivery)
    assert ev.queue_id == "1wN9t2-00000002BQv-3hr9"


@pytest.mark.parametrize("program", ["exim[4242]", "exim4[4242]"])
def test_syslog_with_exim_stamp(parser: LineParser, program: str) -> None:
    line = f"Nov 29 12:00:03 mx1 {program}: 2026-11-29 12:00:01.250 {ID} == a@b.example R=x T=y defer (111): Connection refused"
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.host == "mx1"
    assert ev.time == ts("2026-11-29T12:00:01.250+00:00")  # Exim's own stamp wins
    assert ev.pid == "4242"


def test_syslog_without_exim_stamp(parser: LineParser) -> None:
    ev = parser.parse(f"Nov 29 12:00:03 mx1 exim[4242]: {ID} Completed")
    assert isinstance(ev, Removed)
    assert ev.host == "mx1"
    assert ev.time == ts("2026-11-29T12:00:03+00:00")


def test_syslog_rfc3339_with_pid_selector(parser: LineParser) -> None:
    line = f"2026-11-29T12:00:03.5+01:00 mx1 exim[4242]: [4242] {ID} H=mx [192.0.2.1] Connection refused"
    ev = parser.parse(line)
    assert isinstance(ev, SessionNote)
    assert ev.time == ts("2026-11-29T12:00:03.5+01:00")
    assert ev.pid == "4242"


def test_syslog_split_lines(parser: LineParser) -> None:
    first = f"Nov 29 12:00:03 mx1 exim[4242]: [1\\2] {S} {ID} <= ann@example.org U=ann P=local S=12"
    ev = parser.parse(first)
    assert isinstance(ev, Arrival) and ev.queue_id == ID
    assert parser.parse("Nov 29 12:00:03 mx1 exim[4242]: [2\\2]  for a@b.example") is None
    assert parser.counts.ignored_by_reason == {"exim later part of a line split for syslog": 1}


def test_forwarded_line_without_syslog_stamp(parser: LineParser) -> None:
    ev = parser.parse(f"mail.example.com exim[3751842]: {S} {ID} Completed")
    assert isinstance(ev, Removed)
    assert ev.host == "mail.example.com"
    assert ev.time == ts("2026-11-29T12:00:01+00:00")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0s", 0.0),
        ("1m2s", 62.0),
        ("3d4h", 273600.0),
        ("1w", 604800.0),
        ("0.123s", 0.123),
        ("x", None),
        ("", None),
    ],
)
def test_intervals(text: str, seconds: float | None) -> None:
    assert interval(text) == seconds


def test_line_time_of_mainlog_lines(parser: LineParser) -> None:
    from maillog_diag.mta.exim import EximReader

    exim = EximReader(parser.time_parser)
    assert exim.line_time(f"{S}.250 +0100 [12] End queue run: pid=12") == ts(
        "2026-11-29T12:00:01.250+01:00"
    )
    assert exim.line_time("Nov 29 12:00:01 mx1 postfix/smtp[1]: x") is None
    assert exim.line_time("garbage") is None


@pytest.mark.parametrize(
    "helo",
    [
        "x S=1 id=fake@evil.example R=1xAAAA-000000-00",  # fields of the line, said as a HELO
        'x T="Mail delivery failed" for a@evil.example',
    ],
)
def test_arrival_fields_are_not_taken_from_inside_the_helo_name(
    parser: LineParser, helo: str
) -> None:
    """The HELO name in `H=name (helo) [ip]` is the client's to choose (where Exim accepts
    junk HELO names): the size, message id, reference and subject come from the line's own
    fields, which follow the host (`receive.c`: R= right after the sender, then the host)."""
    line = (
        f"{S} {ID} <= ann@example.org H=mail.example.org ({helo}) [192.0.2.7]:41234 "
        'P=esmtps S=1289 id=abc.123@example.org T="hello" for bob@example.com'
    )
    ev = parser.parse(line)
    assert isinstance(ev, Arrival)
    assert (ev.size, ev.message_id, ev.reference, ev.notice, ev.nrcpt) == (
        1289,
        "abc.123@example.org",
        None,
        None,
        1,
    )
    assert ev.client == "mail.example.org[192.0.2.7]"


@pytest.mark.parametrize("said", ["250 ok QT=99d H=evil [6.6.6.6]", '250 ok" QT=99d'])
def test_the_queue_time_is_not_taken_from_the_receivers_confirmation(
    parser: LineParser, said: str
) -> None:
    """`C="..."` is the receiver's reply: a `QT=` inside it is not the queue time (which
    Exim writes after it), so it cannot inflate the delay figures."""
    quoted = said.replace('"', '\\"')
    line = (
        f"{S} {ID} => bob@example.com R=dnslookup T=remote_smtp H=mx.example.com [192.0.2.9]:25 "
        f'C="{quoted}" QT=1h2m3s DT=1.5s'
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert (ev.reply, ev.delay, ev.relay) == (said, 3723.0, "mx.example.com[192.0.2.9]:25")
