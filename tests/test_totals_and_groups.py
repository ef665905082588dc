"""What pflogsumm users look for (issue 11): traffic totals first, per-hour traffic of all
mail, `report --by destination|sender|relay|instance`, healthy destinations with
`--all`, the sender domains a destination delays, and the MTA's own warnings, errors and
panics counted by kind with one example each. On Postfix, Exim and Sendmail alike; the
figures are checked against the per-message JSON, not against the report itself."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app

from .conftest import FIXTURES, MTA_SAMPLES, pure_only

COMMON = ["--tz", "UTC", "--year", "2026"]
ENV = {"MAILLOG_DIAG_CONFIG": ""}
LOGS = MTA_SAMPLES


def _invoke(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args), env=ENV)
    return res.exit_code, res.stdout


def _report(log: str, *extra: str) -> dict[str, Any]:
    code, out = _invoke("report", log, *COMMON, "--format", "json", *extra)
    assert code == 0, out
    data: dict[str, Any] = json.loads(out)
    return data


def _messages(log: str) -> list[dict[str, Any]]:
    code, out = _invoke("messages", log, *COMMON, "--format", "json")
    assert code == 0
    data: list[dict[str, Any]] = json.loads(out)
    return data


def _counted(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages the report counts: at least one recipient not merely handed on locally
    (Sendmail's submission copy); the report's `messages` says how many."""
    return [m for m in messages if m["recipients"]]


@pytest.mark.parametrize("mta", sorted(LOGS))
def test_totals_carry_the_pflogsumm_figures(mta: str) -> None:
    log = str(LOGS[mta])
    data = _report(log, "--all")
    totals = data["totals"]
    for key in (
        "received",
        "delivered",
        "deferrals",
        "bounced",
        "expired",
        "rejected",
        "bytes_received",
        "bytes_delivered",
    ):
        assert key in totals, key
    assert totals["received"] == data["messages"]
    rows = data["destinations"]
    assert totals["delivered"] == sum(d["delivered"] for d in rows)
    assert totals["bytes_delivered"] == sum(d["bytes_delivered"] for d in rows)
    # bytes delivered: each delivered recipient carries its message's size
    messages = _messages(log)
    by_size = sum(
        (m["size"] or 0) for m in messages for r in m["recipients"] if r["outcome"] == "delivered"
    )
    if mta == "sendmail":  # the submission copies handed to the local sm-mta do not count
        assert 0 < totals["bytes_delivered"] < by_size
    else:
        assert totals["bytes_delivered"] == by_size
    sizes = [m["size"] for m in _counted(messages) if m["size"] is not None]
    if mta != "sendmail":
        assert totals["bytes_received"] == sum(sizes)
    _, text = _invoke("report", log, *COMMON, "--format", "text")
    assert f"Received: {totals['received']:,} messages" in text
    assert f"rejected on arrival: {totals['rejected']:,}" in text
    # per-hour traffic of all mail, not only delayed mail
    assert sum(h["delivered"] for h in data["traffic"]) == totals["delivered"]
    assert sum(h["deferrals"] for h in data["traffic"]) == totals["deferrals"]


def test_inbound_rejects_are_counted(tmp_path: Path) -> None:
    text = (FIXTURES / "postfix_small.log").read_text()
    reject = (
        "Nov 29 10:30:00 mx1 postfix/smtpd[120]: NOQUEUE: reject: RCPT from "
        "unknown[198.51.100.7]: 554 5.7.1 <x@local.example>: Relay access denied; "
        "from=<a@b.example> to=<x@local.example> proto=ESMTP helo=<b>\n"
    )
    log = tmp_path / "mail.log"
    log.write_text(text + reject * 3)
    assert _report(str(log))["totals"]["rejected"] == 3
    code, out = _invoke("stats", str(log), *COMMON)
    assert json.loads(out)["ignored_by_reason"]["postfix/smtpd inbound reject"] == 3


@pytest.mark.parametrize("mta", sorted(LOGS))
def test_report_by_sender_groups_whose_mail_it_is(mta: str) -> None:
    log = str(LOGS[mta])
    data = _report(log, "--by", "sender", "--all")
    assert data["by"] == "sender"
    assert data["destinations"] and data["destinations"][0]["domain"]  # still there
    groups = data["groups"]
    assert groups and all(g["key"] == g["domain"] for g in groups)
    totals = data["totals"]
    assert sum(g["recipients"] for g in groups) == totals["recipients"]
    assert sum(g["recipients_deferred"] for g in groups) == totals["recipients_deferred"]
    expected: Counter[str] = Counter()
    for m in _messages(log):
        sender = m["sender"]
        key = (
            "(unknown sender)"
            if sender is None
            else "(null sender)"
            if sender == ""
            else sender.rpartition("@")[2].lower()
        )
        for r in m["recipients"]:
            if r["deferrals"]:
                expected[key] += 1
    shown = {g["key"]: g["recipients_deferred"] for g in groups if g["recipients_deferred"]}
    assert shown == dict(expected)


@pytest.mark.parametrize("mta", sorted(LOGS))
@pytest.mark.parametrize("by", ["relay", "instance"])
def test_report_by_relay_and_instance(mta: str, by: str) -> None:
    log = str(LOGS[mta])
    data = _report(log, "--by", by, "--all")
    assert data["by"] == by
    assert sum(g["recipients"] for g in data["groups"]) == data["totals"]["recipients"]
    _, text = _invoke("report", log, *COMMON, "--format", "text", "--by", by)
    assert by.capitalize() in text.split("\n\n")[1].splitlines()[0]
    if by == "instance":
        hosts = {m["host"] for m in _messages(log)}
        assert all(g["key"].split(" ")[0] in hosts for g in data["groups"])


