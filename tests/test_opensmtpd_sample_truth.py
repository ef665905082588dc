"""The real OpenSMTPD log of the lab (`sample_logs/opensmtpd/maillog`, Debian 12's OpenSMTPD
6.8 on loopback, through rsyslog) against what the lab's SMTP server recorded
(`truth.jsonl`) and what the workload injected (`workload.jsonl`).

OpenSMTPD does not log the Message-ID header, so deliveries are matched to the server's
record by the server's own queue id, which OpenSMTPD logs in the 250 reply it quotes
(`stat="250 2.0.0 Ok: queued as LAB245330002"`). The lab's settings (from
`tools/lab/opensmtpd_lab.sh`): `queue ttl 30m`, `ttl 20m` on the expire.test action.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from maillog_diag.core.model import Message, Outcome, Status
from maillog_diag.input.timestamps import resolve_zone
from maillog_diag.scan.pipeline import ScanOptions, collect_messages

from .conftest import SAMPLE_LOGS

OPENSMTPD = SAMPLE_LOGS / "opensmtpd"
LOG = OPENSMTPD / "maillog"
TRUTH = OPENSMTPD / "truth.jsonl"
WORKLOAD = OPENSMTPD / "workload.jsonl"
pytestmark = pytest.mark.skipif(
    not (LOG.is_file() and TRUTH.is_file() and WORKLOAD.is_file()),
    reason="no OpenSMTPD sample log",
)

TTL = {"expire.test": 20 * 60.0}
"""Queue lifetimes of the lab (seconds): expire.test's action has its own."""
DEFAULT_TTL = 30 * 60.0
_QUEUED_AS = re.compile(r"queued as ([A-Z0-9]+)")


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _jsonl(name: str) -> list[dict[str, Any]]:
    lines = (OPENSMTPD / name).read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _messages() -> list[Message]:
    messages, result = collect_messages(
        [str(LOG)], ScanOptions(zone=resolve_zone("UTC"), year=2026)
    )
    assert result.counts.unparsed == 0
    return messages


def _lab_domains() -> set[str]:
    """The domains the lab's server answered for."""
    return {r["rcpt"].split("@")[1] for r in _jsonl("truth.jsonl") if r.get("rcpt")}


def test_every_line_is_read() -> None:
    _, result = collect_messages([str(LOG)], ScanOptions(zone=resolve_zone("UTC"), year=2026))
    c = result.counts
    assert c.total == len(LOG.read_text().splitlines())
    assert c.unparsed == 0 and c.used > 0.4 * c.total


def test_deliveries_match_what_the_server_accepted() -> None:
    accepted: dict[tuple[str, str], float] = {}
    for r in _jsonl("truth.jsonl"):
        if r.get("stage") == "end_of_data" and r.get("accepted"):
            for rcpt in r["accepted_rcpts"]:
                accepted[(r["queue_id"], rcpt)] = _epoch(r["time"])
    assert accepted
    lab = _lab_domains()
    ours: Counter[tuple[str, str]] = Counter()
    when: dict[tuple[str, str], float] = {}
    for msg in _messages():
        for r in msg.recipients.values():
            if r.domain not in lab or r.outcome is not Outcome.DELIVERED:
                continue
            reply = r.attempts[-1].reply or ""
            m = _QUEUED_AS.search(reply)
            assert m is not None, reply
            key = (m[1], r.address)
            ours[key] += 1
            assert r.final_time is not None
            when[key] = r.final_time
    assert set(ours) == set(accepted)
    assert max(ours.values()) == 1
    for key, t in when.items():
        # the log's stamps have whole seconds and follow the server's 250
        assert accepted[key] - 1.0 <= t <= accepted[key] + 2.0, key


def test_rcpt_deferrals_match_the_servers_4xx_replies() -> None:
    truth = _jsonl("truth.jsonl")
    server = Counter(
        (r["rcpt"], r["text"])
        for r in truth
        if r.get("stage") == "rcpt" and 400 <= (r.get("code") or 0) < 500
    )
    texts = {text for _, text in server}
    assert server
    ours: Counter[tuple[str, str]] = Counter()
    for msg in _messages():
        for r in msg.recipients.values():
            for a in r.attempts:
                if a.status is Status.DEFERRED and a.reply in texts:
                    ours[(r.address, a.reply)] += 1
    assert ours == server


def test_data_deferrals_match_the_servers_4xx_replies() -> None:
    """A 4xx after the message body defers every recipient the server had accepted."""
    server = Counter(
        (rcpt, r["text"])
        for r in _jsonl("truth.jsonl")
        if r.get("stage") == "end_of_data" and 400 <= (r.get("code") or 0) < 500
        for rcpt in r["accepted_rcpts"]
    )
    texts = {text for _, text in server}
    assert server
    ours: Counter[tuple[str, str]] = Counter()
    for msg in _messages():
        for r in msg.recipients.values():
            for a in r.attempts:
                if a.status is Status.DEFERRED and a.reply in texts:
                    ours[(r.address, a.reply)] += 1
    assert ours == server


