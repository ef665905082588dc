"""Every OpenSMTPD line shape the tool relies on, through the grammar, field by field.

The 6.8 lines are real lines of the lab's OpenSMTPD 6.8.0p2 log (`sample_logs/opensmtpd`,
host renamed from the lab machine's); the 5.x lines (`smtp-in: Accepted message`, `relay:
TempFail for`, `delivery: Ok for`) follow the format strings of OpenSMTPD 5.9's source
(`mta.c` `mta_log`, `queue.c` `queue_log`, `mda.c` `mda_log`, `smtp_session.c`), as no
real 5.x log was at hand.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from lark import UnexpectedInput

from maillog_diag.core.model import (
    Arrival,
    Delivery,
    MessageInfo,
    Removed,
    SessionNote,
    Status,
)
from maillog_diag.errors import UnparsableLine
from maillog_diag.mta.opensmtpd import OpenSMTPDReader, duration_seconds
from maillog_diag.scan.lines import LineParser

H = "Dec  1 11:29:08 vm smtpd[8010]:"


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_smtp_message_is_the_arrival_with_the_sessions_client(parser: LineParser) -> None:
    assert (
        parser.parse(
            "Dec  1 11:28:51 vm smtpd[8010]: 97d7c9f2ae28d4da smtp connected "
            "address=local host=mail.example.net"
        )
        is None
    )
    ev = parser.parse(
        "Dec  1 11:28:51 vm smtpd[8010]: 97d7c9f2ae28d4da smtp message msgid=98659ed9 "
        "size=530 nrcpt=1 proto=ESMTP"
    )
    assert isinstance(ev, Arrival)
    assert ev.mta == "opensmtpd"
    assert (ev.host, ev.queue_id) == ("vm", "98659ed9")
    assert ev.time == ts("2026-12-01T11:28:51+00:00")
    assert (ev.size, ev.nrcpt, ev.client) == (530, 1, "local")
    assert ev.message_id is None  # OpenSMTPD's msgid is its own, not the Message-ID


def test_remote_client_is_name_and_address(parser: LineParser) -> None:
    parser.parse(f"{H} 1a2b3c4d5e6f7a8b smtp connected address=192.0.2.1 host=client.example.org")
    ev = parser.parse(f"{H} 1a2b3c4d5e6f7a8b smtp message msgid=0a1b2c3d size=2 nrcpt=3 proto=SMTP")
    assert isinstance(ev, Arrival)
    assert (ev.client, ev.nrcpt) == ("client.example.org[192.0.2.1]", 3)


def test_smtp_envelope_names_the_sender_of_its_message(parser: LineParser) -> None:
    ev = parser.parse(
        "Dec  1 11:28:52 vm smtpd[8010]: 97d7c9f64b5e9cc6 smtp envelope "
        "evpid=6729c39d8ae0adb4 from=<> to=<alice@sender.test>"
    )
    assert isinstance(ev, MessageInfo)
    assert (ev.queue_id, ev.sender) == ("6729c39d", "")


def test_mta_delivery_ok(parser: LineParser) -> None:
    ev = parser.parse(
        "Dec  1 11:28:53 vm smtpd[8010]: 97d7c9fe1f187c97 mta delivery evpid=fa255b7eef3513f1 "
        'from=<bob@sender.test> to=<anna@ok.test> rcpt=<-> source="127.0.0.1" '
        'relay="127.0.0.2 (127.0.0.2)" delay=0s result="Ok" '
        'stat="250 2.0.0 Ok: queued as LAB245330002"'
    )
    assert isinstance(ev, Delivery)
    assert (ev.queue_id, ev.recipient, ev.status) == ("fa255b7e", "anna@ok.test", Status.SENT)
    assert ev.orig_recipient is None
    assert ev.relay == "127.0.0.2[127.0.0.2]"
    assert (ev.dsn, ev.reply) == ("2.0.0", "250 2.0.0 Ok: queued as LAB245330002")
    assert ev.delay == 0.0
    assert ev.pid == "97d7c9fe1f187c97"  # the session: links its session notes


def test_mta_delivery_tempfail_keeps_the_whole_reply(parser: LineParser) -> None:
    ev = parser.parse(
        "Dec  1 11:29:06 vm smtpd[8010]: 97d7ca02697e93ab mta delivery evpid=b0e92080ab3bdfa2 "
        'from=<bob@sender.test> to=<ben@greylist.test> rcpt=<-> source="127.0.0.1" '
        'relay="127.0.0.3 (127.0.0.3)" delay=1s result="TempFail" '
        'stat="450 4.2.0 <ben@greylist.test>: Recipient address rejected: Greylisted for 60 seconds"'
    )
    assert isinstance(ev, Delivery)
    assert ev.status is Status.DEFERRED
    assert ev.reply == (
        "450 4.2.0 <ben@greylist.test>: Recipient address rejected: Greylisted for 60 seconds"
    )
    assert (ev.dsn, ev.delay) == ("4.2.0", 1.0)


def test_mta_delivery_permfail_is_a_bounce(parser: LineParser) -> None:
    ev = parser.parse(
        "Dec  1 11:29:05 vm smtpd[8010]: 97d7ca1d4a089126 mta delivery evpid=b0e92080f65bc388 "
        'from=<bob@sender.test> to=<nobody@bounce.test> rcpt=<-> source="127.0.0.1" '
        'relay="127.0.0.9 (127.0.0.9)" delay=0s result="PermFail" '
        'stat="550 5.1.1 <nobody@bounce.test>: Recipient address rejected: User unknown"'
    )
    assert isinstance(ev, Delivery)
    assert (ev.status, ev.dsn) == (Status.BOUNCED, "5.1.1")


def test_original_recipient_and_a_quote_inside_the_reply(parser: LineParser) -> None:
    ev = parser.parse(
        f"{H} 97d7ca02697e93ab mta delivery evpid=0a1b2c3d4e5f6a7b from=<a@x.example> "
        'to=<b@y.example> rcpt=<alias@x.example> source="192.0.2.1" '
        'relay="192.0.2.7 (mx.y.example)" delay=1d2h3m4s result="TempFail" '
        'stat="451 4.7.1 "quoted" words"'
    )
    assert isinstance(ev, Delivery)
    assert (ev.recipient, ev.orig_recipient) == ("b@y.example", "alias@x.example")
    assert ev.relay == "mx.y.example[192.0.2.7]"
    assert ev.reply == '451 4.7.1 "quoted" words'
    assert ev.delay == 86400 + 2 * 3600 + 3 * 60 + 4


def test_mda_delivery_is_a_local_delivery(parser: LineParser) -> None:
    ev = parser.parse(
        f"{H} 97d7ca02697e93ab mda delivery evpid=0a1b2c3d4e5f6a7b from=<a@x.example> "
        "to=<root@mx.example> rcpt=<postmaster@mx.example> user=root delay=2s result=Ok "
        "stat=Delivered"
    )
    assert isinstance(ev, Delivery)
    assert (ev.queue_id, ev.recipient, ev.orig_recipient) == (
        "0a1b2c3d",
        "root@mx.example",
        "postmaster@mx.example",
    )
    assert (ev.status, ev.reply, ev.delay, ev.relay) == (Status.SENT, "Delivered", 2.0, None)


def test_mda_delivery_without_rcpt(parser: LineParser) -> None:
    ev = parser.parse(
        f"{H} 97d7ca02697e93ab mda delivery evpid=0a1b2c3d4e5f6a7b from=<> "
        "to=<root@mx.example> user=root delay=0s result=TempFail stat=Error (mbox full)"
    )
    assert isinstance(ev, Delivery)
    assert (ev.status, ev.reply, ev.orig_recipient) == (
        Status.DEFERRED,
        "Error (mbox full)",
        None,
    )


def test_relay_failure_takes_the_receivers_words_from_the_failed_session(
    parser: LineParser,
) -> None:
    """A 421 banner: only the session's `mta error` line has it; the envelopes are failed
    later, without a session, with OpenSMTPD's summary."""
    for line in (
        "Dec  1 11:29:13 vm smtpd[8010]: 97d7ca2f24fa5f77 mta connecting "
        "address=smtp://127.0.0.10:25 host=127.0.0.10",
        "Dec  1 11:29:13 vm smtpd[8010]: 97d7ca2f24fa5f77 mta connected",
    ):
        assert parser.parse(line) is None
    note = parser.parse(
        "Dec  1 11:29:13 vm smtpd[8010]: 97d7ca2f24fa5f77 mta error reason=BANNER rejected: "
        "421 4.3.2 Service not available, closing transmission channel"
    )
    assert isinstance(note, SessionNote)
    assert (note.queue_id, note.pid) == (None, "97d7ca2f24fa5f77")
    assert note.text.startswith("BANNER rejected: 421 4.3.2")
    assert (
        parser.parse(
            "Dec  1 11:29:13 vm smtpd[8010]: smtp-out: Disabling route [] <-> 127.0.0.10 "
            "(127.0.0.10) for 15s"
        )
        is None
    )
    ev = parser.parse(
        "Dec  1 11:29:24 vm smtpd[8010]: 0000000000000000 mta delivery evpid=81720c9a28aad9b5 "
        'from=<alice@sender.test> to=<gus@busy.test> rcpt=<-> source="-" relay="127.0.0.10" '
        'delay=11s result="TempFail" stat="Network error on destination MXs"'
    )
    assert isinstance(ev, Delivery)
    assert ev.status is Status.DEFERRED
    assert ev.reply == (
        "BANNER rejected: 421 4.3.2 Service not available, closing transmission channel"
    )
    assert (ev.dsn, ev.stage, ev.relay) == ("4.3.2", "greeting", "127.0.0.10[127.0.0.10]")
    assert ev.pid == "97d7ca2f24fa5f77"  # the correlator attaches the session note
    assert ev.delay == 11.0


