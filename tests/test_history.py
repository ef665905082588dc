"""A held message's retry history is kept in columns while it is in flight
(`core.history.PackedAttempts`): every attempt comes back equal, field by field, wherever
a message leaves the correlator, and memory per attempt in flight is a few array slots."""

from __future__ import annotations

import copy
import pickle
import tracemalloc
from pathlib import Path
from typing import cast

import pytest

from maillog_diag.core import correlate
from maillog_diag.core.correlate import Correlator, settle_packed
from maillog_diag.core.history import PackedAttempts
from maillog_diag.core.model import Attempt, LineRef, Message, Status

from .test_sweep_memory import feed_into


def _attempts() -> list[Attempt]:
    return [
        Attempt(1.5, Status.DEFERRED, "mx.a[192.0.2.1]:25", "4.7.1", "450 greylisted",
                "0.1/0/0.2/0", ref=LineRef("mail.log", 7, "")),
        Attempt(2.0, Status.DEFERRED, None, None, None, None, suspended=True,
                ref=LineRef("mail.log.1", 2**40, "the whole line \x1b]8;;x\x07")),
        Attempt(3.25, Status.DEFERRED, "mx.a[192.0.2.1]:25", "4.7.1", "450 greylisted",
                "d\udcff\u00e9/\U0001f600", stage="rcpt", program="postfix-out/smtp"),
        Attempt(4.0, Status.BOUNCED, "mx.b", "5.1.1", "550 no", "", handoff=True,
                ref=LineRef("mail.log", 9, "")),
        Attempt(5.0, Status.SENT, "mx.a[192.0.2.1]:25", "2.0.0", "250 ok", None,
                ref=LineRef("mail.log", 10, "")),
    ]  # fmt: skip


def test_packed_attempts_come_back_equal_field_by_field() -> None:
    originals = _attempts()
    packed = PackedAttempts()
    for attempt in copy.deepcopy(originals):
        packed.add(attempt)
    assert len(packed) == len(originals)
    assert packed.unpack() == originals
    # Pickled (a worker's result, a Dask task's) as columns, and the same after.
    again = pickle.loads(pickle.dumps(packed))
    assert again.unpack() == originals
    again.add(originals[0])  # the rebuilt look-up tables still work
    assert again.unpack() == [*originals, originals[0]]
    assert set(packed.shared_texts()) >= {"mx.a[192.0.2.1]:25", "450 greylisted", "mx.b"}


def test_shifting_moves_only_the_lines_of_one_source() -> None:
    packed = PackedAttempts()
    for attempt in _attempts():
        packed.add(attempt)
    packed.shift("mail.log", 100)
    refs = [(a.ref.source, a.ref.lineno) if a.ref else None for a in packed.unpack()]
    assert refs == [
        ("mail.log", 107),
        ("mail.log.1", 2**40),
        None,
        ("mail.log", 109),
        ("mail.log", 110),
    ]


def _held_lines(messages: int, tries: int, *, session_ids: bool = False) -> list[str]:
    """`messages` messages with two recipients, each deferred `tries` times (each try with
    its own `delays`, and with `session_ids` its own reply, as Gmail's `- gsmtp` replies
    are), then one delivered and the other left held."""
    head = "mx1 postfix/smtp[8]: {q:05X}: to=<{r}@far.example>, relay=mx.far.example[192.0.2.2]:25,"
    arrivals = [
        f"Nov 29 00:00:00 mx1 postfix/qmgr[3]: {i + 0x10000:05X}: from=<a@here.example>,"
        " size=9, nrcpt=2 (queue active)"
        for i in range(messages)
    ]
    tries_ = [
        f"Nov 29 {k // 60:02d}:{k % 60:02d}:{i % 60:02d} "
        + head.format(q=i + 0x10000, r=f"{rcpt}{i}")
        + f" delay={k * 60}, delays={k}/0/{i}/0.{k}, dsn=4.7.1, status=deferred"
        " (host mx.far.example said: 450 4.7.1 Greylisted, try again later"
        + (f" {k:03d}{i:04d}{rcpt}si.{i * 7919 % 9973:04d} - gsmtp)" if session_ids else ")")
        for k in range(tries)
        for i in range(messages)
        for rcpt in ("b", "c")
    ]
    sent = [
        "Nov 29 23:00:00 "
        + head.format(q=i + 0x10000, r=f"b{i}")
        + " delay=80000, delays=0/0/1/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)"
        for i in range(messages)
    ]
    return arrivals + tries_ + sent


