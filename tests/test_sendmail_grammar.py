"""Every Sendmail line shape the tool relies on, through the grammar, field by field."""

from __future__ import annotations

from datetime import datetime

import pytest

from maillog_diag.core.model import (
    Arrival,
    Delivery,
    Expired,
    Notification,
    QueueAction,
    Removed,
    SessionNote,
    Status,
)
from maillog_diag.errors import UnparsableLine
from maillog_diag.mta.sendmail import delay_seconds
from maillog_diag.scan.lines import LineParser

H = "Nov 29 12:00:01 mx1"
Q = "j061bXn5000812"


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_from_line_is_the_arrival(parser: LineParser) -> None:
    line = (
        f"{H} sm-mta[812]: {Q}: from=<ann@example.org>, size=2262, class=0, nrcpts=2, "
        "msgid=<200501060137.j061bW9V000809@example.org>, bodytype=8BITMIME, proto=ESMTP, "
        "daemon=MTA, tls_verify=NONE, auth=NONE, relay=mail.example.org [192.0.2.7] (may be forged)"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Arrival)
    assert ev.mta == "sendmail"
    assert (ev.host, ev.queue_id) == ("mx1", Q)
    assert ev.time == ts("2026-11-29T12:00:01+00:00")
    assert ev.sender == "ann@example.org"
    assert ev.size == 2262
    assert ev.nrcpt == 2
    assert ev.message_id == "200501060137.j061bW9V000809@example.org"
    assert ev.client == "mail.example.org[192.0.2.7]"


def test_local_submission_from_line(parser: LineParser) -> None:
    line = (
        f"{H} sendmail[809]: {Q}: from=maddingue, size=2039, class=0, nrcpts=1, "
        "msgid=<x@jupiter.example>, relay=maddingue@localhost"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Arrival)
    assert ev.sender == "maddingue"
    assert ev.client == "maddingue@localhost"


def test_from_line_with_no_accepted_recipient_is_ignored(parser: LineParser) -> None:
    line = (
        f"{H} sm-mta[2794]: {Q}: from=<root@x.example>, size=108, class=0, nrcpts=0, "
        "proto=ESMTP, daemon=MTA-v4, relay=[192.168.1.45]"
    )
    assert parser.parse(line) is None
    assert parser.counts.ignored == 1


