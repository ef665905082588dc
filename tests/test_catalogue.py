"""Every catalogue row is classified as documented (cause, provider, token, hint).

The rows live in tests/fixtures/replies_catalogue.tsv, so the main suite does not depend on
../shared. When the catalogue itself is present (../shared/replies/CATALOGUE.md relative to the
repository root), the fixture is also checked against it.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from maillog_diag.core.causes import Cause
from maillog_diag.core.classify import classify
from maillog_diag.core.hints import HintKind
from maillog_diag.core.knowledge import knowledge_base

FIXTURE = Path(__file__).parent / "fixtures" / "replies_catalogue.tsv"


@dataclass(frozen=True)
class CatalogueRow:
    id: str
    relay: str | None
    verbatim: bool
    reply: str
    cause: str
    provider: str | None
    token: str | None
    hint_kind: str
    hint_seconds: int | None

    @property
    def catalogue_id(self) -> str:
        """``G22a`` -> ``G22``."""
        return self.id.rstrip("abcdefghij")


def load_rows() -> list[CatalogueRow]:
    lines = [
        ln for ln in FIXTURE.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")
    ]
    reader = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    return [
        CatalogueRow(
            id=r["id"],
            relay=r["relay"] or None,
            verbatim=r["verbatim"] == "yes",
            reply=r["reply"],
            cause=r["cause"],
            provider=r["provider"] or None,
            token=r["token"] or None,
            hint_kind=r["hint_kind"],
            hint_seconds=int(r["hint_seconds"]) if r["hint_seconds"] else None,
        )
        for r in reader
    ]


ROWS = load_rows()
CATALOGUE = Path(__file__).resolve().parents[1].parent / "shared" / "replies" / "CATALOGUE.md"
# Documentation-only rows (no reply text); checked through the knowledge base instead.
DOC_ONLY = {"Y13"}


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_row_classified_as_documented(row: CatalogueRow) -> None:
    result = classify(row.reply, relay=row.relay)
    assert result.cause == Cause(row.cause)
    assert result.provider == row.provider
    assert result.token == row.token
    assert result.hint.kind == HintKind(row.hint_kind)
    assert result.hint.seconds == row.hint_seconds


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_row_in_a_postfix_deferral_text(row: CatalogueRow) -> None:
    """The same reply wrapped the way Postfix logs it keeps its classification."""
    wrapped = f"host mx.example.net[192.0.2.7] said: {row.reply} (in reply to RCPT TO command)"
    result = classify(wrapped, relay=row.relay)
    assert result.cause == Cause(row.cause)
    assert result.provider == row.provider
    assert result.token == row.token


def test_yahoo_documented_four_hours() -> None:  # catalogue Y13
    yahoo = knowledge_base().providers["yahoo"]
    tss04 = next(t for t in yahoo.tokens if t.token == "TSS04")
    assert tss04.documented_retry_seconds == 4 * 3600
    assert tss04.documented_retry_text is not None and "4 hours" in tss04.documented_retry_text


def _catalogue_text() -> str:
    if not CATALOGUE.is_file():
        pytest.skip(f"{CATALOGUE} not present")
    return CATALOGUE.read_text(encoding="utf-8")


def test_verbatim_rows_are_quoted_from_the_catalogue() -> None:
    text = _catalogue_text()
    missing = [r.id for r in ROWS if r.verbatim and r.reply not in text]
    assert not missing


def test_every_catalogue_reply_row_is_covered() -> None:
    text = _catalogue_text()
    ids = set(re.findall(r"^\| ([A-Z]{1,2}\d{1,2}) \|", text, flags=re.MULTILINE))
    assert len(ids) > 60
    covered = {r.catalogue_id for r in ROWS} | DOC_ONLY
    assert sorted(ids - covered) == []
    assert sorted(covered - ids) == []


@pytest.mark.parametrize("row", load_rows(), ids=lambda r: r.id)
def test_the_cached_classification_is_the_classification_at_any_time(row: CatalogueRow) -> None:
    """`classify_timeless` (what the report uses) gives what `classify` gives at the line's
    time, or declines (None) for a reply whose hint names a moment."""
    from datetime import UTC, datetime

    from maillog_diag.core.classify import classify, classify_timeless

    cached = classify_timeless(row.reply, None, row.relay, None)
    for at in (datetime(2026, 11, 29, 3, 7, tzinfo=UTC), datetime(2026, 6, 1, 23, 59, tzinfo=UTC)):
        exact = classify(row.reply, relay=row.relay, at=at)
        if cached is None:
            assert exact.hint.text is not None  # only a reply that states a moment declines
        else:
            assert cached == exact
