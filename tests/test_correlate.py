"""Linking lines into messages and recipients: partial success, reuse, expiry, held, unknown."""

from __future__ import annotations

from pathlib import Path

from maillog_diag.core.analysis import held_seconds
from maillog_diag.core.model import Message, Outcome
from maillog_diag.input.timestamps import resolve_zone
from maillog_diag.scan.pipeline import ScanOptions, collect_messages, scan_partial

OPTS = ScanOptions(zone=resolve_zone("UTC"), year=2026)


def run(tmp_path: Path, text: str, keep_lines: bool = False) -> list[Message]:
    log = tmp_path / "mail.log"
    log.write_text(text.strip("\n") + "\n")
    options = ScanOptions(zone=OPTS.zone, year=OPTS.year, keep_lines=keep_lines)
    messages, result = collect_messages([str(log)], options)
    assert result.counts.unparsed == 0
    return messages


def d(
    time: str, qid: str, rcpt: str, status: str, reply: str, delay: str = "1", pid: str = "9"
) -> str:
    return (
        f"Nov 29 {time} mx1 postfix/smtp[{pid}]: {qid}: to=<{rcpt}>, relay=mx.example[192.0.2.1]:25, "
        f"delay={delay}, delays=0/0/0/0, dsn={'2.0.0' if status == 'sent' else '4.2.0'}, "
        f"status={status} ({reply})"
    )


PARTIAL = "\n".join(
    [
        "Nov 29 10:00:00 mx1 postfix/pickup[1]: AAA111: uid=0 from=<me@here.example>",
        "Nov 29 10:00:00 mx1 postfix/cleanup[2]: AAA111: message-id=<m1@here.example>",
        "Nov 29 10:00:00 mx1 postfix/qmgr[3]: AAA111: from=<me@here.example>, size=100, nrcpt=3 (queue active)",
        d("10:00:01", "AAA111", "a@split.example", "sent", "250 ok"),
        d("10:00:01", "AAA111", "b@split.example", "sent", "250 ok"),
        d(
            "10:00:01",
            "AAA111",
            "c@split.example",
            "deferred",
            "host x said: 452 4.5.3 Too many recipients (in reply to RCPT TO command)",
        ),
        d(
            "10:05:00",
            "AAA111",
            "c@split.example",
            "deferred",
            "host x said: 450 4.2.0 Greylisted (in reply to RCPT TO command)",
            delay="300",
        ),
        d("10:15:00", "AAA111", "c@split.example", "sent", "250 ok", delay="900"),
        "Nov 29 10:15:00 mx1 postfix/qmgr[3]: AAA111: removed",
    ]
)


def test_partial_success_recipient_by_recipient(tmp_path: Path) -> None:
    (msg,) = run(tmp_path, PARTIAL)
    assert msg.message_id == "m1@here.example"
    assert msg.sender == "me@here.example"
    assert msg.nrcpt == 3
    a, b, c = (msg.recipients[x] for x in ("a@split.example", "b@split.example", "c@split.example"))
    assert (a.outcome, a.deferrals) == (Outcome.DELIVERED, 0)
    assert (b.outcome, b.deferrals) == (Outcome.DELIVERED, 0)
    assert (c.outcome, c.deferrals) == (Outcome.DELIVERED, 2)
    assert held_seconds(msg, a) == 1.0
    assert held_seconds(msg, c) == 900.0
    assert c.first_deferred is not None and msg.arrived is not None
    assert c.first_deferred - msg.arrived == 1.0
    assert len(c.attempts) == 3


def test_queue_id_reuse_makes_two_messages(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "Nov 29 10:00:00 mx1 postfix/smtpd[1]: BBB222: client=a.example[192.0.2.5]",
            d("10:00:01", "BBB222", "x@one.example", "sent", "250 ok"),
            "Nov 29 10:00:02 mx1 postfix/qmgr[3]: BBB222: removed",
            "Nov 29 11:00:00 mx1 postfix/smtpd[1]: BBB222: client=b.example[192.0.2.6]",
            d(
                "11:00:01",
                "BBB222",
                "y@two.example",
                "deferred",
                "connect to two.example[192.0.2.9]:25: Connection refused",
            ),
        ]
    )
    first, second = run(tmp_path, text)
    assert list(first.recipients) == ["x@one.example"]
    assert list(second.recipients) == ["y@two.example"]
    assert second.recipients["y@two.example"].outcome is Outcome.HELD
    assert second.client == "b.example[192.0.2.6]"


def test_reuse_without_removed_line_closes_the_old_message(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "Nov 29 10:00:00 mx1 postfix/smtpd[1]: CCC333: client=a.example[192.0.2.5]",
            d("10:00:01", "CCC333", "x@one.example", "deferred", "450 try later"),
            "Nov 29 11:00:00 mx1 postfix/smtpd[1]: CCC333: client=b.example[192.0.2.6]",
            d("11:00:01", "CCC333", "y@two.example", "sent", "250 ok"),
            "Nov 29 11:00:02 mx1 postfix/qmgr[3]: CCC333: removed",
        ]
    )
    first, second = run(tmp_path, text)
    assert first.recipients["x@one.example"].outcome is Outcome.UNKNOWN
    assert second.recipients["y@two.example"].outcome is Outcome.DELIVERED


def test_same_queue_id_on_two_hosts_is_two_messages(tmp_path: Path) -> None:
    text = "\n".join(
        [
            d("10:00:01", "DDD444", "x@one.example", "sent", "250 ok"),
            d("10:00:01", "DDD444", "x@one.example", "deferred", "450 later").replace(
                " mx1 ", " mx2 "
            ),
        ]
    )
    msgs = run(tmp_path, text)
    assert sorted((m.host, m.recipients["x@one.example"].outcome) for m in msgs) == [
        ("mx1", Outcome.DELIVERED),
        ("mx2", Outcome.HELD),
    ]