def test_refused_connection_is_a_connect_stage_failure(parser: LineParser) -> None:
    parser.parse(
        "Dec  1 11:29:08 vm smtpd[8010]: 97d7ca267d672e46 mta connecting "
        "address=smtp://127.0.0.11:25 host=127.0.0.11"
    )
    parser.parse(
        "Dec  1 11:29:08 vm smtpd[8010]: 97d7ca267d672e46 mta error reason=IO Error: "
        "Connection refused"
    )
    ev = parser.parse(
        "Dec  1 11:29:19 vm smtpd[8010]: 0000000000000000 mta delivery evpid=f80acb636b8fc055 "
        'from=<carol@sender.test> to=<hal@down.test> rcpt=<-> source="-" relay="127.0.0.11" '
        'delay=11s result="TempFail" stat="Network error on destination MXs"'
    )
    assert isinstance(ev, Delivery)
    assert (ev.reply, ev.stage) == ("IO Error: Connection refused", "connect")


def test_greeting_that_never_comes(parser: LineParser) -> None:
    """Connected, then 300 s of silence: the stage after the connection is not logged."""
    parser.parse(
        "Dec  1 11:29:10 vm smtpd[8010]: 97d7ca2b4bb6ea66 mta connecting "
        "address=smtp://127.0.0.12:25 host=127.0.0.12"
    )
    parser.parse("Dec  1 11:29:10 vm smtpd[8010]: 97d7ca2b4bb6ea66 mta connected")
    parser.parse(
        "Dec  1 11:34:10 vm smtpd[8010]: 97d7ca2b4bb6ea66 mta error reason=Connection timeout"
    )
    ev = parser.parse(
        "Dec  1 11:34:11 vm smtpd[8010]: 0000000000000000 mta delivery evpid=3ae96458a17349f3 "
        'from=<dave@sender.test> to=<ivy@slow.test> rcpt=<-> source="-" relay="127.0.0.12" '
        'delay=5m1s result="TempFail" stat="Network error on destination MXs"'
    )
    assert isinstance(ev, Delivery)
    assert (ev.reply, ev.stage, ev.delay) == ("Connection timeout", None, 301.0)