def test_mail_from_deferrals_are_one_verdict_per_server_reply() -> None:
    """A 4xx to MAIL FROM defers the whole transaction: each server reply is one group of
    deferrals (one message, same second) with its text."""
    replies = sorted(
        (_epoch(r["time"]), r["text"])
        for r in _jsonl("truth.jsonl")
        if r.get("stage") == "mail" and 400 <= (r.get("code") or 0) < 500
    )
    assert replies
    texts = {text for _, text in replies}
    groups: set[tuple[str, float, str]] = set()
    for msg in _messages():
        for r in msg.recipients.values():
            for a in r.attempts:
                if a.status is Status.DEFERRED and a.reply in texts:
                    groups.add((msg.queue_id, a.time, a.reply))
    ours = sorted((t, text) for _, t, text in groups)
    assert len(ours) == len(replies)
    for (t, text), (server_t, server_text) in zip(ours, replies, strict=True):
        assert text == server_text
        assert server_t - 1.0 <= t <= server_t + 2.0


def test_connection_failures_carry_the_receivers_words() -> None:
    """OpenSMTPD fails the waiting envelopes of a dead, silent or refusing receiver with
    `Network error on destination MXs`; the reason the report gives is the failed
    session's (a 421 banner as the server sent it, a refused connection, a timeout)."""
    banners = {
        r["text"]
        for r in _jsonl("truth.jsonl")
        if r.get("stage") == "connect" and 400 <= (r.get("code") or 0) < 500
    }
    assert banners
    by_domain: dict[str, Counter[str]] = {}
    for msg in _messages():
        for r in msg.recipients.values():
            for a in r.attempts:
                if a.status is Status.DEFERRED:
                    by_domain.setdefault(r.domain, Counter())[a.reply or ""] += 1
    everything = sum(by_domain.values(), Counter())
    assert "Network error on destination MXs" not in everything
    assert set(by_domain["down.test"]) == {"IO Error: Connection refused"}
    assert set(by_domain["slow.test"]) == {"Connection timeout"}
    busy_banner = {t for t in by_domain["busy.test"] if t.startswith("BANNER rejected: ")}
    assert busy_banner and {t.removeprefix("BANNER rejected: ") for t in busy_banner} <= banners


