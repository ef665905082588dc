"""A reader that says it reads no lines without a syslog header (`reads_bare = False`) is
not asked about them, and indeed reads none: its `parse_bare` and `line_time` say no to
every line of every sample log."""

from __future__ import annotations

from maillog_diag.input.timestamps import TimeParser, YearInference, resolve_zone
from maillog_diag.mta import readers

from .conftest import FIXTURES, SAMPLE_LOGS


def test_readers_that_read_no_bare_lines_read_none() -> None:
    found = readers(TimeParser(resolve_zone("UTC"), YearInference(fixed=2026)))
    syslog_only = [r for r in found if not r.reads_bare]
    assert {r.mta for r in syslog_only} >= {"postfix", "opensmtpd"}
    assert any(r.reads_bare for r in found)  # Exim's mainlog needs one
    paths = [
        p for p in SAMPLE_LOGS.glob("*/*") if p.is_file() and p.suffix not in {".jsonl", ".md"}
    ]
    lines = [
        ln
        for p in [*paths, *FIXTURES.glob("*.log")]
        for ln in p.read_text(errors="replace").splitlines()
    ]
    assert len(lines) > 1000
    for reader in syslog_only:
        assert [ln for ln in lines if reader.parse_bare(ln) is not None] == []
        assert [ln for ln in lines if reader.line_time(ln) is not None] == []