def _messages(lines: list[str], *, pack_at: int, monkeypatch: pytest.MonkeyPatch) -> list[Message]:
    monkeypatch.setattr(correlate, "PACK_AT", pack_at)
    done: list[Message] = []
    correlator = Correlator(done.append)
    feed_into(lines, correlator)
    correlator.finish()
    return sorted(done, key=lambda m: m.queue_id)


def test_emitted_messages_are_the_ones_without_packing(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _held_lines(20, 30)
    unpacked = _messages(lines, pack_at=10**9, monkeypatch=monkeypatch)
    packed = _messages(lines, pack_at=4, monkeypatch=monkeypatch)
    assert len(packed) == 20
    assert packed == unpacked
    assert all(len(r.attempts) in (30, 31) for m in packed for r in m.recipients.values())


def test_a_state_leaves_whole_and_its_packs_stay_packed_in_it() -> None:
    done: list[Message] = []
    correlator = Correlator(done.append)
    feed_into(_held_lines(5, 12), correlator)
    assert correlator._packed  # held attempts are packed while reading ...
    held = max(len(r.attempts) for m in correlator._open.values() for r in m.recipients.values())
    assert held < correlate.PACK_AT
    state = correlator.export()
    assert state[correlate.PACKED_FIELD]  # ... and stay packed into the next merge,
    settle_packed(state)  # but not into a file
    assert correlate.PACKED_FIELD not in state
    lengths = {
        r.address[0]: len(r.attempts)
        for m in cast("dict[object, Message]", state["_open"]).values()
        for r in m.recipients.values()
    }
    assert lengths == {"b": 13, "c": 12}  # 12 deferrals each, and b's delivery
    # A live view reads whole messages.
    again = Correlator(done.append)
    feed_into(_held_lines(5, 12), again)
    assert all(len(r.attempts) >= 12 for m in again.open_messages() for r in m.recipients.values())


def _fed_and_traced(lines: list[str]) -> tuple[Correlator, int]:
    """A correlator fed `lines`, and the bytes it then holds (traced allocations)."""
    correlator = Correlator(lambda m: None)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        feed_into(lines, correlator)
        return correlator, tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(("session_ids", "most"), [(False, 140), (True, 300)])
def test_memory_per_attempt_in_flight_is_a_few_slots(session_ids: bool, most: int) -> None:
    """Before packing, an attempt in flight cost about 240 bytes (record, time, line
    reference, line number, `delays`), and 385 with a reply of its own (its text, about
    140 bytes, is counted: it is kept); packed, 122 and 265."""
    _, held = _fed_and_traced(_held_lines(200, 40, session_ids=session_ids))
    attempts = 200 * 2 * 40
    assert held / attempts < most, f"{held / attempts:.0f} bytes per attempt in flight"


def test_a_pack_of_a_few_kinds_holds_no_dict() -> None:
    """A pack is made for every recipient retried a fourth time, so its fixed cost is
    paid by most of the mail in flight: its kinds and inputs are looked up in lists (two
    dicts cost about 460 bytes a pack). 300 messages of two recipients, held over 5
    tries, cost 2,930 bytes a recipient with them, 2,630 without."""
    correlator, held = _fed_and_traced(_held_lines(300, 5))
    packs = [p for packs in correlator._packed.values() for p in packs.values()]
    assert len(packs) == 600 and all(p._kind_index is None for p in packs)  # (two each)
    assert held / 600 < 2_780, f"{held / 600:.0f} bytes a recipient"


def test_a_pack_of_many_kinds_indexes_them() -> None:
    """A hostile log can give every attempt a relay of its own: past `SCAN_KINDS` kinds a
    pack indexes them in a dict, so that adding an attempt stays a look-up, and every
    attempt still comes back as packed (also after pickling)."""
    from maillog_diag.core.history import SCAN_KINDS

    originals = [
        Attempt(float(i), Status.DEFERRED, f"mx{i % 3000}.a[192.0.2.1]:25", "4.7.1", "450 x")
        for i in range(6000)
    ]
    packed = PackedAttempts()
    for attempt in originals:
        packed.add(attempt)
        if len(packed._kind_list) <= SCAN_KINDS:
            assert packed._kind_index is None
    assert packed._kind_index is not None and len(packed._kind_list) == 3000
    assert len(packed._kind_index) == 3000
    assert packed.unpack() == originals
    again = pickle.loads(pickle.dumps(packed))
    assert again._kind_index == packed._kind_index and again.unpack() == originals


def test_deliveries_of_a_held_message_share_their_texts() -> None:
    """A message stays in flight while one recipient is held, and with it the delivery
    records of the others: their relay, DSN and program texts are shared (one string for
    all), their replies are their own."""
    head = "Nov 29 00:00:{s:02d} mx1 postfix/smtp[8]: ABC12: to=<{r}@far.example>,"
    lines = [
        "Nov 29 00:00:00 mx1 postfix/qmgr[3]: ABC12: from=<a@here.example>, size=9, nrcpt=9"
        " (queue active)",
        *(
            head.format(s=i, r=f"u{i}")
            + " relay=mx.far.example[192.0.2.2]:25, delay=1, delays=0/0/0/0, dsn=2.0.0,"
            f" status=sent (250 2.0.0 Ok: queued as Q{i})"
            for i in range(8)
        ),
        head.format(s=9, r="held") + " relay=mx.far.example[192.0.2.2]:25, delay=1,"
        " delays=0/0/0/0, dsn=4.7.1, status=deferred (450 4.7.1 try later)",
    ]
    correlator = Correlator(lambda m: None)
    feed_into(lines, correlator)
    (msg,) = correlator.open_messages()
    sent = [r.attempts[0] for r in msg.recipients.values() if r.address != "held@far.example"]
    assert len(sent) == 8 and all(a.status is Status.SENT for a in sent)
    for name in ("relay", "dsn", "program"):
        assert len({id(getattr(a, name)) for a in sent}) == 1, name
    assert len({a.reply for a in sent}) == 8


def test_summary_and_state_files_hold_records(tmp_path: Path) -> None:
    """`summarize` of a log with held mail merges back to the report of the log."""
    from typer.testing import CliRunner

    from maillog_diag.cli.app import app

    log = tmp_path / "mail.log"
    log.write_text("\n".join(_held_lines(10, 9)) + "\n")
    runner = CliRunner()
    common = ["--format", "json", "--tz", "UTC", "--year", "2026"]
    direct = runner.invoke(app, ["report", str(log), *common, "-j", "1"])
    summary = tmp_path / "host.summary"
    made = runner.invoke(app, ["summarize", str(log), "-o", str(summary), "--tz", "UTC",
                               "--year", "2026"])  # fmt: skip
    assert made.exit_code == 0, made.output
    merged = runner.invoke(app, ["merge", str(summary), "--format", "json"])
    assert merged.exit_code == direct.exit_code
    import json

    def core(text: str) -> dict[str, object]:
        data = json.loads(text)
        return {k: data[k] for k in ("totals", "destinations", "held") if k in data}

    assert core(merged.stdout) == core(direct.stdout)
    assert core(direct.stdout)


def test_cut_scans_with_packing_give_the_one_process_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Packs cross processes (pickled), move with their slice's lines and join in merges:
    with every attempt packed, two and three workers give one process's report."""
    from .test_bench_generator import write_generated
    from .test_engine_equality import report

    log = str(write_generated(tmp_path / "mail.log", 29, 20_000))
    one = report([log], 1)
    monkeypatch.setattr(correlate, "PACK_AT", 1)
    assert report([log], 1) == one
    for jobs in (2, 3):
        assert report([log], jobs, min_slice_bytes=1) == one