def test_relay_failure_is_not_linked_to_another_host_or_after_the_route_is_back(
    parser: LineParser,
) -> None:
    parser.parse(
        f"{H} 97d7ca267d672e46 mta connecting address=smtp://127.0.0.11:25 host=127.0.0.11"
    )
    parser.parse(f"{H} 97d7ca267d672e46 mta error reason=IO Error: Connection refused")
    other = parser.parse(
        f"{H} 0000000000000000 mta delivery evpid=81720c9a28aad9b5 from=<a@x.example> "
        'to=<gus@busy.test> rcpt=<-> source="-" relay="127.0.0.10" delay=11s '
        'result="TempFail" stat="Network error on destination MXs"'
    )
    assert isinstance(other, Delivery)
    assert (other.reply, other.pid, other.relay) == (
        "Network error on destination MXs",
        None,
        "127.0.0.10",
    )
    parser.parse(
        "Dec  1 11:29:23 vm smtpd[8010]: smtp-out: Enabling route [] <-> 127.0.0.11 (127.0.0.11)"
    )
    later = parser.parse(
        "Dec  1 11:29:55 vm smtpd[8010]: 0000000000000000 mta delivery evpid=2b1b2217a5cccfc1 "
        'from=<dave@sender.test> to=<hal@down.test> rcpt=<-> source="-" relay="127.0.0.11" '
        'delay=11s result="TempFail" stat="Network error on destination MXs"'
    )
    assert isinstance(later, Delivery)
    assert later.reply == "Network error on destination MXs"


def test_session_error_after_messages_sent(parser: LineParser) -> None:
    parser.parse(f"{H} 97d7ca392887f433 mta connecting address=smtp://127.0.0.6:25 host=127.0.0.6")
    note = parser.parse(
        "Dec  1 11:29:24 vm smtpd[8010]: smtp-out: Error on session 97d7ca392887f433 after 3 "
        "messages sent: IO Error: Connection reset by peer"
    )
    assert isinstance(note, SessionNote)
    assert (note.pid, note.text) == ("97d7ca392887f433", "IO Error: Connection reset by peer")


