"""Correlator additions for Exim and Sendmail: notices on the referenced message, several
recipients per line, and closing messages of MTAs that log no removal line."""

from __future__ import annotations

from maillog_diag.core.correlate import RECENTLY_CLOSED_SECONDS, Correlator
from maillog_diag.core.model import (
    Arrival,
    Delivery,
    Expired,
    Message,
    Notification,
    Outcome,
    Removed,
    Status,
)


def run(*events: object) -> tuple[list[Message], Correlator]:
    out: list[Message] = []
    c = Correlator(out.append, no_removal_line=frozenset({"sendmail"}))
    for ev in events:
        c.feed(ev)  # type: ignore[arg-type]
    return out, c


def sm_arrival(t: float, qid: str, nrcpt: int | None) -> Arrival:
    return Arrival(t, "mx1", "sendmail", qid, sender="s@x.example", nrcpt=nrcpt)


def sm_delivery(t: float, qid: str, rcpt: str, status: Status, *also: str) -> Delivery:
    return Delivery(t, "mx1", "sendmail", qid, recipient=rcpt, status=status, also=also)


def test_exim_bounce_arrival_is_noted_on_the_original() -> None:
    out, c = run(
        Arrival(0.0, "localhost", "exim", "1aaaaa-000001-AA", sender="s@x.example"),
        Delivery(
            1.0,
            "localhost",
            "exim",
            "1aaaaa-000001-AA",
            recipient="a@b.example",
            status=Status.BOUNCED,
        ),
        Arrival(
            2.0,
            "localhost",
            "exim",
            "1aaaab-000002-BB",
            sender="",
            reference="1aaaaa-000001-AA",
            notice="sender non-delivery notification",
        ),
        Removed(2.0, "localhost", "exim", "1aaaaa-000001-AA"),
    )
    assert [m.queue_id for m in out] == ["1aaaaa-000001-AA"]
    assert out[0].notifications == [(2.0, "sender non-delivery notification", "1aaaab-000002-BB")]
    c.finish()
    assert [m.queue_id for m in out][1:] == ["1aaaab-000002-BB"]


def test_one_line_several_recipients() -> None:
    out, c = run(
        sm_arrival(0.0, "Q1", 3),
        sm_delivery(1.0, "Q1", "a@b.example", Status.DEFERRED, "c@b.example"),
    )
    c.finish()
    (msg,) = out
    assert {a: r.deferrals for a, r in msg.recipients.items()} == {
        "a@b.example": 1,
        "c@b.example": 1,
    }


def test_sendmail_message_closes_when_all_announced_recipients_are_delivered() -> None:
    out, c = run(
        sm_arrival(0.0, "Q1", 3),
        sm_delivery(1.0, "Q1", "a@b.example", Status.SENT, "c@b.example"),
    )
    assert out == []  # 2 of 3
    c.feed(sm_delivery(5.0, "Q1", "d@e.example", Status.SENT))
    (msg,) = out
    assert msg.removed_at == 5.0
    assert msg.log_end is None
    assert all(r.outcome is Outcome.DELIVERED for r in msg.recipients.values())
    # a late "done" line does not open an empty message
    c.feed(Removed(6.0, "mx1", "sendmail", "Q1"))
    c.finish()
    assert len(out) == 1


def test_sendmail_bounce_closes_at_its_notice() -> None:
    out, c = run(
        sm_arrival(0.0, "Q1", 1),
        sm_delivery(1.0, "Q1", "a@b.example", Status.BOUNCED),
    )
    assert out == []
    c.feed(
        Notification(
            1.0, "mx1", "sendmail", "Q1", kind="sender non-delivery notification", new_queue_id="Q2"
        )
    )
    (msg,) = out
    assert msg.notifications == [(1.0, "sender non-delivery notification", "Q2")]
    assert msg.recipients["a@b.example"].outcome is Outcome.BOUNCED


def test_sendmail_expiry_closes() -> None:
    out, c = run(
        sm_arrival(0.0, "Q1", 1),
        sm_delivery(1.0, "Q1", "a@b.example", Status.DEFERRED),
        Expired(400.0, "mx1", "sendmail", "Q1"),
    )
    (msg,) = out
    assert msg.recipients["a@b.example"].outcome is Outcome.EXPIRED


def test_deferred_sendmail_message_stays_held_to_the_end() -> None:
    out, c = run(
        sm_arrival(0.0, "Q1", 1),
        sm_delivery(1.0, "Q1", "a@b.example", Status.DEFERRED),
    )
    assert out == []
    c.finish()
    assert out[0].recipients["a@b.example"].outcome is Outcome.HELD


def test_without_nrcpt_the_message_waits() -> None:
    out, c = run(sm_delivery(1.0, "Q1", "a@b.example", Status.SENT))
    assert out == []
    c.finish()
    assert len(out) == 1


def test_late_lines_after_the_quiet_period_open_a_new_message() -> None:
    out, c = run(
        sm_arrival(0.0, "Q1", 1),
        sm_delivery(1.0, "Q1", "a@b.example", Status.SENT),
        Notification(2.0 + RECENTLY_CLOSED_SECONDS, "mx1", "sendmail", "Q1", kind="x"),
    )
    c.finish()
    assert len(out) == 2


def test_postfix_is_not_closed_without_its_removal_line() -> None:
    out, c = run(
        Arrival(0.0, "mx1", "postfix", "ABC123", nrcpt=1),
        Delivery(1.0, "mx1", "postfix", "ABC123", recipient="a@b.example", status=Status.SENT),
    )
    assert out == []
    c.feed(Removed(2.0, "mx1", "postfix", "ABC123"))
    assert len(out) == 1 and out[0].removed_at == 2.0


def test_sendmail_notice_message_arrives_with_the_notice_and_closes_when_delivered() -> None:
    out, c = run(
        sm_arrival(0.0, "Q1", 1),
        sm_delivery(1.0, "Q1", "a@b.example", Status.BOUNCED),
        Notification(
            1.0, "mx1", "sendmail", "Q1", kind="sender non-delivery notification", new_queue_id="Q2"
        ),
        sm_delivery(2.0, "Q2", "s@x.example", Status.SENT),
    )
    assert [m.queue_id for m in out] == ["Q1", "Q2"]
    notice = out[1]
    assert (notice.arrived, notice.arrival_seen, notice.sender) == (1.0, True, "")
    assert notice.removed_at == 2.0


def test_a_notice_whose_lines_are_elsewhere_opens_nothing() -> None:
    # In a parallel report the notice's own lines may be another process's.
    out, c = run(
        sm_arrival(0.0, "Q1", 1),
        sm_delivery(1.0, "Q1", "a@b.example", Status.DEFERRED),
        Expired(400.0, "mx1", "sendmail", "Q1", notice_queue_id="Q2"),
    )
    c.finish()
    assert [m.queue_id for m in out] == ["Q1"]
    assert out[0].notifications == [(400.0, "sender non-delivery notification", "Q2")]


def test_an_expiry_notice_arrives_with_the_expiry() -> None:
    out, c = run(
        sm_arrival(0.0, "Q1", 1),
        sm_delivery(1.0, "Q1", "a@b.example", Status.DEFERRED),
        Expired(400.0, "mx1", "sendmail", "Q1", notice_queue_id="Q2"),
        sm_delivery(401.0, "Q2", "s@x.example", Status.SENT),
    )
    assert [m.queue_id for m in out] == ["Q1", "Q2"]
    assert (out[1].arrived, out[1].sender, out[1].removed_at) == (400.0, "", 401.0)
