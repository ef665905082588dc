"""Every Postfix line shape the tool relies on, through the grammar, field by field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from maillog_diag.core.model import (
    Arrival,
    Delivery,
    Expired,
    MessageInfo,
    Notification,
    QueueAction,
    Rejected,
    Removed,
    SessionNote,
    Status,
)
from maillog_diag.errors import UnparsableLine
from maillog_diag.scan.lines import LineParser

H = "Nov 29 12:21:46 mx1"


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_smtp_deferred_with_colons_and_parentheses_in_reply(parser: LineParser) -> None:
    line = (
        f"{H} postfix/smtp[4321]: 4F2A31C02B9: to=<ann@example.com>, "
        "relay=mx.example.com[192.0.2.7]:25, delay=301, delays=0.1/0/0.4/0.2, dsn=4.2.0, "
        "status=deferred (host mx.example.com[192.0.2.7] said: 450 4.2.0 <ann@example.com>: "
        "Recipient address rejected: Greylisted (see http://x.example/help?a=(1)) "
        "(in reply to RCPT TO command))"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.queue_id == "4F2A31C02B9"
    assert ev.recipient == "ann@example.com"
    assert ev.status is Status.DEFERRED
    assert ev.relay == "mx.example.com[192.0.2.7]:25"
    assert ev.delay == 301.0
    assert ev.delays == "0.1/0/0.4/0.2"
    assert ev.dsn == "4.2.0"
    assert ev.reply is not None
    assert ev.reply.startswith("host mx.example.com[192.0.2.7] said: 450 4.2.0")
    assert ev.reply.endswith("(in reply to RCPT TO command)")
    assert ev.time == ts("2026-11-29T12:21:46+00:00")
    assert ev.host == "mx1"
    assert ev.program == "postfix/smtp"
    assert ev.pid == "4321"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("sent", Status.SENT),
        ("deferred", Status.DEFERRED),
        ("bounced", Status.BOUNCED),
        ("expired", Status.EXPIRED),
        ("undeliverable", Status.BOUNCED),
        ("deliverable", Status.SENT),
    ],
)
def test_every_status_word(parser: LineParser, status: str, expected: Status) -> None:
    line = (
        f"{H} postfix/smtp[1]: ABCDEF123: to=<a@b.example>, relay=none, delay=1, "
        f"delays=1/0/0/0, dsn=4.4.1, status={status} (x)"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.status is expected


@pytest.mark.parametrize(
    "program", ["lmtp", "local", "virtual", "pipe", "error", "retry", "discard"]
)
def test_other_delivery_agents(parser: LineParser, program: str) -> None:
    line = (
        f"{H} postfix/{program}[77]: 0D9633D: to=<jos@example.com>, orig_to=<board@example.com>, "
        "relay=dovecot, conn_use=2, delay=11, delays=5.4/0.06/5.1/0.03, dsn=2.0.0, "
        "status=sent (delivered via dovecot service)"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.orig_recipient == "board@example.com"
    assert ev.relay == "dovecot"
    assert ev.program == f"postfix/{program}"
    assert ev.reply == "delivered via dovecot service"


def test_local_address_without_brackets(parser: LineParser) -> None:
    line = (
        f"{H} postfix/local[9]: 2A22C263F6: to=user@host.example.com, orig_to=root@localhost, "
        "relay=local, delay=0.07, delays=0.04/0/0/0.03, dsn=2.0.0, "
        'status=sent (delivered to command: procmail -a "$EXTENSION")'
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.recipient == "user@host.example.com"
    assert ev.orig_recipient == "root@localhost"


def test_multiline_gmail_reply_is_kept_whole(parser: LineParser) -> None:
    reply = (
        "host gmail-smtp-in.l.google.com[74.125.136.26] said: 421-4.7.28 [192.0.2.1 15] Our "
        "system has detected an unusual rate of 421-4.7.28 unsolicited mail originating from "
        "your IP address. 421 4.7.28 https://support.google.com/mail/?p=UnsolicitedRateLimitError"
        " a1si123.45 - gsmtp (in reply to end of DATA command)"
    )
    line = (
        f"{H} postfix/smtp[5]: 644D53D: to=<x@gmail.com>, relay=gmail-smtp-in.l.google.com"
        f"[74.125.136.26]:25, delay=2, delays=0/0/1/1, dsn=4.7.28, status=deferred ({reply})"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.reply == reply


def test_suspended_delivery_is_flagged(parser: LineParser) -> None:
    line = (
        f"{H} postfix/error[8]: 2DC5552A34: to=<user@yahoo.com>, relay=none, delay=63495, "
        "delays=63350/144/0/0, dsn=4.4.2, status=deferred (delivery temporarily suspended: "
        "lost connection with mta7.am0.yahoodns.net[98.136.216.22] while sending RCPT TO)"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.suspended is True
    assert ev.status is Status.DEFERRED


def test_delivery_with_tls_field(parser: LineParser) -> None:
    line = (
        f"{H} postfix/smtp[1]: 7EE668039: to=<user@example.com>, relay=mail.example.com"
        "[1.2.3.4]:25, delay=3.6, delays=0.08/0.02/0.85/0.14, tls=dane/!requiretls:nocertmatch, "
        "dsn=2.1.5, status=sent (250 2.0.0 Ok: queued as 153053D)"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.dsn == "2.1.5"
    assert ev.status is Status.SENT


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Nov 29 12:21:46 mx1", "2026-11-29T12:21:46+00:00"),
        ("Nov  2 01:02:03 mx1", "2026-11-02T01:02:03+00:00"),
        ("Nov 29 12:21:46.762232 mx1", "2026-11-29T12:21:46.762232+00:00"),
        ("2026-11-29T12:21:46.762232+00:00 mx1", "2026-11-29T12:21:46.762232+00:00"),
        ("2026-11-29T13:21:46.5+01:00 mx1", "2026-11-29T12:21:46.5+00:00"),
        ("2026-11-29T12:21:46Z mx1", "2026-11-29T12:21:46+00:00"),
    ],
)
def test_time_stamp_formats(parser: LineParser, header: str, expected: str) -> None:
    ev = parser.parse(f"{header} postfix/qmgr[3]: 4F2A31C02B9: removed")
    assert isinstance(ev, Removed)
    assert ev.time == pytest.approx(ts(expected))
    assert ev.host == "mx1"


@pytest.mark.parametrize(
    "program", ["postfix-out/smtp", "postfix/submission/smtpd", "postfix/amavis/smtp"]
)
def test_multi_instance_program_names(parser: LineParser, program: str) -> None:
    if program.endswith("smtpd"):
        ev = parser.parse(f"{H} {program}[9]: 4F2A31C02B9: client=host.example[192.0.2.1]")
        assert isinstance(ev, Arrival)
        assert ev.client == "host.example[192.0.2.1]"
    else:
        ev = parser.parse(
            f"{H} {program}[9]: 4F2A31C02B9: to=<a@b.example>, relay=none, delay=1, "
            "delays=1/0/0/0, dsn=4.4.1, status=deferred (connect to b.example[192.0.2.2]:25: "
            "Connection refused)"
        )
        assert isinstance(ev, Delivery)
        assert ev.program == program


def test_queue_life(parser: LineParser) -> None:
    pick = parser.parse(f"{H} postfix/pickup[2]: 4F2A31C02B9: uid=1000 from=<joe@example.org>")
    assert isinstance(pick, Arrival)
    assert pick.sender == "joe@example.org"
    mid = parser.parse(f"{H} postfix/cleanup[2]: 4F2A31C02B9: message-id=<abc.123@example.org>")
    assert isinstance(mid, MessageInfo)
    assert mid.message_id == "abc.123@example.org"
    q = parser.parse(
        f"{H} postfix/qmgr[2]: 4F2A31C02B9: from=<joe@example.org>, size=4242, nrcpt=3 "
        "(queue active)"
    )
    assert isinstance(q, MessageInfo)
    assert (q.sender, q.size, q.nrcpt) == ("joe@example.org", 4242, 3)
    exp = parser.parse(
        f"{H} postfix/qmgr[2]: 4F2A31C02B9: from=<joe@example.org>, status=expired, "
        "returned to sender"
    )
    assert isinstance(exp, Expired)
    assert exp.sender == "joe@example.org"
    gone = parser.parse(f"{H} postfix/postsuper[2]: 4F2A31C02B9: removed")
    assert isinstance(gone, Removed)
    assert gone.by_admin is True


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("sender non-delivery notification: 68AF424356", "sender non-delivery notification"),
        ("sender delay notification: 0A87A1A08", "sender delay notification"),
        (
            "postmaster non-delivery notification: 47335405A44",
            "postmaster non-delivery notification",
        ),
        ("sender delivery status notification: 1DF35917", "sender delivery status notification"),
    ],
)
def test_bounce_notifications(parser: LineParser, text: str, kind: str) -> None:
    ev = parser.parse(f"{H} postfix/bounce[2]: 264FE1A18: {text}")
    assert isinstance(ev, Notification)
    assert ev.kind == kind
    assert ev.new_queue_id == text.rsplit(" ", 1)[1]


@pytest.mark.parametrize("action", ["requeued", "placed on hold", "released from hold"])
def test_postsuper_actions(parser: LineParser, action: str) -> None:
    ev = parser.parse(f"{H} postfix/postsuper[2]: D4F2023DB: {action}")
    assert isinstance(ev, QueueAction)
    assert ev.action == action


@pytest.mark.parametrize(
    "text",
    [
        "host mx.example.com[192.0.2.7] said: 421 4.7.0 Try again later (in reply to MAIL FROM command)",
        "host mg2.egov.bg[213.91.191.86] refused to talk to me: 450 4.3.2 try again later",
        "lost connection with mx3.hotmail.com[65.55.37.72] while receiving the initial server greeting",
        "conversation with mx00.gmx.com[74.208.5.4] timed out while receiving the initial server greeting",
    ],
)
def test_session_failures_with_queue_id(parser: LineParser, text: str) -> None:
    ev = parser.parse(f"{H} postfix/smtp[66]: B99FE3D: {text}")
    assert isinstance(ev, SessionNote)
    assert ev.queue_id == "B99FE3D"
    assert ev.text == text
    assert ev.pid == "66"


@pytest.mark.parametrize(
    "text",
    [
        "connect to intern.nl[194.109.6.98]:25: Connection timed out",
        "connect to mortou.biz[192.0.2.9]:25: Connection refused",
        "Host or domain name not found. Name service error for name=example.invalid type=MX: "
        "Host not found, try again",
        "SSL_connect error to mail.example.org[112.63.65.2]:25: lost connection",
        "certificate verification failed for mail.example.com[113.169.17.115]:25: self-signed "
        "certificate.",
    ],
)
def test_session_failures_without_queue_id(parser: LineParser, text: str) -> None:
    ev = parser.parse(f"{H} postfix/smtp[66]: {text}")
    assert isinstance(ev, SessionNote)
    assert ev.queue_id is None
    assert ev.text == text


def test_cleanup_reject(parser: LineParser) -> None:
    ev = parser.parse(
        f"{H} postfix/cleanup[2]: 4104E3D: milter-reject: END-OF-MESSAGE from x[1.2.3.4]: "
        "5.7.1 Blocked by SpamAssassin; from=<a@b> to=<c@d> proto=ESMTP helo=<e>"
    )
    assert isinstance(ev, Rejected)


@pytest.mark.parametrize(
    "line",
    [
        f"{H} postfix/smtpd[1]: connect from unknown[192.0.2.1]",
        f"{H} postfix/smtpd[1]: disconnect from unknown[192.0.2.1] ehlo=1 quit=1 commands=2",
        f"{H} postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[192.0.2.1]: 554 5.7.1 no; "
        "from=<a@b> to=<c@d> proto=ESMTP helo=<x>",
        f"{H} postfix/anvil[1]: statistics: max connection rate 1/60s for (smtp:192.0.2.1) at "
        "Nov 29 12:00:00",
        f"{H} postfix/smtp[1]: Trusted TLS connection established to mx[192.0.2.1]:25: TLSv1.3",
        f"{H} postfix/smtp[1]: warning: problem talking to service private/scache",
        f"{H} dovecot: imap(joe): Logged out",
        f"{H} postfix/cleanup[2]: 4F2A31C02B9: warning: header Subject: hi from x[1.2.3.4]; "
        "from=<a@b> to=<c@d>",
        f"{H} postfix/postsuper[2]: Deleted: 115 messages",
        "",
    ],
)
def test_ignored_lines_are_recognised(parser: LineParser, line: str) -> None:
    assert parser.parse(line) is None
    assert parser.counts.ignored == 1
    assert parser.counts.used == 0


@pytest.mark.parametrize(
    "line",
    [
        "garbage that is not a log line",
        f"{H} postfix/smtp[1]: 4F2A31C02B9: something postfix never says",
        f"{H} postfix/qmgr[1]: 4F2A31C02B9: from=<a@b>, size=x, nrcpt=1 (queue active)",
        "Feb 31 12:00:00 mx1 postfix/qmgr[1]: 4F2A31C02B9: removed",
    ],
)
def test_unknown_shapes_are_unparsed_not_dropped(parser: LineParser, line: str) -> None:
    with pytest.raises(UnparsableLine) as info:
        parser.parse(line, "in.log", 7)
    assert info.value.lineno == 7
    assert info.value.text == line
    assert parser.counts.unparsed == 1
    assert parser.counts.total == 1


def test_iso_header_and_year_do_not_interfere(parser: LineParser) -> None:
    ev = parser.parse("2025-12-31T23:59:59+00:00 mx1 postfix/qmgr[3]: 4F2A31C02B9: removed")
    assert isinstance(ev, Removed)
    assert datetime.fromtimestamp(ev.time, UTC).year == 2025


def test_inbound_rcpt_reject_after_queue_id_is_informational(parser: LineParser) -> None:
    line = (
        f"{H} postfix/smtpd[1]: 1D8CC1CA0A7F: reject: RCPT from x[192.0.2.1]: 550 5.1.1 <c@d>: "
        "Recipient address rejected: User unknown; from=<a@b> to=<c@d> proto=ESMTP helo=<x>"
    )
    assert parser.parse(line) is None
    assert parser.counts.ignored == 1


def test_content_hold_is_a_queue_action(parser: LineParser) -> None:
    line = (
        f"{H} postfix/cleanup[1]: 4F2A31C02B9: hold: header Subject: invoice from x[192.0.2.1]; "
        "from=<a@b> to=<c@d> proto=ESMTP helo=<x>: quarantine"
    )
    ev = parser.parse(line)
    assert isinstance(ev, QueueAction)
    assert ev.action.startswith("placed on hold (hold: header Subject")


def test_one_digit_day_without_padding(parser: LineParser) -> None:
    ev = parser.parse("Mar 7 02:09:33 mx1 postfix/qmgr[3]: 4F2A31C02B9: removed")
    assert isinstance(ev, Removed)
    assert ev.time == ts("2026-03-07T02:09:33+00:00")


def test_long_queue_ids(parser: LineParser) -> None:
    for qid in ("4dLbSL0hWBz9tJ", "ED06590130AA1C9D6D862"):
        ev = parser.parse(f"{H} postfix/qmgr[3]: {qid}: removed")
        assert isinstance(ev, Removed)
        assert ev.queue_id == qid


def test_content_filter_hop_is_a_handoff(parser: LineParser) -> None:
    """Real shape (shared corpus, amavis): the message goes on under 90284DE204C8."""
    line = (
        "Jun 14 12:02:41 mail postfix/amavis/smtp[720497]: 2E984DE204BF: to=<po10.zav@zdrav.spb.ru>, "
        "relay=127.0.0.1[127.0.0.1]:10024, delay=9.5, delays=0.5/0/0.01/9, dsn=2.0.0, status=sent "
        "(250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 90284DE204C8)"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.handoff is True


@pytest.mark.parametrize(
    "relay,reply",
    [
        ("127.0.0.8[127.0.0.8]:25", "250 2.0.0 Ok: queued as LAB597160012"),  # a relay on port 25
        ("mx.example.com[192.0.2.7]:25", "250 2.0.0 Ok: queued as 153053D"),  # a remote relay
        ("127.0.0.1[127.0.0.1]:10024", "250 2.0.0 Ok, discarded"),  # filter did not re-queue
    ],
)
def test_other_deliveries_are_not_handoffs(parser: LineParser, relay: str, reply: str) -> None:
    line = (
        f"{H} postfix/smtp[1]: 4F2A31C02B9: to=<a@b.example>, relay={relay}, delay=1, "
        f"delays=0/0/0/1, dsn=2.0.0, status=sent ({reply})"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.handoff is False