def test_dns_failure_delivery_has_opensmtpds_words(parser: LineParser) -> None:
    assert (
        parser.parse(
            "Dec  1 11:29:49 vm smtpd[8010]: smtp-out: Failed to resolve MX for "
            "[relay:example.com,smtp]: Temporary failure in MX lookup"
        )
        is None
    )
    ev = parser.parse(
        "Dec  1 11:29:49 vm smtpd[8010]: 0000000000000000 mta delivery evpid=ea821bdc07ae1442 "
        'from=<alice@sender.test> to=<someone@example.com> rcpt=<-> source="-" '
        'relay="example.com" delay=0s result="TempFail" stat="Temporary failure in MX lookup"'
    )
    assert isinstance(ev, Delivery)
    assert (ev.reply, ev.relay, ev.pid) == ("Temporary failure in MX lookup", "example.com", None)


def test_expiry_is_the_end_of_one_envelope(parser: LineParser) -> None:
    ev = parser.parse(
        f"{H} relay: Expire for 98659ed9c57a4c4f: from=<alice@sender.test>, "
        "to=<jo@expire.test>, rcpt=<->, delay=20m1s, stat=Envelope expired"
    )
    assert isinstance(ev, Delivery)
    assert (ev.queue_id, ev.recipient, ev.status) == ("98659ed9", "jo@expire.test", Status.EXPIRED)
    assert (ev.reply, ev.delay) == ("Envelope expired", 1201.0)


def test_admin_removal(parser: LineParser) -> None:
    ev = parser.parse(
        f"{H} relay: Remove for 98659ed9c57a4c4f: from=<alice@sender.test>, "
        "to=<jo@expire.test>, rcpt=<->, delay=3m, stat=Removed by administrator"
    )
    assert isinstance(ev, Removed)
    assert (ev.queue_id, ev.by_admin) == ("98659ed9", True)


def test_5x_accepted_message_is_the_arrival(parser: LineParser) -> None:
    parser.parse(
        f"{H} smtp-in: New session 4c9d5e6f7a8b9c0d from host client.example.org [192.0.2.1]"
    )
    ev = parser.parse(
        f"{H} smtp-in: Accepted message 1b2c3d4e on session 4c9d5e6f7a8b9c0d: "
        "from=<ann@example.org>, to=<bob@example.com>, size=2262, ndest=2, proto=ESMTP"
    )
    assert isinstance(ev, Arrival)
    assert (ev.queue_id, ev.sender, ev.size, ev.nrcpt) == (
        "1b2c3d4e",
        "ann@example.org",
        2262,
        2,
    )
    assert ev.client == "client.example.org[192.0.2.1]"


def test_5x_relay_verdicts(parser: LineParser) -> None:
    ev = parser.parse(
        f"{H} relay: TempFail for 1b2c3d4e5f6a7b8c: session=5d6e7f8091a2b3c4, "
        "from=<ann@example.org>, to=<bob@example.com>, rcpt=<->, source=192.0.2.1, "
        "relay=192.0.2.7 (mx.example.com), delay=1s, stat=451 4.7.1 Greylisted, try later"
    )
    assert isinstance(ev, Delivery)
    assert (ev.queue_id, ev.recipient, ev.status) == (
        "1b2c3d4e",
        "bob@example.com",
        Status.DEFERRED,
    )
    assert ev.reply == "451 4.7.1 Greylisted, try later"
    assert (ev.relay, ev.pid, ev.delay) == ("mx.example.com[192.0.2.7]", "5d6e7f8091a2b3c4", 1.0)
    ok = parser.parse(
        f"{H} delivery: Ok for 1b2c3d4e5f6a7b8d: from=<ann@example.org>, "
        "to=<root@mx.example>, user=root, method=mbox, delay=0s, stat=Delivered"
    )
    assert isinstance(ok, Delivery)
    assert (ok.status, ok.recipient, ok.reply) == (Status.SENT, "root@mx.example", "Delivered")


