"""Real Sendmail logs published by others (`../shared/corpus/public/sendmail`, absent in a
user's clone: these tests skip then). Every line must be read or knowingly ignored, every
`from=`/`to=` line must become an event, and deliveries must land on their recipients."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from maillog_diag.core.model import Outcome
from maillog_diag.errors import UnparsableLine
from maillog_diag.input.timestamps import TimeParser, YearInference, resolve_zone
from maillog_diag.scan.lines import LineParser
from maillog_diag.scan.pipeline import ScanOptions, collect_messages

from .conftest import CORPUS

SENDMAIL = CORPUS / "sendmail"
FILES = sorted(SENDMAIL.glob("*.log")) if SENDMAIL.is_dir() else []
pytestmark = pytest.mark.skipif(not FILES, reason="../shared corpus not present")

_PROGRAM = r"(?:sendmail|sm-mta|sm-msp-queue|sm-msp)\[\d+\]: "
_DELIVERY = re.compile(rf"{_PROGRAM}[0-9A-Za-z]+: (?:to|from)=.*")
_TO = re.compile(rf"{_PROGRAM}([0-9A-Za-z]+): to=([^ ]+), (.*)")


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_nothing_is_unparsed(path: Path) -> None:
    parser = LineParser(TimeParser(resolve_zone("UTC"), YearInference(fixed=2026)))
    unparsed: list[str] = []
    missed: list[str] = []
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        try:
            event = parser.parse(line, path.name, n)
        except UnparsableLine:
            unparsed.append(line)
            continue
        if event is None and _DELIVERY.search(line) and "nrcpts=0" not in line:
            missed.append(line)
    c = parser.counts
    assert c.used + c.ignored + c.unparsed == c.total
    assert unparsed == []
    assert missed == []  # every from= (with recipients) and to= line is used


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_to_line_lands_on_its_recipients(path: Path) -> None:
    raw: Counter[tuple[str, str, str]] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        m = _TO.search(line)
        if m is None or m[3].endswith("stat=queued"):
            continue
        # a to= line without stat= (one sample) is judged by its dsn=
        sent = "stat=Sent" in m[3] or ("stat=" not in m[3] and "dsn=2." in m[3])
        for address in m[2].rstrip(",").split(","):
            raw[(m[1], address.strip("<>"), "sent" if sent else "other")] += 1
    messages, result = collect_messages(
        [str(path)], ScanOptions(zone=resolve_zone("UTC"), year=2005)
    )
    seen: Counter[tuple[str, str, str]] = Counter()
    for msg in messages:
        for r in msg.recipients.values():
            assert r.outcome in set(Outcome)
            for a in r.attempts:
                seen[
                    (msg.queue_id, r.address, "sent" if a.status.value == "sent" else "other")
                ] += 1
    assert seen == raw
    assert result.counts.unparsed == 0


def test_submission_handoffs_are_not_deliveries() -> None:
    path = SENDMAIL / "gitpan--Parse-Syslog-Mail--t_logs_sendmail-plain.log"
    if not path.is_file():
        pytest.skip("no sendmail-plain sample")
    messages, _ = collect_messages([str(path)], ScanOptions(zone=resolve_zone("UTC"), year=2005))
    attempts = [a for m in messages for r in m.recipients.values() for a in r.attempts]
    handoffs = sum(a.handoff for a in attempts)
    # 58 messages submitted with sendmail(1) and relayed by the MTA to perl.org: 58 hand-offs
    # to [127.0.0.1], 58 deliveries to the destination.
    assert handoffs == 58
    assert len(attempts) - handoffs == 58
    # every message announced its recipient count and is closed once delivered
    assert all(m.removed_at is not None for m in messages)