def test_default_report_has_no_groups_and_bad_by_is_a_usage_error() -> None:
    data = _report(str(LOGS["postfix"]))
    assert "groups" not in data and "by" not in data
    code, _ = _invoke("report", str(LOGS["postfix"]), *COMMON, "--by", "colour")
    assert code == 2


def test_all_shows_healthy_destinations_with_delivery_times() -> None:
    log = str(LOGS["postfix"])
    data = _report(log, "--all")
    healthy = [d for d in data["destinations"] if not d["recipients_deferred"] and d["delivered"]]
    assert healthy
    times: dict[str, list[float]] = {}
    for m in _messages(log):
        for r in m["recipients"]:
            if r["outcome"] == "delivered" and r["held_seconds"] is not None:
                times.setdefault(r["domain"], []).append(r["held_seconds"])
    for d in healthy:
        got = d["delivery_seconds"]
        values = times[d["domain"]]
        assert got["max"] == pytest.approx(max(values), abs=0.01)
        assert got["mean"] == pytest.approx(sum(values) / len(values), abs=0.01)
    _, text = _invoke("report", log, *COMMON, "--format", "text", "--all")
    assert "Destinations without trouble" in text
    assert healthy[0]["domain"] in text
    _, plain = _invoke("report", log, *COMMON, "--format", "text")
    assert "Destinations without trouble" not in plain


@pytest.mark.parametrize("mta", sorted(LOGS))
def test_top_sender_domains_per_destination(mta: str) -> None:
    log = str(LOGS[mta])
    data = _report(log)
    expected: dict[str, Counter[str]] = {}
    for m in _messages(log):
        sender = (m["sender"] or "").rpartition("@")[2].lower() or "(null sender)"
        for r in m["recipients"]:
            if r["deferrals"]:
                expected.setdefault(r["domain"], Counter())[sender] += 1
    for d in data["destinations"]:
        if d["domain"] in expected and d["recipients_deferred"]:
            got = {s["domain"]: s["count"] for s in d["senders"]}
            assert got == dict(expected[d["domain"]].most_common(5)), d["domain"]


def test_mta_warnings_are_counted_by_kind_with_an_example(tmp_path: Path) -> None:
    log = LOGS["postfix"]
    lines = log.read_text().splitlines()
    warnings = [
        i for i, line in enumerate(lines, 1) if "postfix/bounce[" in line and ": warning:" in line
    ]
    assert warnings
    data = _report(str(log))
    problem = next(p for p in data["mta_problems"] if p["kind"] == "postfix/bounce warning")
    assert problem["count"] == len(warnings)
    assert problem["example_line"] == f"{log}:{warnings[0]}"
    assert problem["example"] == lines[warnings[0] - 1]
    _, text = _invoke("report", str(log), *COMMON, "--format", "text")
    assert "MTA warnings, errors and panics" in text and "postfix/bounce warning" in text
    # Exim's and Sendmail's own: a mainlog "Warning:" line, a Sendmail SYSERR
    exim = tmp_path / "mainlog"
    exim.write_text(
        (FIXTURES / "exim_small.log").read_text()
        + "2026-11-29 10:30:00 Warning: purging the environment.\n"
    )
    kinds = {p["kind"]: p["count"] for p in _report(str(exim))["mta_problems"]}
    assert kinds.get("exim warning") == 1
    sendmail = tmp_path / "maillog"
    sendmail.write_text(
        (FIXTURES / "sendmail_small.log").read_text()
        + "Nov 29 10:30:00 mx1 sm-mta[999]: SYSERR(root): cannot open /etc/mail/x: No such file\n"
    )
    kinds = {p["kind"]: p["count"] for p in _report(str(sendmail))["mta_problems"]}
    assert kinds.get("sendmail syserr") == 1
    code, out = _invoke("stats", str(sendmail), *COMMON)
    lines_total = json.loads(out)["lines"]
    assert (
        lines_total["total"]
        == lines_total["used"] + lines_total["ignored"] + lines_total["unparsed"]
    )


def test_csv_follows_the_grouping() -> None:
    log = str(LOGS["postfix"])
    data = _report(log, "--by", "relay")
    code, out = _invoke("report", log, *COMMON, "--format", "csv", "--by", "relay")
    assert code == 0
    rows = out.splitlines()
    assert rows[0].startswith("relay,recipients,")
    assert [r.split(",")[0] for r in rows[1:]] == [g["key"] for g in data["groups"]]


@pure_only
@pytest.mark.parametrize(
    "log",
    list(MTA_SAMPLES.values()),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_the_short_path_for_clean_mail_counts_as_the_general_one(
    log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ReportBuilder._add_clean` counts mail delivered at every attempt by a loop of its
    own: the whole report (every destination, `--all`) must be what the general
    bookkeeping gives when no message takes it."""
    from maillog_diag.core.analysis import ReportBuilder

    def report() -> Any:
        result = CliRunner().invoke(
            app,
            ["report", str(log), "--all", "--format", "json", "--tz", "UTC", "--year", "2026"],
            env={"MAILLOG_DIAG_NOW": "2026-12-02T00:00:00+00:00", "MAILLOG_DIAG_CONFIG": ""},
        )
        data = json.loads(result.stdout)
        data.pop("timings", None)
        return data

    taken = 0
    original = ReportBuilder._add_clean

    def counting(self: ReportBuilder, msg: Any) -> bool:
        nonlocal taken
        done = original(self, msg)
        taken += done
        return done

    monkeypatch.setattr(ReportBuilder, "_add_clean", counting)
    short = report()
    assert taken  # the short path was taken for some of this log's mail
    monkeypatch.setattr(ReportBuilder, "_add_clean", lambda self, msg: False)
    assert report() == short
