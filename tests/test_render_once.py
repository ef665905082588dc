"""The text and table reports pass the report through `visible_data` once, not once per
section: the text must be what the sections give on the escaped report, and log text in
the header must still be escaped."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from maillog_diag.input.timestamps import resolve_zone
from maillog_diag.output.escape import visible_data
from maillog_diag.output.render import (
    TEXT_WIDTH,
    plain,
    render_daily_text,
    render_report_text,
    report_lines,
)
from maillog_diag.output.serialize import report_dict
from maillog_diag.scan.pipeline import ScanOptions, scan_report

from .conftest import SAMPLE_LOGS


def _report(log: Path) -> dict[str, Any]:
    zone = resolve_zone("UTC")
    builder, result = scan_report([str(log)], ScanOptions(zone=zone, year=2026))
    return report_dict(builder, result, zone, include_all=True, reasons=5)


LOGS = [
    SAMPLE_LOGS / "postfix" / "mail.log",
    SAMPLE_LOGS / "exim" / "mainlog",
    SAMPLE_LOGS / "sendmail" / "maillog",
]


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.parent.name)
@pytest.mark.parametrize("hourly", [False, True])
def test_text_report_is_the_sections_of_the_escaped_report(log: Path, hourly: bool) -> None:
    data = _report(log)
    out = io.StringIO()
    render_report_text(data, out, 3, hourly=hourly)
    lines = report_lines(visible_data(data), 3, TEXT_WIDTH, hourly=hourly)
    assert out.getvalue() == "".join(plain(line) + "\n" for line in lines)
    assert data == _report(log)  # the report itself is left as it was


def test_log_text_in_the_header_is_still_escaped() -> None:
    data = _report(LOGS[0])
    data["coverage"] = {"complete": False, "warnings": ["\x1b]0;owned\x07 \x9b2J"]}
    data["window"] = {"since": "\x1b[2J", "until": None, "excluded_domains": ["\x1bx"]}
    texts = []
    for hourly in (False, True):
        out = io.StringIO()
        render_report_text(data, out, 3, hourly=hourly)
        texts.append(out.getvalue())
    out = io.StringIO()
    render_daily_text(data, out, 3)
    texts.append(out.getvalue())
    for text in texts:
        assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text
        assert "\\x1b]0;owned\\x07" in text
