"""One meaning of a deferral for all MTAs (issue 9): the Deferrals column and `check` count
attempts that were made (the receiver answered 4xx, or the connection failed); the MTA's own
repeats (Exim `retry time not reached`, Sendmail's host-status cache, Postfix `delivery
temporarily suspended`) are counted apart. Checked against the lab server's own record."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app

from .conftest import SAMPLE_LOGS

LABS = [
    ("postfix", SAMPLE_LOGS / "postfix" / "mail.log"),
    ("exim", SAMPLE_LOGS / "exim" / "mainlog"),
    ("sendmail", SAMPLE_LOGS / "sendmail" / "maillog"),
]

RCPT_STAGE = ("greylist", "greymilter", "greyplain", "ratelimit", "expire", "split")
"""Lab profiles that defer at RCPT: one truth record per deferred recipient attempt."""

ONE_RECIPIENT = ("slow", "throttle")
"""Lab profiles whose messages have one recipient there and fail the whole session (a
silent greeting, 421 at MAIL FROM): one failing session per deferred recipient attempt."""


def _truth_attempts(mta: str) -> Counter[str]:
    """Deferred attempts per destination as the receiving server recorded them."""
    count: Counter[str] = Counter()
    failed_sessions: set[tuple[str, str, int]] = set()
    for line in (SAMPLE_LOGS / mta / "truth.jsonl").read_text().splitlines():
        rec = json.loads(line)
        code, profile, stage = rec["code"], rec["profile"], rec["stage"]
        if profile in RCPT_STAGE and stage == "rcpt" and code and 400 <= code < 500:
            count[f"{profile}.test"] += 1
        if profile in ONE_RECIPIENT and (
            (code is None and stage == "connect") or (code and 400 <= code < 500)
        ):
            failed_sessions.add((profile, rec["server"], rec["session"]))
    for profile, _, _ in failed_sessions:
        count[f"{profile}.test"] += 1
    if mta == "exim":
        # Exim resends 452-refused recipients on the same connection: no deferral logged.
        del count["split.test"]
    return count


def _report(log: Path, *args: str) -> Any:
    res = CliRunner().invoke(app, ["report", str(log), "--tz", "UTC", "--all", *args])
    assert res.exit_code == 0, res.stderr
    return res.stdout


@pytest.mark.parametrize(("mta", "log"), LABS)
def test_deferrals_tried_agree_with_the_receiving_server(mta: str, log: Path) -> None:
    data = json.loads(_report(log, "--format", "json"))
    tried = {d["domain"]: d["deferrals_tried"] for d in data["destinations"]}
    truth = _truth_attempts(mta)
    assert truth  # the lab record is there
    for domain, n in truth.items():
        assert tried.get(domain, 0) == n, domain
    for d in [*data["destinations"], data["totals"]]:
        assert d["deferrals"] == d["deferrals_tried"] + d["deferrals_repeated"]


@pytest.mark.parametrize(("mta", "log"), LABS)
def test_recipient_json_splits_tried_and_repeated(mta: str, log: Path) -> None:
    res = CliRunner().invoke(app, ["messages", str(log), "--tz", "UTC", "--format", "jsonl"])
    repeated = 0
    for line in res.stdout.splitlines():
        for r in json.loads(line)["recipients"]:
            deferred = [a for a in r["attempts"] if a["status"] == "deferred"]
            assert r["deferrals_repeated"] == sum(1 for a in deferred if a["suspended"])
            assert r["deferrals_tried"] == len(deferred) - r["deferrals_repeated"]
            assert r["deferrals"] == len(deferred)
            repeated += r["deferrals_repeated"]
    assert repeated > 0  # every lab MTA repeated some failure without trying


@pytest.mark.parametrize(("mta", "log"), LABS)
def test_the_deferrals_column_counts_attempts_made(mta: str, log: Path) -> None:
    data = json.loads(_report(log, "--format", "json"))
    text = _report(log, "--format", "text")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Destination"))
    heads = lines[start].split()
    # 80-column text has short heads ("Defer"); wider layouts spell them out
    column = heads.index("Defer") if "Defer" in heads else heads.index("Deferrals")
    end = lines.index("", start)
    rows = {  # a row starts at the left edge; its cause may follow, indented, below it
        line.split()[0]: line.split() for line in lines[start + 1 : end] if line[:1] != " "
    }
    assert rows
    for d in data["destinations"]:
        row = rows.get(d["domain"])
        if row is None:
            continue
        assert row[column] == str(d["deferrals_tried"]), d["domain"]


def test_check_thresholds_count_attempts_made() -> None:
    # Exim's down.test: 12 connection attempts, 67 repeats of the refusal without trying
    log = SAMPLE_LOGS / "exim" / "mainlog"
    env = {"MAILLOG_DIAG_NOW": "2026-11-29T15:00:00+00:00", "MAILLOG_DIAG_CONFIG": ""}
    args = ["check", str(log), "--tz", "UTC", "--since", "2026-11-29"]
    data = json.loads(_report(log, "--format", "json"))
    worst = max(
        data["destinations"], key=lambda d: d["deferrals_tried"] - d["forced_split"]["deferrals"]
    )
    n = worst["deferrals_tried"] - worst["forced_split"]["deferrals"]
    res = CliRunner().invoke(app, [*args, "--warn-deferred", str(n + 1)], env=env)
    assert f"{n} deferral(s) at {worst['domain']}" in res.stdout, res.stdout
    res = CliRunner().invoke(app, [*args, "--warn-deferred", str(n)], env=env)
    assert res.stdout.startswith("MAILLOG WARNING")


@pytest.mark.parametrize(("mta", "log"), LABS)
def test_a_repeat_claims_no_retry_hint_it_did_not_receive(mta: str, log: Path) -> None:
    res = CliRunner().invoke(app, ["messages", str(log), "--tz", "UTC", "--format", "jsonl"])
    repeats = 0
    for line in res.stdout.splitlines():
        for r in json.loads(line)["recipients"]:
            for a in r["attempts"]:
                if a["status"] != "deferred" or not a["suspended"]:
                    continue
                repeats += 1
                # "retry time not reached", "delivery temporarily suspended", a host-status
                # cache hit: the MTA did not ask the receiver, so no hint was received
                assert (a["retry_hint"], a["retry_hint_seconds"]) == ("none", None), a["line"]
    assert repeats > 0


def test_gmails_two_split_replies_share_one_hint_convention() -> None:
    from maillog_diag.core.classify import classify

    relay = "gmail-smtp-in.l.google.com"
    one_domain = classify(
        "451-4.3.0 Multiple destination domains per transaction is unsupported. Please try again. abc - gsmtp",
        relay=relay,
    )
    too_many = classify(
        "452-4.5.3 Domain policy size per transaction exceeded, please try this recipient in a separate transaction. abc - gsmtp",
        relay=relay,
    )
    assert one_domain.cause.value == too_many.cause.value == "forced_split"
    assert (one_domain.hint.kind, one_domain.hint.seconds) == (
        too_many.hint.kind,
        too_many.hint.seconds,
    )


HOST_STATUS_LINE = re.compile(
    r"sm-mta\[\d+\]: \w+: to=<?([^>,]+)>?, .*xdelay=(\S+), .*relay=([^,]+), dsn=[\d.]+, "
    r"(?:reply=(.*), )?stat=(Deferred.*)$"
)


def test_a_sendmail_host_status_repeat_is_blamed_on_the_relays_failure() -> None:
    """A bare `stat=Deferred` from the host-status cache repeats the last failure Sendmail
    met at that relay (any message: the status is shared through HostStatusDirectory), not
    the recipient's previous cause nor the DSN code alone."""
    from maillog_diag.core.classify import classify

    log = SAMPLE_LOGS / "sendmail" / "maillog"
    last_failure: dict[str, str] = {}
    expected: dict[int, str] = {}
    for n, line in enumerate(log.read_text().splitlines(), 1):
        m = HOST_STATUS_LINE.search(line)
        if m is None:
            continue
        _, xdelay, relay, reply, stat = m.groups()
        host = relay.split(" ")[0]
        if " [" in relay or xdelay != "00:00:00":
            last_failure[host] = reply or stat.removeprefix("Deferred: ")
        elif stat == "Deferred" and host in last_failure:
            expected[n] = classify(last_failure[host]).cause.value
    assert expected  # the lab log has such repeats (busy.test)
    res = CliRunner().invoke(app, ["messages", str(log), "--tz", "UTC", "--format", "jsonl"])
    got = {}
    for line in res.stdout.splitlines():
        for r in json.loads(line)["recipients"]:
            for a in r["attempts"]:
                got[int(a["line"].rsplit(":", 1)[1])] = (a["cause"], a["suspended"])
    for n, cause in expected.items():
        assert got[n] == (cause, True), n