def test_5x_relay_failure_linked_to_the_session_error(parser: LineParser) -> None:
    parser.parse(
        f"{H} smtp-out: Connecting to smtp+tls://192.0.2.7:25 (mx.example.com) on session "
        "5d6e7f8091a2b3c4..."
    )
    parser.parse(f"{H} smtp-out: Error on session 5d6e7f8091a2b3c4: Connection refused")
    ev = parser.parse(
        f"{H} relay: TempFail for 1b2c3d4e5f6a7b8c: session=0000000000000000, "
        "from=<ann@example.org>, to=<bob@example.com>, rcpt=<->, source=-, "
        "relay=mx.example.com, delay=12s, stat=Network error on destination MXs"
    )
    assert isinstance(ev, Delivery)
    assert (ev.reply, ev.relay, ev.stage) == (
        "Connection refused",
        "mx.example.com[192.0.2.7]",
        "connect",
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (f"{H} 97d7ca267d672e46 smtp disconnected reason=quit", "opensmtpd inbound session"),
        (
            f'{H} 97d7ca267d672e46 smtp failed-command command="RCPT TO:<x@y>" '
            'result="550 Invalid recipient"',
            "opensmtpd inbound session",
        ),
        (
            f"{H} 97d7ca0895b91606 mta disconnected reason=quit messages=0",
            "opensmtpd outbound session",
        ),
        (f"{H} info: OpenSMTPD 6.8.0p2 starting", "opensmtpd daemon"),
        ("Dec  1 12:01:27 vm smtpd[8005]: Exiting", "opensmtpd daemon"),
        (f"{H} debug: mta: querying MX for example.com...", "opensmtpd debug"),
        (f"{H} smtp: 0x15d760462000: >>> 220 mx.example ESMTP OpenSMTPD", "opensmtpd trace"),
        (f"{H} mta: 0x15d760462000: STATE_INIT -> STATE_BANNER", "opensmtpd trace"),
        (
            f'{H} lookup: check "local" as NETADDR in table static:<anyhost> -> found',
            "opensmtpd trace",
        ),
        (f"{H} expand: lka_expand: address: a@x.example [depth=0]", "opensmtpd trace"),
        (f"{H} rule #2 matched: match from local for local => l01", "opensmtpd trace"),
        (f"{H} profile-queue: queue_envelope_walk 0.544201", "opensmtpd trace"),
        (
            f"{H} smtp-out: No valid route for [connector:[]->[relay:127.0.0.11,port=25,smtp,mx],0x0]",
            "opensmtpd outbound routing",
        ),
        (
            f"{H} smtp-out: Disabling route [] <-> 127.0.0.11 (127.0.0.11) for 15s",
            "opensmtpd route state",
        ),
        (
            f"{H} warn: TempFail injecting failure report on message 98659ed9 to "
            "<alice@sender.test> for 1 envelope: Envelope expired",
            "opensmtpd warning",
        ),
    ],
)
def test_lines_that_are_not_needed_are_ignored_with_a_reason(
    parser: LineParser, line: str, reason: str
) -> None:
    assert parser.parse(line) is None
    assert parser.counts.ignored_by_reason == {reason: 1}


@pytest.mark.parametrize(
    "line",
    [
        f'{H} 97d7ca267d672e46 mta delivery evpid=0a1b2c3d4e5f6a7b from=<a@b> garbage"',
        f"{H} 97d7ca267d672e46 mta teleported somewhere",
        f"{H} relay: Vanished for 0a1b2c3d4e5f6a7b: from=<a@b>, to=<c@d>, stat=?",
        f"{H} something OpenSMTPD never wrote",
    ],
)
def test_lines_of_no_known_shape_are_unparsed(parser: LineParser, line: str) -> None:
    with pytest.raises(UnparsableLine):
        parser.parse(line)
    assert parser.counts.unparsed == 1


def test_postfix_smtpd_is_not_claimed() -> None:
    from maillog_diag.input.timestamps import TimeParser, resolve_zone

    reader = OpenSMTPDReader(TimeParser(resolve_zone("UTC")))
    assert reader.claims("smtpd")
    assert not reader.claims("postfix/smtpd")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0s", 0.0), ("11s", 11.0), ("6m51s", 411.0), ("1h", 3600.0), ("2d3s", 172803.0),
     ("-5s", None), ("", None), ("5x", None), ("s", None)],
)  # fmt: skip
def test_duration_seconds(text: str, seconds: float | None) -> None:
    assert duration_seconds(text) == seconds


def test_lean_driver_agrees_with_lark_on_the_sample_log() -> None:
    """Lark's own parser, lexing the whole line from the grammar alone, builds the same event
    as the reader, which feeds the header, program and session id it already matched."""
    from pathlib import Path

    from maillog_diag.input.timestamps import TimeParser, YearInference, resolve_zone
    from maillog_diag.mta.opensmtpd import OpenSMTPDTransformer
    from maillog_diag.syntax.grammars import load_grammar

    log = Path(__file__).resolve().parent.parent / "sample_logs" / "opensmtpd" / "maillog"
    if not log.is_file():
        pytest.skip("no OpenSMTPD sample log")
    zone = resolve_zone("UTC")
    reader = OpenSMTPDReader(TimeParser(zone, YearInference(fixed=2026)))
    lark = load_grammar(
        "opensmtpd.lark", OpenSMTPDTransformer(TimeParser(zone, YearInference(fixed=2026)))
    )
    compared = 0
    for line in log.read_text().splitlines():
        head = line.index("smtpd[")
        program_end = line.index(": ", head) + 2
        ours = reader.parse_syslog(line, program_end, line[:head], line[head:program_end])
        if isinstance(ours, str):
            # ignored: by the pre-filter (the grammar has no shape for it) or by the
            # transformer after noting the session; Lark's side notes it too
            try:
                lark.parse(line)
            except UnexpectedInput:
                pass
            continue
        assert lark.parse(line) == ours, line
        compared += 1
    assert compared > 500


