"""The correlator's periodic sweep bounds what it remembers by the mail in flight: shared
attempt texts of mail long gone are forgotten, and nothing a report shows changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from maillog_diag.core import correlate
from maillog_diag.core.correlate import Correlator
from maillog_diag.core.model import Message
from maillog_diag.input.timestamps import TimeParser, YearInference, resolve_zone
from maillog_diag.output.serialize import report_dict
from maillog_diag.scan.lines import LineParser
from maillog_diag.scan.pipeline import ScanOptions, scan_report

UTC = resolve_zone("UTC")


def _lines(n: int) -> list[str]:
    """n delivered messages, each with a reply of its own, and one message deferred all
    along with the same reply (in flight to the end)."""
    out = [
        "Nov 29 00:00:00 mx1 postfix/qmgr[3]: ABCDEF0: from=<a@here.example>, size=9, nrcpt=1"
        " (queue active)"
    ]
    for i in range(n):
        m, s = divmod(i, 60)
        h, m = divmod(m, 60)
        t = f"{h:02d}:{m:02d}:{s:02d}"
        qid = f"{0x100000 + i:06X}"
        out += [
            f"Nov 29 {t} mx1 postfix/qmgr[3]: {qid}: from=<a@here.example>, size=9, nrcpt=1"
            " (queue active)",
            f"Nov 29 {t} mx1 postfix/smtp[9]: {qid}: to=<b{i}@far.example>,"
            f" relay=mx.far.example[192.0.2.1]:25, delay=1, delays=0/0/0/{i}, dsn=2.0.0,"
            f" status=sent (250 2.0.0 Ok: queued as X{i:06d})",
            f"Nov 29 {t} mx1 postfix/qmgr[3]: {qid}: removed",
        ]
        if i % 50 == 0:
            out.append(
                f"Nov 29 {t} mx1 postfix/smtp[8]: ABCDEF0: to=<c@slow.example>,"
                " relay=mx.slow.example[192.0.2.2]:25, delay=5, delays=0/0/0/5, dsn=4.2.0,"
                " status=deferred (host mx.slow.example said: 450 4.2.0 Greylisted)"
            )
    return out


def feed_into(lines: list[str], correlator: Correlator) -> None:
    """Parse Postfix lines of 2026 (UTC) as `mail.log` and feed their events."""
    parser = LineParser(TimeParser(UTC))
    parser.start_input(YearInference(fixed=2026))
    for lineno, line in enumerate(lines, 1):
        event = parser.parse(line, "mail.log", lineno)
        if event is not None:
            correlator.feed(event)


def _feed(lines: list[str]) -> tuple[Correlator, list[Message]]:
    done: list[Message] = []
    correlator = Correlator(done.append)
    feed_into(lines, correlator)
    return correlator, done


def test_sweep_forgets_texts_of_mail_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(correlate, "SWEEP_EVERY", 500)
    monkeypatch.setattr(correlate, "SWEEP_TEXTS", 200)
    correlator, done = _feed(_lines(3000))
    assert len(done) == 3000
    # 3000 distinct replies and delays went by; the one message in flight has 1 reply.
    assert len(correlator._texts) <= 2 * 200 + 500
    (held,) = correlator.open_messages()
    replies = {a.reply for r in held.recipients.values() for a in r.attempts}
    assert len(replies) == 1
    # Its repeated reply is still one shared object.
    attempts = [a for r in held.recipients.values() for a in r.attempts]
    assert len({id(a.reply) for a in attempts}) <= 2  # at most one copy before a sweep


def test_forgetting_texts_changes_no_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "mail.log"
    log.write_text("\n".join(_lines(3000)) + "\n")
    options = ScanOptions(zone=UTC, year=2026)

    def report() -> dict[str, object]:
        builder, result = scan_report([str(log)], options, 1)
        return report_dict(builder, result, UTC, include_all=True, reasons=5)

    plain = report()
    monkeypatch.setattr(correlate, "SWEEP_EVERY", 500)
    monkeypatch.setattr(correlate, "SWEEP_TEXTS", 200)
    assert report() == plain