def test_expired_message_and_its_held_time(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "Nov 29 10:00:00 mx1 postfix/pickup[1]: EEE555: uid=0 from=<me@here.example>",
            d(
                "10:00:01",
                "EEE555",
                "x@dead.example",
                "deferred",
                "connect to dead.example[192.0.2.9]:25: Connection timed out",
            ),
            d(
                "12:00:01",
                "EEE555",
                "x@dead.example",
                "deferred",
                "connect to dead.example[192.0.2.9]:25: Connection timed out",
                delay="7201",
            ),
            "Nov 29 15:00:00 mx1 postfix/qmgr[3]: EEE555: from=<me@here.example>, status=expired, returned to sender",
            "Nov 29 15:00:00 mx1 postfix/bounce[4]: EEE555: sender non-delivery notification: FFF666",
            "Nov 29 15:00:00 mx1 postfix/qmgr[3]: EEE555: removed",
        ]
    )
    (msg,) = run(tmp_path, text)
    r = msg.recipients["x@dead.example"]
    assert r.outcome is Outcome.EXPIRED
    assert held_seconds(msg, r) == 5 * 3600
    assert msg.notifications[0][1:] == ("sender non-delivery notification", "FFF666")


def test_held_at_end_of_log_counts_to_last_log_time(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "Nov 29 10:00:00 mx1 postfix/pickup[1]: ABC777: uid=0 from=<me@here.example>",
            d("10:00:01", "ABC777", "x@grey.example", "deferred", "450 greylisted"),
            "Nov 29 10:30:00 mx1 postfix/qmgr[3]: ABD888: removed",
        ]
    )
    msgs = run(tmp_path, text)
    msg = next(m for m in msgs if m.queue_id == "ABC777")
    r = msg.recipients["x@grey.example"]
    assert r.outcome is Outcome.HELD
    assert held_seconds(msg, r) == 1800.0


def test_arrival_before_the_log_is_worked_out_from_delay(tmp_path: Path) -> None:
    text = d("10:00:00", "ABE999", "x@late.example", "sent", "250 ok", delay="3600.5")
    (msg,) = run(tmp_path, text)
    assert msg.arrival_seen is False
    r = msg.recipients["x@late.example"]
    assert held_seconds(msg, r) == 3600.5


def test_session_note_without_queue_id_is_attached_by_pid(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "Nov 29 10:00:00 mx1 postfix/smtp[55]: connect to dead.example[192.0.2.9]:25: Connection refused",
            "Nov 29 10:00:00 mx1 postfix/smtp[56]: connect to other.example[192.0.2.8]:25: Connection refused",
            d(
                "10:00:00",
                "ABF000",
                "x@dead.example",
                "deferred",
                "connect to dead.example[192.0.2.9]:25: Connection refused",
                pid="55",
            ),
        ]
    )
    (msg,) = run(tmp_path, text, keep_lines=True)
    assert [n.text for n in msg.notes] == [
        "connect to dead.example[192.0.2.9]:25: Connection refused"
    ]
    assert [ref.lineno for ref in msg.lines] == [3, 1]


def test_session_notes_are_kept_only_for_trace(tmp_path: Path) -> None:
    """A report reads no session note (the delivery line says what failed), so only
    `trace`, which shows every line of a message, keeps them: a report's held message and
    its correlator hold none, whether the note names the message or waits for its
    process's next delivery line."""
    text = "\n".join(
        [
            "Nov 29 10:00:00 mx1 postfix/smtp[55]: connect to dead.example[192.0.2.9]:25: Connection refused",
            d(
                "10:00:00",
                "ABF000",
                "x@dead.example",
                "deferred",
                "connect to dead.example",
                pid="55",
            ),
            "Nov 29 10:00:05 mx1 postfix/smtp[57]: ABF000: host mx.dead.example[192.0.2.7] said:"
            " 421 4.7.0 Try again later (in reply to MAIL FROM command)",
            "Nov 29 10:00:06 mx1 postfix/postsuper[3]: ABF000: placed on hold",
            "Nov 29 10:01:00 mx1 postfix/smtp[56]: connect to other.example[192.0.2.8]:25: Connection refused",
        ]
    )
    (traced,) = run(tmp_path, text, keep_lines=True)
    assert len(traced.notes) == 3
    (held,) = run(tmp_path, text)
    assert held.notes == [] and held.hold_started is not None
    for prior_unknown in (False, True):  # (a slice of a parallel scan: notes may wait)
        part = scan_partial(
            [str(tmp_path / "mail.log")],
            ScanOptions(zone=OPTS.zone, year=OPTS.year),
            prior_unknown=prior_unknown,
        )
        state = part.state
        assert not state["_pending"] and not state["awaiting"]
        assert all(not m.notes for m in state["_open"].values())


def test_admin_removal_leaves_outcome_unknown(tmp_path: Path) -> None:
    text = "\n".join(
        [
            d("10:00:00", "ACA111", "x@grey.example", "deferred", "450 greylisted"),
            "Nov 29 10:10:00 mx1 postfix/postsuper[7]: ACA111: removed",
        ]
    )
    (msg,) = run(tmp_path, text)
    r = msg.recipients["x@grey.example"]
    assert r.outcome is Outcome.UNKNOWN
    assert held_seconds(msg, r) is None