# --- from lines to messages ------------------------------------------------------------------


def _collect(tmp_path: object, text: str) -> list[object]:
    from pathlib import Path

    from maillog_diag.input.timestamps import resolve_zone
    from maillog_diag.scan.pipeline import ScanOptions, collect_messages

    path = Path(str(tmp_path)) / "maillog"
    path.write_text(text)
    messages, result = collect_messages(
        [str(path)], ScanOptions(zone=resolve_zone("UTC"), year=2026)
    )
    assert result.counts.unparsed == 0
    return list(messages)


S = "Dec  1 10:00:00 mx smtpd[1]: 1111111111111111"


def test_envelopes_link_recipients_to_their_message_which_closes_when_all_are_final(
    tmp_path: object,
) -> None:
    from maillog_diag.core.model import Message, Outcome

    log = "\n".join(
        [
            f"{S} smtp connected address=local host=mx.example",
            f"{S} smtp message msgid=0a1b2c3d size=500 nrcpt=2 proto=ESMTP",
            f"{S} smtp envelope evpid=0a1b2c3d00000001 from=<s@x.example> to=<a@y.example>",
            f"{S} smtp envelope evpid=0a1b2c3d00000002 from=<s@x.example> to=<b@y.example>",
            "Dec  1 10:00:01 mx smtpd[1]: 2222222222222222 mta delivery evpid=0a1b2c3d00000001 "
            'from=<s@x.example> to=<a@y.example> rcpt=<-> source="192.0.2.1" '
            'relay="192.0.2.7 (mx.y.example)" delay=1s result="TempFail" '
            'stat="450 4.2.0 Greylisted for 300 seconds"',
            "Dec  1 10:00:01 mx smtpd[1]: 2222222222222222 mta delivery evpid=0a1b2c3d00000002 "
            'from=<s@x.example> to=<b@y.example> rcpt=<-> source="192.0.2.1" '
            'relay="192.0.2.7 (mx.y.example)" delay=1s result="Ok" stat="250 2.0.0 Ok: queued as X1"',
            "Dec  1 10:06:40 mx smtpd[1]: 3333333333333333 mta delivery evpid=0a1b2c3d00000001 "
            'from=<s@x.example> to=<a@y.example> rcpt=<-> source="192.0.2.1" '
            'relay="192.0.2.7 (mx.y.example)" delay=6m40s result="Ok" stat="250 2.0.0 Ok: queued as X2"',
            # a later line of another program: the message was closed before the log ends
            "Dec  1 10:30:00 mx cron[9]: (root) CMD (true)",
        ]
    )
    (msg,) = _collect(tmp_path, log + "\n")
    assert isinstance(msg, Message)
    assert (msg.mta, msg.queue_id, msg.sender, msg.size, msg.client) == (
        "opensmtpd",
        "0a1b2c3d",
        "s@x.example",
        500,
        "local",
    )
    assert msg.removed_at == ts("2026-12-01T10:06:40+00:00")  # both envelopes final
    a, b = msg.recipients["a@y.example"], msg.recipients["b@y.example"]
    assert (a.outcome, a.deferrals, b.outcome, b.deferrals) == (
        Outcome.DELIVERED,
        1,
        Outcome.DELIVERED,
        0,
    )
    assert a.final_time is not None and msg.arrived is not None
    assert a.final_time - msg.arrived == 400.0


def test_a_message_whose_arrival_is_before_the_log_is_placed_by_delay(tmp_path: object) -> None:
    from maillog_diag.core.model import Message, Outcome

    log = (
        "Dec  1 10:26:40 mx smtpd[1]: 3333333333333333 mta delivery evpid=0a1b2c3d00000001 "
        'from=<s@x.example> to=<a@y.example> rcpt=<-> source="192.0.2.1" '
        'relay="192.0.2.7 (mx.y.example)" delay=26m40s result="Ok" stat="250 2.0.0 Ok"\n'
    )
    (msg,) = _collect(tmp_path, log)
    assert isinstance(msg, Message)
    assert (msg.arrival_seen, msg.arrived) == (False, ts("2026-12-01T10:00:00+00:00"))
    assert msg.recipients["a@y.example"].outcome is Outcome.DELIVERED


