"""Reasons condensed the same way for every MTA (issue 11): Exim's protocol trace numbers
do not split a reason, its own "retry time not reached" ranks after the receiver's reply
and counts under it, no cause row reads `0 x`; Sendmail's bare `stat=Deferred` is neither
a reason nor a `protocol` cause."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.core.reasons import reason_key

from .conftest import SAMPLE_LOGS

COMMON = ["--tz", "UTC", "--year", "2026"]
EXIM = str(SAMPLE_LOGS / "exim" / "mainlog")
SENDMAIL = str(SAMPLE_LOGS / "sendmail" / "maillog")
POSTFIX = str(SAMPLE_LOGS / "postfix" / "mail.log")
OPENSMTPD = str(SAMPLE_LOGS / "opensmtpd" / "maillog")


def _run(*args: str) -> str:
    res = CliRunner().invoke(app, list(args), env={"MAILLOG_DIAG_CONFIG": ""})
    assert res.exit_code == 0, res.output
    return res.stdout


def _report(log: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_run("report", log, *COMMON, "-f", "json", "--reasons", "9"))
    return data


def test_protocol_numbers_do_not_split_a_reason() -> None:
    base = "SMTP error from remote mail server after pipelined MAIL FROM:<a@b.example> "
    tail = ": 421 4.7.0 [TSS04] Messages temporarily deferred"
    assert reason_key(base + "SIZE=1594" + tail) == reason_key(base + "SIZE=1592" + tail)
    assert reason_key("timeout (802 bytes written)") == reason_key("timeout (17 bytes written)")
    assert "4.7.0" in reason_key(base + "SIZE=1594" + tail)  # codes stay
    throttle = next(d for d in _report(EXIM)["destinations"] if d["domain"] == "throttle.test")
    tss = [r for r in throttle["reasons"] if "TSS04" in r["reason"]]
    assert len(tss) == 1 and "SIZE=<n>" in tss[0]["reason"]


def test_exim_repeats_rank_after_the_receivers_reply() -> None:
    for d in _report(EXIM)["destinations"]:
        if not d["reasons"]:
            continue
        assert "retry time not reached" not in d["reasons"][0]["reason"], d["domain"]
    text = _run("report", EXIM, *COMMON, "-f", "text", "--reasons", "9")
    assert not re.search(r"^\s+0 x ", text, re.M)


@pytest.mark.parametrize("log", [EXIM, SENDMAIL, POSTFIX, OPENSMTPD])
def test_no_cause_row_counts_zero(log: str) -> None:
    text = _run("report", log, *COMMON, "-f", "text", "--reasons", "9")
    html = _run("report", log, *COMMON, "-f", "html", "--reasons", "9")
    assert not re.search(r"^\s+0 x ", text, re.M)
    assert "<li>0 x " not in html


def test_sendmail_bare_status_is_no_reason_and_no_protocol_cause() -> None:
    data = _report(SENDMAIL)
    for d in data["destinations"]:
        assert all(r["reason"] != "Deferred" for r in d["reasons"]), d["domain"]
    busy = next(d for d in data["destinations"] if d["domain"] == "busy.test")
    assert [c["cause"] for c in busy["causes"]] == ["receiver_unavailable"]
    # every deferral is still counted: the reasons add up to the deferrals
    assert sum(r["count"] for r in busy["reasons"]) == busy["deferrals"]
