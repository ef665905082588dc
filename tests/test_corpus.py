"""Real Postfix logs published by others (`../shared/corpus/public/postfix`, absent in a user's
clone: these tests skip then). Every delivery line must parse, and the correlation must agree
with a plain count of the raw lines."""

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

POSTFIX = CORPUS / "postfix"
FILES = sorted(POSTFIX.glob("*.log")) if POSTFIX.is_dir() else []
pytestmark = pytest.mark.skipif(not FILES, reason="../shared corpus not present")

# Files from postfix-grok-patterns hold message bodies only; the daemon is in the file name.
_BODY_ONLY = re.compile(r"test__POSTFIX_([A-Z_]+)\.log$")
_DELIVERY = re.compile(r" to=<?[^ ,]+>?, .*status=")


def _lines(path: Path) -> list[str]:
    m = _BODY_ONLY.search(path.name)
    prefix = f"Nov 29 12:00:00 host postfix/{m[1].lower().replace('_', '-')}[1]: " if m else ""
    return [prefix + line.rstrip("\n") for line in path.open(encoding="utf-8", errors="replace")]


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_no_delivery_line_is_unparsed(path: Path) -> None:
    parser = LineParser(TimeParser(resolve_zone("UTC"), YearInference(fixed=2026)))
    unparsed: list[str] = []
    for n, line in enumerate(_lines(path), 1):
        try:
            parser.parse(line, path.name, n)
        except UnparsableLine:
            unparsed.append(line)
    c = parser.counts
    assert c.used + c.ignored + c.unparsed == c.total
    assert [u for u in unparsed if _DELIVERY.search(u)] == []
    # Stronger, and true today: nothing at all is unparsed in these files.
    assert unparsed == []


KDENT = sorted(POSTFIX.glob("kdent--*.log")) if POSTFIX.is_dir() else []


@pytest.mark.parametrize("path", KDENT, ids=[p.name for p in KDENT])
def test_every_deferral_lands_on_its_recipient(path: Path) -> None:
    raw = Counter()
    for line in path.open(encoding="utf-8", errors="replace"):
        m = re.search(
            r"postfix/(?:smtp|error|local|lmtp|virtual|pipe)\[\d+\]: ([0-9A-F]+): to=<([^>]*)>.*status=deferred",
            line,
        )
        if m:
            raw[(m[1], m[2])] += 1
    messages, result = collect_messages(
        [str(path)], ScanOptions(zone=resolve_zone("UTC"), year=2015)
    )
    seen = Counter()
    for msg in messages:
        for r in msg.recipients.values():
            if r.deferrals:
                seen[(msg.queue_id, r.address)] += r.deferrals
            # an outcome is always settled once the log is read
            assert r.outcome in set(Outcome)
    assert seen == raw
    assert result.counts.unparsed == 0