def test_one_envelope_expires_the_other_is_delivered(tmp_path: object) -> None:
    from maillog_diag.core.model import Message, Outcome

    log = "\n".join(
        [
            f"{S} smtp message msgid=0a1b2c3d size=500 nrcpt=2 proto=ESMTP",
            f"{S} smtp envelope evpid=0a1b2c3d00000001 from=<s@x.example> to=<a@y.example>",
            f"{S} smtp envelope evpid=0a1b2c3d00000002 from=<s@x.example> to=<b@z.example>",
            "Dec  1 10:00:01 mx smtpd[1]: 2222222222222222 mta delivery evpid=0a1b2c3d00000002 "
            'from=<s@x.example> to=<b@z.example> rcpt=<-> source="192.0.2.1" '
            'relay="192.0.2.8 (mx.z.example)" delay=1s result="Ok" stat="250 2.0.0 Ok"',
            "Dec  1 10:00:01 mx smtpd[1]: 2222222222222223 mta delivery evpid=0a1b2c3d00000001 "
            'from=<s@x.example> to=<a@y.example> rcpt=<-> source="192.0.2.1" '
            'relay="192.0.2.7 (mx.y.example)" delay=1s result="TempFail" stat="451 4.3.0 later"',
            "Dec  1 10:20:00 mx smtpd[2]: relay: Expire for 0a1b2c3d00000001: "
            "from=<s@x.example>, to=<a@y.example>, rcpt=<->, delay=20m, stat=Envelope expired",
        ]
    )
    (msg,) = _collect(tmp_path, log + "\n")
    assert isinstance(msg, Message)
    a, b = msg.recipients["a@y.example"], msg.recipients["b@z.example"]
    assert (a.outcome, b.outcome) == (Outcome.EXPIRED, Outcome.DELIVERED)
    assert a.final_time == ts("2026-12-01T10:20:00+00:00")
    assert msg.expired_at is None  # per envelope: the message as a whole did not expire


def _session_failure(parser: LineParser, sid: str, address: str, name: str, reason: str) -> None:
    for text in (
        f"{sid} mta connecting address=smtp://{address}:25 host={name}",
        f"{sid} mta connected",
        f"{sid} mta error reason={reason}",
        f"smtp-out: Disabling route [] <-> {address} ({name}) for 15s",
    ):
        assert not isinstance(parser.parse(f"{H} {text}"), Delivery)


NETWORK_ERROR = (
    f"{H} 0000000000000000 mta delivery evpid=0a1b2c3d4e5f6a7b from=<a@x.example> "
    'to=<b@example.com> rcpt=<-> source="-" relay="example.com" delay=11s '
    'result="TempFail" stat="Network error on destination MXs"'
)


def test_mx_relay_failure_is_linked_through_its_one_disabled_route(parser: LineParser) -> None:
    """With MX relaying the delivery names the domain and the session the MX host: OpenSMTPD's
    `No valid route for [connector:...[relay:<domain>...]]` says that every route of that
    relay is out of use; when only one route is, it is that route's failure."""
    _session_failure(
        parser, "97d7ca2f24fa5f77", "192.0.2.7", "mx7.example.net", "BANNER rejected: 421 busy"
    )
    assert (
        parser.parse(
            f"{H} smtp-out: No valid route for [connector:[]->[relay:example.com,smtp,mx],0x0]"
        )
        is None
    )
    ev = parser.parse(NETWORK_ERROR)
    assert isinstance(ev, Delivery)
    assert (ev.reply, ev.relay, ev.pid) == (
        "BANNER rejected: 421 busy",
        "mx7.example.net[192.0.2.7]",
        "97d7ca2f24fa5f77",
    )


def test_mx_relay_failure_is_not_linked_when_several_routes_are_out(parser: LineParser) -> None:
    _session_failure(parser, "97d7ca2f24fa5f77", "192.0.2.7", "mx7.example.net", "IO Error: a")
    _session_failure(parser, "97d7ca2f24fa5f78", "192.0.2.8", "mx8.other.example", "IO Error: b")
    parser.parse(
        f"{H} smtp-out: No valid route for [connector:[]->[relay:example.com,smtp,mx],0x0]"
    )
    ev = parser.parse(NETWORK_ERROR)
    assert isinstance(ev, Delivery)
    assert (ev.reply, ev.pid) == ("Network error on destination MXs", None)


def test_mx_relay_link_ends_when_the_route_is_back(parser: LineParser) -> None:
    _session_failure(parser, "97d7ca2f24fa5f77", "192.0.2.7", "mx7.example.net", "IO Error: a")
    parser.parse(
        f"{H} smtp-out: No valid route for [connector:[]->[relay:example.com,smtp,mx],0x0]"
    )
    parser.parse(f"{H} smtp-out: Enabling route [] <-> 192.0.2.7 (mx7.example.net)")
    ev = parser.parse(NETWORK_ERROR)
    assert isinstance(ev, Delivery)
    assert ev.reply == "Network error on destination MXs"