def test_sent(parser: LineParser) -> None:
    line = (
        f"{H} sm-mta[814]: {Q}: to=<bob@example.com>, delay=00:00:10, xdelay=00:00:10, "
        "mailer=esmtp, pri=30373, relay=mx.example.com. [192.0.2.9], dsn=2.0.0, "
        "stat=Sent (Ok: queued as 4F2A (see <x@y>))"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.status is Status.SENT
    assert ev.recipient == "bob@example.com"
    assert ev.relay == "mx.example.com[192.0.2.9]"
    assert ev.dsn == "2.0.0"
    assert ev.reply == "Ok: queued as 4F2A (see <x@y>)"
    assert ev.delay == 10.0
    assert ev.delays == "xdelay=00:00:10"
    assert (ev.program, ev.pid) == ("sm-mta", "814")
    assert not ev.handoff and not ev.suspended and ev.also == ()


def test_several_recipients_in_one_line(parser: LineParser) -> None:
    line = (
        f"{H} sendmail[32302]: {Q}: to=<sent1@example.com>,<sent2@example.com>, "
        "delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=245938, "
        "relay=[93.184.216.34] [93.184.216.34], dsn=2.0.0, stat=Sent (ok:  Message 40279894 accepted)"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.recipient == "sent1@example.com"
    assert ev.also == ("sent2@example.com",)
    assert ev.relay == "[93.184.216.34]"


def test_local_mailer_with_ctladdr(parser: LineParser) -> None:
    line = (
        f"{H} sendmail[32302]: {Q}: to=root@localhost.localdomain, "
        "ctladdr=root@localhost.localdomain (0/0), delay=00:00:00, xdelay=00:00:00, "
        "mailer=local, pri=245938, dsn=2.0.0, stat=Sent"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.status is Status.SENT
    assert ev.recipient == "root@localhost.localdomain"
    assert ev.reply is None and ev.relay is None


@pytest.mark.parametrize(
    ("stat", "dsn", "status", "reply"),
    [
        (
            "Deferred: 451 4.3.5 Server configuration problem",
            "4.3.5",
            Status.DEFERRED,
            "451 4.3.5 Server configuration problem",
        ),
        (
            "Deferred: Connection timed out with mx.example.com.",
            "4.0.0",
            Status.DEFERRED,
            "Connection timed out with mx.example.com.",
        ),
        (
            "Deferred: Connection refused by mx.example.com.",
            "4.0.0",
            Status.DEFERRED,
            "Connection refused by mx.example.com.",
        ),
        ("User unknown", "5.1.1", Status.BOUNCED, "User unknown"),
        ("Service unavailable", "5.0.0", Status.BOUNCED, "Service unavailable"),
        (
            "Host unknown (Name server: nowhere.example.: host not found)",
            "5.1.2",
            Status.BOUNCED,
            "Host unknown (Name server: nowhere.example.: host not found)",
        ),
        ("Data format error", "4.0.0", Status.DEFERRED, "Data format error"),
        (
            "Cannot send message for 5 days",
            "4.4.7",
            Status.EXPIRED,
            "Cannot send message for 5 days",
        ),
    ],
)
def test_verdicts(parser: LineParser, stat: str, dsn: str, status: Status, reply: str) -> None:
    line = (
        f"{H} sm-mta[900]: {Q}: to=<bob@example.com>, delay=1+02:03:04, xdelay=00:01:15, "
        f"mailer=esmtp, pri=120373, relay=mx.example.com., dsn={dsn}, stat={stat}"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.status is status
    assert ev.reply == reply
    assert ev.dsn == dsn
    assert ev.delay == 86400 + 2 * 3600 + 3 * 60 + 4
    assert ev.relay == "mx.example.com"


def test_host_status_cache_deferral_is_suspended_with_the_original_reason(
    parser: LineParser,
) -> None:
    tried = (
        f"{H} sm-mta[900]: {Q}: to=<a@down.example>, delay=00:00:05, xdelay=00:00:05, "
        "mailer=esmtp, pri=120373, relay=mx.down.example. [192.0.2.30], dsn=4.0.0, "
        "stat=Deferred: Connection timed out with mx.down.example."
    )
    cached = (
        f"{H} sm-mta[901]: j061bXn5000999: to=<b@down.example>, delay=00:00:01, "
        "xdelay=00:00:00, mailer=esmtp, pri=120373, relay=mx.down.example., dsn=4.0.0, "
        "stat=Deferred: Connection timed out with mx.down.example."
    )
    first, second = parser.parse(tried), parser.parse(cached)
    assert isinstance(first, Delivery) and isinstance(second, Delivery)
    assert first.suspended is False
    assert second.suspended is True
    assert second.reply == first.reply == "Connection timed out with mx.down.example."


def test_host_status_cache_bare_deferred_is_suspended(parser: LineParser) -> None:
    tried = (
        f"{H} sm-mta[6394]: 6ATEHmDM006392: to=<gus@busy.test>, delay=00:00:00, "
        "xdelay=00:00:00, mailer=esmtp, pri=30482, relay=[127.0.0.10] [127.0.0.10], "
        "dsn=4.5.0, reply=421 4.3.2 Service not available, closing transmission channel, "
        "stat=Deferred: 421 4.3.2 Service not available, closing transmission channel"
    )
    cached = (
        f"{H} sm-mta[6467]: 6ATEHmDM006399: to=<gil@busy.test>, delay=00:00:06, "
        "xdelay=00:00:00, mailer=esmtp, pri=120482, relay=[127.0.0.10], dsn=4.5.0, "
        "stat=Deferred"
    )
    first, second = parser.parse(tried), parser.parse(cached)
    assert isinstance(first, Delivery) and isinstance(second, Delivery)
    assert not first.suspended and second.suspended
    assert first.reply == "421 4.3.2 Service not available, closing transmission channel"
    # names no cause itself: it repeats the failure at the same relay (another message's
    # here: the host status is shared), not the recipient's previous cause (issue 9)
    assert second.reply == first.reply and second.dsn == "4.5.0"


def test_lab_connection_refused_then_cached(parser: LineParser) -> None:
    lines = [
        f"{H} sm-mta[6221]: 6ATEHhx1006219: to=<hal@down.test>, delay=00:00:00, "
        "xdelay=00:00:00, mailer=esmtp, pri=30489, relay=[127.0.0.11] [127.0.0.11], "
        "dsn=4.4.1, stat=Deferred: Connection refused by [127.0.0.11]",
        f"{H} sm-mta[6225]: 6ATEHh9H006223: to=<hank@down.test>, delay=00:00:00, "
        "xdelay=00:00:00, mailer=esmtp, pri=30547, relay=[127.0.0.11], dsn=4.4.1, "
        "stat=Deferred: Connection refused by [127.0.0.11]",
    ]
    events = [parser.parse(line) for line in lines]
    assert [isinstance(e, Delivery) and e.suspended for e in events] == [False, True]
    assert all(
        isinstance(e, Delivery) and e.reply == "Connection refused by [127.0.0.11]" for e in events
    )


@pytest.mark.parametrize(
    ("relay", "xdelay", "stat"),
    [
        ("[127.0.0.11] [127.0.0.11]", "00:00:00", "Deferred: Connection refused by [127.0.0.11]"),
        ("mx.b.example.", "00:00:03", "Deferred: Connection refused by mx.b.example."),
        ("mx.b.example.", "00:00:00", "Deferred: 451 4.3.0 Try later"),
    ],
)
def test_real_attempts_are_not_suspended(
    parser: LineParser, relay: str, xdelay: str, stat: str
) -> None:
    line = (
        f"{H} sm-mta[900]: {Q}: to=<a@b.example>, delay=00:00:05, xdelay={xdelay}, "
        f"mailer=esmtp, pri=1, relay={relay}, dsn=4.0.0, stat={stat}"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.suspended is False


def test_failure_with_the_receivers_reply(parser: LineParser) -> None:
    line = (
        f"{H} sendmail[4715]: 6ATEGMFO004715: to=jo@expire.test, ctladdr=alice@sender.test (0/0), "
        "delay=00:00:00, xdelay=00:00:00, mailer=relay, pri=30360, relay=[127.0.0.1] [127.0.0.1], "
        "dsn=5.1.8, reply=553 5.1.8 <alice@sender.test>... Domain of sender address, really, "
        "does not exist, stat=Data format error"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.status is Status.BOUNCED
    assert ev.dsn == "5.1.8"
    assert ev.relay == "[127.0.0.1]"
    assert ev.reply == (
        "553 5.1.8 <alice@sender.test>... Domain of sender address, really, does not exist"
    )
    assert ev.handoff is False


def test_deferral_reason_from_the_whole_reply_not_the_cut_stat(parser: LineParser) -> None:
    line = (
        f"{H} sm-mta[6033]: 6ATEHQPk006031: to=<jo@expire.test>, delay=00:00:00, "
        "xdelay=00:00:00, mailer=esmtp, pri=30490, relay=[127.0.0.13] [127.0.0.13], dsn=4.2.2, "
        "reply=450 4.2.2 <jo@expire.test>: Recipient address rejected: Mailbox over quota, "
        "try again later, stat=Deferred: 450 4.2.2 <jo@expire.test>: Recipient addres"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.status is Status.DEFERRED
    assert ev.reply == (
        "450 4.2.2 <jo@expire.test>: Recipient address rejected: Mailbox over quota, "
        "try again later"
    )
    assert ev.relay == "[127.0.0.13]"


def test_queued_is_not_an_attempt(parser: LineParser) -> None:
    line = (
        f"{H} sm-mta[900]: {Q}: to=<bob@example.com>, delay=00:00:00, mailer=esmtp, "
        "pri=30373, stat=queued"
    )
    ev = parser.parse(line)
    assert isinstance(ev, QueueAction)
    assert ev.action == "queued for <bob@example.com>"


def test_submission_queue_hands_off_to_the_local_mta(parser: LineParser) -> None:
    line = (
        f"{H} sm-msp-queue[809]: j061bW9V000809: to=cpan-testers@perl.org, "
        "ctladdr=maddingue (501/20), delay=00:00:01, xdelay=00:00:00, mailer=relay, "
        "pri=30151, relay=localhost [127.0.0.1], dsn=2.0.0, "
        "stat=Sent (j061bXn5000812 Message accepted for delivery)"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.status is Status.SENT
    assert ev.handoff is True
    assert ev.relay == "localhost[127.0.0.1]"


def test_remote_sendmail_accepting_is_not_a_handoff(parser: LineParser) -> None:
    line = (
        f"{H} sm-mta[814]: {Q}: to=<a@b.example>, delay=00:00:01, xdelay=00:00:01, "
        "mailer=esmtp, pri=1, relay=mx.b.example. [192.0.2.9], dsn=2.0.0, "
        "stat=Sent (j4K6MJcE012524 Message accepted for delivery)"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Delivery)
    assert ev.handoff is False


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("DSN: Service unavailable", "sender non-delivery notification"),
        ("DSN: Return receipt", "sender delivery status notification"),
        ("DSN: Warning: could not send message for past 4 hours", "sender delay notification"),
        (
            "sender notify: Warning: could not send message for past 4 hours",
            "sender delay notification",
        ),
        ("postmaster notify: Data format error", "postmaster non-delivery notification"),
        ("return to sender: Service unavailable", "sender non-delivery notification"),
    ],
)
def test_notices(parser: LineParser, text: str, kind: str) -> None:
    ev = parser.parse(f"{H} sendmail[28499]: j4K970hV028494: j4K975hV028499: {text}")
    assert isinstance(ev, Notification)
    assert ev.queue_id == "j4K970hV028494"
    assert ev.new_queue_id == "j4K975hV028499"
    assert ev.kind == kind


@pytest.mark.parametrize("kind", ["return to sender", "DSN", "sender notify"])
def test_queue_lifetime_reached(parser: LineParser, kind: str) -> None:
    ev = parser.parse(
        f"{H} sendmail[376]: j4EGMdrM030190: j4IIMlJ5000376: {kind}: Cannot send message for 4 days"
    )
    assert isinstance(ev, Expired)
    assert ev.queue_id == "j4EGMdrM030190"
    assert ev.notice_queue_id == "j4IIMlJ5000376"


def test_done(parser: LineParser) -> None:
    ev = parser.parse(f"{H} sm-mta[13198]: {Q}: done; delay=00:00:01, ntries=1")
    assert isinstance(ev, Removed)


@pytest.mark.parametrize(
    "text",
    [
        "mx.example.com.: SMTP DATA-2 protocol error: 571 Message Refused",
        "timeout waiting for input from mx.example.com. during client greeting",
    ],
)
def test_outbound_session_notes(parser: LineParser, text: str) -> None:
    ev = parser.parse(f"{H} sm-mta[900]: {Q}: {text}")
    assert isinstance(ev, SessionNote)
    assert ev.text == text and ev.pid == "900"


@pytest.mark.parametrize(
    "text",
    [
        f"{Q}: ruleset=check_rcpt, arg1=<a@b.example>, relay=x [192.0.2.1], reject=553 5.1.8 <a@b.example>... Domain does not exist",
        f"{Q}: <nobody@example.edu>... User unknown",
        f"{Q}: Milter: no active filter",
        f"{Q}: lost input channel from x.example [192.0.2.1] to MTA after rcpt",
        f"{Q}: x.example [192.0.2.1] (may be forged) did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA",
        f"{Q}: [192.0.2.1]: possible SMTP attack: command=AUTH, count=5",
        f"{Q}: timeout waiting for input from [61.250.1.2] during message collect",
        f"{Q}: SMTP outgoing connect on [192.168.198.81]",
        f"{Q}: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): user not found",
        f"{Q}: collect: premature EOM: unexpected close",
        f"{Q}[2]: continued text of a long line",
        f"{Q}: h9NL1K9M013891: clone: owner=Postmaster",
        "starting daemon (8.17.1.9): SMTP+queueing@00:10:00",
        "NOQUEUE: connect from [192.0.2.1]",
        "STARTTLS=client, relay=mx.example.com., version=TLSv1.3, verify=FAIL",
    ],
)
def test_ignored_lines(parser: LineParser, text: str) -> None:
    assert parser.parse(f"{H} sm-mta[900]: {text}") is None
    assert parser.counts.ignored == 1
    assert parser.counts.unparsed == 0


def test_syslog_priority_tag(parser: LineParser) -> None:
    line = f"Jun 17 14:37:39 <mail.info> robin sm-mta[2794]: {Q}: done; delay=00:00:01, ntries=1"
    ev = parser.parse(line)
    assert isinstance(ev, Removed)
    assert ev.host == "robin"
    assert ev.time == ts("2026-06-17T14:37:39+00:00")


def test_rfc3339_header(parser: LineParser) -> None:
    ev = parser.parse(
        f"2026-11-29T12:00:01.5+01:00 mx1 sm-mta[13198]: {Q}: done; delay=00:00:01, ntries=1"
    )
    assert isinstance(ev, Removed)
    assert ev.time == ts("2026-11-29T12:00:01.5+01:00")


def test_unknown_message_line_is_unparsed(parser: LineParser) -> None:
    with pytest.raises(UnparsableLine):
        parser.parse(f"{H} sm-mta[900]: {Q}: this is not a line sendmail writes")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:00:10", 10.0), ("01:02:03", 3723.0), ("2+00:00:01", 172801.0), ("x", None), (None, None)],
)
def test_delays(text: str | None, seconds: float | None) -> None:
    assert delay_seconds(text) == seconds


def test_line_time_of_tagged_lines(parser: LineParser) -> None:
    from maillog_diag.mta.sendmail import SendmailReader

    sendmail = SendmailReader(parser.time_parser)
    line = f"Jun 17 14:37:39 <mail.info> robin sm-mta[2794]: {Q}: x"
    assert sendmail.line_time(line) == ts("2026-06-17T14:37:39+00:00")
    assert sendmail.line_time("2026-11-29 12:00:01 1kXyZa-0001Ab-Cd Completed") is None


DEFERRED = (
    f"{H} sm-mta[6033]: {Q}: to=<jo@expire.test>, ctladdr=<ann@example.org> (1000/1000), "
    "delay=00:00:00, xdelay=00:00:00, mailer=esmtp, pri=30490, relay=[127.0.0.13] [127.0.0.13], "
    "dsn=4.2.2, reply={reply}, stat=Deferred: {reply}"
)


@pytest.mark.parametrize(
    "reply",
    [
        "450 4.2.2 try again later",
        "450 4.2.2 try later, stat=Sent (ok)",  # the words of a status in the reply
        "450 4.2.2 x, dsn=2.0.0, stat=Sent",
        "450 4.2.2 x, stat=Deferred: 250 2.0.0 ok",
    ],
)
def test_a_reply_that_holds_a_status_is_still_a_deferral(parser: LineParser, reply: str) -> None:
    """The receiver's reply (`reply=`, a stranger's text) comes before Sendmail's own
    `stat=`: a `, stat=Sent` inside it does not make the deferral a delivery, and the reply
    is read whole."""
    ev = parser.parse(DEFERRED.format(reply=reply))
    assert isinstance(ev, Delivery)
    assert (ev.status, ev.recipient, ev.dsn, ev.reply) == (
        Status.DEFERRED,
        "jo@expire.test",
        "4.2.2",
        reply,
    )


@pytest.mark.parametrize(
    "sender", ["a, size=1, nrcpts=9, b@evil.example", "x, msgid=<fake@id>, relay=evil@evil.example"]
)
def test_fields_are_not_taken_from_inside_the_sender_address(
    parser: LineParser, sender: str
) -> None:
    """The sender address is a stranger's to choose: `key=value` words inside its brackets
    are part of it (they set the size, the recipient count and the client)."""
    line = (
        f"{H} sm-mta[812]: {Q}: from=<{sender}>, size=2262, class=0, nrcpts=2, "
        "msgid=<m1@example.org>, proto=ESMTP, daemon=MTA, relay=mail.example.org [192.0.2.7]"
    )
    ev = parser.parse(line)
    assert isinstance(ev, Arrival)
    assert (ev.sender, ev.size, ev.nrcpt, ev.message_id, ev.client) == (
        sender,
        2262,
        2,
        "m1@example.org",
        "mail.example.org[192.0.2.7]",
    )