def _seconds(text: str) -> float:
    """`20m`, `30m43s`, `1h2m3s` (OpenSMTPD's durations) in seconds, for the test's own use."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    return float(sum(int(n) * units[u] for n, u in re.findall(r"([0-9]+)([dhms])", text)))


def test_expiries_end_each_envelope_at_its_queue_lifetime() -> None:
    """`relay: Expire for <evpid>: ..., delay=30m, stat=Envelope expired`: the recipient is
    expired at that line, held for the `delay=` OpenSMTPD counts from the envelope's
    creation, which is at least the queue lifetime (more when an attempt was in flight:
    slow.test's last attempt waited 300 s for a greeting)."""
    raw: dict[tuple[str, str], tuple[float, float]] = {}
    for line in LOG.read_text().splitlines():
        m = re.search(
            r"relay: Expire for ([0-9a-f]{16}): from=<[^>]*>, to=<([^>]*)>, .*delay=([0-9dhms]+),"
            r" stat=Envelope expired$",
            line,
        )
        if m is not None:
            stamp = datetime.strptime("2026 " + line[:15], "%Y %b %d %H:%M:%S")
            when = stamp.replace(tzinfo=UTC).timestamp()
            raw[(m[1][:8], m[2])] = (when, _seconds(m[3]))
    assert raw
    ours: dict[tuple[str, str], tuple[float, float]] = {}
    for msg in _messages():
        for r in msg.recipients.values():
            if r.outcome is Outcome.EXPIRED:
                assert msg.arrived is not None and msg.arrival_seen
                assert r.final_time is not None
                ours[(msg.queue_id, r.address)] = (r.final_time, r.final_time - msg.arrived)
    assert set(ours) == set(raw)
    for key, (when, delay) in raw.items():
        ttl = TTL.get(key[1].split("@")[1], DEFAULT_TTL)
        assert ttl <= delay <= ttl + 300 + 60, key
        assert ours[key][0] == when
        assert abs(ours[key][1] - delay) <= 1.0, key  # whole-second stamps


def test_held_times_match_injection_to_the_servers_250() -> None:
    """From the workload's injection to the server's 250 for each delivered recipient of
    an injected message (OpenSMTPD's own bounces are not in the workload)."""
    injected = {w["message_id"]: _epoch(w["time"]) for w in _jsonl("workload.jsonl")}
    expected: dict[tuple[str, str], float] = {}
    for r in _jsonl("truth.jsonl"):
        if r.get("stage") == "end_of_data" and r.get("accepted"):
            start = injected.get(r["message_id"])
            if start is None:
                continue
            for rcpt in r["accepted_rcpts"]:
                expected[(r["queue_id"], rcpt)] = _epoch(r["time"]) - start
    assert expected
    checked = 0
    for msg in _messages():
        for r in msg.recipients.values():
            if r.outcome is not Outcome.DELIVERED:
                continue
            m = _QUEUED_AS.search(r.attempts[-1].reply or "")
            key = (m[1], r.address) if m is not None else None
            if key not in expected:
                continue
            assert msg.arrived is not None and r.final_time is not None
            held = r.final_time - msg.arrived
            # whole-second stamps at both ends, and submission takes a moment
            assert abs(held - expected[key]) <= 3.0, (key, held, expected[key])
            checked += 1
    assert checked == len(expected)


def test_each_injected_message_is_one_message() -> None:
    workload = _jsonl("workload.jsonl")
    ours = [m for m in _messages() if m.sender]
    assert len(ours) == len(workload)
    assert sorted(len(m.recipients) for m in ours if m.recipients) == sorted(
        len(w["rcpts"]) for w in workload
    )


def test_relays_named_otherwise_than_their_hosts_are_linked_through_their_routes(
    tmp_path: Path,
) -> None:
    """The lab's relays are addresses, named alike on the session and the delivery lines. A
    relay by host name (a smarthost `relay host smtp://smtp.provider.example`, or a domain
    with MX relaying) is named only on the delivery and `No valid route for` lines: rename
    the relays there. A relay failure is then linked through the one route out of use; when
    several routes are out at once (down.test and busy.test failing together), the log does
    not say which is the relay's, and the summary must stay: never another session's words."""
    renamed = re.sub(
        r'(relay="|\[relay:)(127\.0\.0\.[0-9]+)(?=[",])', r"\1relay-\2.example", LOG.read_text()
    )
    assert renamed.count("relay-127.0.0.") >= 29 + 16
    copy = tmp_path / "maillog"
    copy.write_text(renamed)

    summary = "Network error on destination MXs"

    def reasons(path: Path) -> dict[tuple[str, str, float], tuple[str, bool]]:
        """Each deferral's reason, and whether its line is a relay failure (the summary)."""
        # keep_lines: the raw text of each attempt's line (only `trace` keeps it otherwise)
        messages, result = collect_messages(
            [str(path)], ScanOptions(zone=resolve_zone("UTC"), year=2026, keep_lines=True)
        )
        assert result.counts.unparsed == 0
        return {
            (m.queue_id, r.address, a.time): (
                a.reply or "",
                a.ref is not None and f'stat="{summary}"' in a.ref.text,
            )
            for m in messages
            for r in m.recipients.values()
            for a in r.attempts
            if a.status is Status.DEFERRED
        }

    original, by_route = reasons(LOG), reasons(copy)
    assert set(by_route) == set(original)
    relay_failures = [k for k, (_, failure) in original.items() if failure]
    assert len(relay_failures) == renamed.count(f'stat="{summary}"')
    for k in relay_failures:
        assert original[k][0] != summary  # linked by the relay's address
    linked = [k for k in relay_failures if by_route[k][0] != summary]
    assert all(by_route[k] == original[k] for k in linked)  # never another session's words
    assert len(linked) > len(relay_failures) // 2
    assert all(by_route[k] == original[k] for k in original if k not in relay_failures)


@pytest.mark.parametrize(
    ("domain", "failure"),
    [("slow.test", "Connection timeout"), ("down.test", "Connection refused")],
)
def test_one_failed_connection_is_one_try_however_many_envelopes_it_defers(
    domain: str, failure: str
) -> None:
    """A relay failure defers every envelope waiting for the route; only one connection was
    tried. The deferrals that were tries equal the failed sessions the log shows (`mta
    error` / `Error on session` lines), the others are repeats."""
    sessions = sum(
        1
        for line in LOG.read_text().splitlines()
        if failure in line and ("mta error" in line or "Error on session" in line)
    )
    attempts = [
        a
        for m in _messages()
        for r in m.recipients.values()
        if r.domain == domain
        for a in r.attempts
        if a.status is Status.DEFERRED
        and a.reply == failure.replace("Connection refused", "IO Error: Connection refused")
    ]
    tried = [a for a in attempts if not a.suspended]
    assert sessions > 0 and len(attempts) > sessions
    assert len(tried) == sessions