def test_postfix_smtpd_and_opensmtpd_smtpd_in_one_file(parser: LineParser) -> None:
    """Postfix's `postfix/smtpd` and OpenSMTPD's `smtpd` share a daemon name, not a program."""
    assert (
        parser.parse(
            "Dec  1 10:00:00 mx postfix/smtpd[77]: 4F2A31C02B9: client=c.example[192.0.2.1]"
        ).mta  # type: ignore[union-attr]
        == "postfix"
    )
    ev = parser.parse(f"{H} 1111111111111111 smtp message msgid=0a1b2c3d size=1 nrcpt=1 proto=SMTP")
    assert isinstance(ev, Arrival) and ev.mta == "opensmtpd"


def test_a_content_filter_on_this_host_is_a_hand_off(parser: LineParser) -> None:
    """A filter on loopback at a port other than 25 (DKIM signing, scanning) takes the mail
    and submits it again under a new message id: that is not a delivery to the recipient's
    domain (as `Delivery.handoff` says for Postfix's content filters). Lines in the shape of
    OpenSMTPD 6.x's (its own 250 names the new message id)."""
    parser.parse(
        f"{H} 5d0000000000000b mta connecting address=smtp://127.0.0.1:10027 host=localhost"
    )
    parser.parse(f"{H} 5d0000000000000b mta connected")
    hop = parser.parse(
        f"{H} 5d0000000000000b mta delivery evpid=3d4c4a424797fe79 from=<a@x.example> "
        'to=<b@y.example> rcpt=<-> source="127.0.0.1" relay="127.0.0.1 (localhost)" delay=0s '
        'result="Ok" stat="250 2.0.0: f6e94209 Message accepted for delivery"'
    )
    assert isinstance(hop, Delivery)
    assert (hop.status, hop.handoff) == (Status.SENT, True)
    parser.parse(
        f"{H} 5d0000000000000c mta connecting address=smtp://192.0.2.7:25 host=mx.y.example"
    )
    out = parser.parse(
        f"{H} 5d0000000000000c mta delivery evpid=f6e94209918f7e7b from=<a@x.example> "
        'to=<b@y.example> rcpt=<-> source="192.0.2.1" relay="192.0.2.7 (mx.y.example)" delay=2s '
        'result="Ok" stat="250 2.0.0 OK queued"'
    )
    assert isinstance(out, Delivery)
    assert out.handoff is False


def test_a_relay_on_loopback_port_25_is_a_delivery(parser: LineParser) -> None:
    parser.parse(f"{H} 5d0000000000000d mta connecting address=smtp://127.0.0.2:25 host=127.0.0.2")
    ev = parser.parse(
        f"{H} 5d0000000000000d mta delivery evpid=fa255b7eef3513f1 from=<bob@sender.test> "
        'to=<anna@ok.test> rcpt=<-> source="127.0.0.1" relay="127.0.0.2 (127.0.0.2)" delay=0s '
        'result="Ok" stat="250 2.0.0 Ok: queued as LAB245330002"'
    )
    assert isinstance(ev, Delivery)
    assert ev.handoff is False


@pytest.mark.parametrize(
    "sender",
    [
        "stat=Ok@evil.example",  # a key's name inside the address
        "a, to=<x@evil.example>, b@evil.example",  # a whole field inside it
        "a, stat=250 delivered, b@evil.example",
    ],
)
def test_5x_fields_are_not_taken_from_inside_the_sender_address(
    parser: LineParser, sender: str
) -> None:
    """The sender address is a stranger's to choose: the `key=value` words inside its
    brackets are part of it, not fields of the line (they took the recipient's place, or
    ended the line's fields early)."""
    ev = parser.parse(
        f"{H} relay: TempFail for 1b2c3d4e5f6a7b8c: session=5d6e7f8091a2b3c4, "
        f"from=<{sender}>, to=<bob@example.com>, rcpt=<->, source=192.0.2.1, "
        "relay=192.0.2.7 (mx.example.com), delay=1s, stat=451 4.7.1 Greylisted, try later"
    )
    assert isinstance(ev, Delivery)
    assert (ev.recipient, ev.status, ev.reply) == (
        "bob@example.com",
        Status.DEFERRED,
        "451 4.7.1 Greylisted, try later",
    )
    assert (ev.relay, ev.delay) == ("mx.example.com[192.0.2.7]", 1.0)
    arrival = parser.parse(
        f"{H} smtp-in: Accepted message 1b2c3d4e on session 4c9d5e6f7a8b9c0d: "
        f"from=<{sender}>, to=<bob@example.com>, size=2262, ndest=2, proto=ESMTP"
    )
    assert isinstance(arrival, Arrival)
    assert (arrival.sender, arrival.size, arrival.nrcpt) == (sender, 2262, 2)
