"""Real Exim logs published by others (`../shared/corpus/public/exim`, absent in a user's clone:
these tests skip then). Every line must be read or knowingly ignored, and the correlation
must agree with a plain count of the raw lines."""

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

EXIM = CORPUS / "exim"
FILES = sorted(EXIM.glob("*.log")) if EXIM.is_dir() else []
pytestmark = pytest.mark.skipif(not FILES, reason="../shared corpus not present")

_ID = r"[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}"
_DELIVERY = re.compile(rf" {_ID} (?:<=|=>|->|\*>|==|\*\*) ")
_RAW = re.compile(rf"^\S+ \S+ (?:\[\d+\] )?({_ID}) (==|\*\*|=>|->|\*>) (\S+)(?: <([^>]*)>)?")


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_nothing_is_unparsed(path: Path) -> None:
    parser = LineParser(TimeParser(resolve_zone("UTC"), YearInference(fixed=2026)))
    unparsed: list[str] = []
    delivery_lines = used_delivery_lines = 0
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        is_delivery = _DELIVERY.search(line) is not None
        delivery_lines += is_delivery
        try:
            event = parser.parse(line, path.name, n)
        except UnparsableLine:
            unparsed.append(line)
            continue
        used_delivery_lines += is_delivery and event is not None
    c = parser.counts
    assert c.used + c.ignored + c.unparsed == c.total
    assert unparsed == []
    # every arrival, delivery, deferral and failure line becomes an event
    assert used_delivery_lines == delivery_lines


BIG = [p for p in FILES if "ParsMailLog" in p.name]


@pytest.mark.parametrize("path", BIG, ids=[p.name for p in BIG])
def test_every_deferral_and_verdict_lands_on_its_recipient(path: Path) -> None:
    raw: dict[str, Counter[tuple[str, str]]] = {"==": Counter(), "final": Counter()}
    for line in path.read_text(errors="replace").splitlines():
        m = _RAW.match(line)
        if m is None:
            continue
        # local deliveries (":blackhole:", a local part) count under the original address
        address = m[3].rstrip(":") if "@" in m[3] or m[4] is None else m[4]
        raw["==" if m[2] == "==" else "final"][(m[1], address)] += 1
    messages, result = collect_messages(
        [str(path)], ScanOptions(zone=resolve_zone("UTC"), year=2012)
    )
    deferrals: Counter[tuple[str, str]] = Counter()
    finals: Counter[tuple[str, str]] = Counter()
    for msg in messages:
        for r in msg.recipients.values():
            if r.deferrals:
                deferrals[(msg.queue_id, r.address)] += r.deferrals
            finals[(msg.queue_id, r.address)] += sum(
                a.status.value != "deferred" for a in r.attempts
            )
            assert r.outcome in set(Outcome)
    assert deferrals == raw["=="]
    assert +finals == raw["final"]
    assert result.counts.unparsed == 0


def test_outcomes_of_the_big_sample() -> None:
    if not BIG:
        pytest.skip("no ParsMailLog sample")
    messages, _ = collect_messages([str(BIG[0])], ScanOptions(zone=resolve_zone("UTC")))
    outcomes = Counter(r.outcome for m in messages for r in m.recipients.values())
    # The file's own counts (SOURCES.md): 2136 sent, 291 failures of which 91 are
    # "retry timeout exceeded" plus 1 "retry time not reached ... after a long failure period".
    assert outcomes[Outcome.DELIVERED] == 2136
    assert outcomes[Outcome.BOUNCED] + outcomes[Outcome.EXPIRED] == 291
    assert outcomes[Outcome.EXPIRED] == 92
    suspended = sum(
        a.suspended for m in messages for r in m.recipients.values() for a in r.attempts
    )
    assert suspended == 0  # the file has no "retry time not reached" deferral
