"""Golden reports: the sample logs' JSON reports, reviewed by reading them, must not drift.

To change a golden file, regenerate it with the command in `tests/golden/README.md`, then
read the diff line by line before committing it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app

from .conftest import ROOT, SAMPLE_LOGS

GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = sorted(GOLDEN.glob("*/*.report.json"))


def _report(log: Path) -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        [
            "report",
            str(log.relative_to(ROOT)),
            "--tz",
            "UTC",
            "--year",
            "2026",
            "--format",
            "json",
            "--reasons",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("golden", CASES, ids=[f"{g.parent.name}/{g.name}" for g in CASES])
def test_report_matches_golden(golden: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    log = SAMPLE_LOGS / golden.parent.name / golden.name.removesuffix(".report.json")
    assert _report(log) == json.loads(golden.read_text())


def _without_line_refs(report: dict[str, Any]) -> dict[str, Any]:
    for d in report["destinations"]:
        for r in d["reasons"]:
            r.pop("example_line")
    return report


def test_rfc3339_copy_of_the_same_run_gives_the_same_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """mail.log and mail.log.rfc3339 were written by rsyslog from the same Postfix run."""
    monkeypatch.chdir(ROOT)
    bsd = _without_line_refs(_report(SAMPLE_LOGS / "postfix" / "mail.log"))
    iso = _without_line_refs(_report(SAMPLE_LOGS / "postfix" / "mail.log.rfc3339"))
    # RFC 3339 stamps carry microseconds: spans and held times may differ by < 1 s
    assert iso["lines"] == bsd["lines"]
    assert [d["domain"] for d in iso["destinations"]] == [d["domain"] for d in bsd["destinations"]]
    for a, b in zip(iso["destinations"], bsd["destinations"], strict=True):
        for key in (
            "recipients",
            "delivered",
            "recipients_deferred",
            "delivered_after_delay",
            "bounced",
            "expired",
            "held",
            "deferrals",
        ):
            assert a[key] == b[key], (a["domain"], key)
        for q in ("p50", "p95", "max"):
            if b["held_seconds"][q] is not None:
                assert abs(a["held_seconds"][q] - b["held_seconds"][q]) < 1.0
        assert [r["reason"] for r in a["reasons"]] == [r["reason"] for r in b["reasons"]]
