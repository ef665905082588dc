"""Shared fixtures: a parser in UTC with a fixed year, and paths to data."""

from __future__ import annotations

from pathlib import Path

import pytest

import maillog_diag
from maillog_diag.input.timestamps import TimeParser, YearInference, resolve_zone
from maillog_diag.scan.lines import LineParser

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus" / "public"
SAMPLE_LOGS = ROOT / "sample_logs"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MTA_SAMPLES = {
    "postfix": SAMPLE_LOGS / "postfix" / "mail.log",
    "exim": SAMPLE_LOGS / "exim" / "mainlog",
    "sendmail": SAMPLE_LOGS / "sendmail" / "maillog",
    "opensmtpd": SAMPLE_LOGS / "opensmtpd" / "maillog",
}
"""One sample log per MTA, by MTA name."""

pure_only = pytest.mark.skipif(
    maillog_diag.compiled(),
    reason="patches or subclasses a class or function that compiled callers bind directly; "
    "the compiled build is held to this source's reports by tests/test_compiled.py",
)
"""For a test that swaps an internal path to compare it with another: meaningful for the
source, which the accelerated build (`tools/compiled/inplace.py`) is compared with."""


@pytest.fixture
def parser() -> LineParser:
    """A Postfix line parser reading yearless stamps as UTC in 2026."""
    return LineParser(TimeParser(resolve_zone("UTC"), YearInference(fixed=2026)))
