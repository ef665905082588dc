"""Summary files: `summarize` then `merge` renders what reading all the logs together gives;
damaged, foreign, newer or unmergeable summaries give one line and an exit status."""

from __future__ import annotations

import dataclasses
import gzip
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from maillog_diag.input.timestamps import resolve_zone
from maillog_diag.scan import summary
from maillog_diag.scan.pipeline import ScanOptions, scan_partial
from maillog_diag.scan.summary import decode, encode

from .conftest import FIXTURES, SAMPLE_LOGS

RUN = CliRunner()
SETTINGS = ["--tz", "UTC", "--year", "2026"]


def _invoke(*args: str) -> Any:
    return RUN.invoke(app, list(args))


def _json(*args: str) -> Any:
    res = _invoke(*args, "--format", "json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    return data


def _summarize(tmp: Path, name: str, *files: str, extra: tuple[str, ...] = ()) -> str:
    out = tmp / name
    res = _invoke("summarize", *files, *SETTINGS, *extra, "-o", str(out))
    assert res.exit_code == 0, res.output
    assert out.stat().st_size > 0
    return str(out)


def test_fleet_of_hosts_merges_to_the_report_of_all_logs(tmp_path: Path) -> None:
    """Three MTAs' logs as three hosts: every report format from the summaries equals
    reading the logs together, in the order given."""
    sendmail = tmp_path / "maillog"  # the sample's host is the Postfix sample's: rename it
    sendmail.write_text((SAMPLE_LOGS / "sendmail" / "maillog").read_text().replace(" vm ", " mx3 "))
    logs = [
        str(SAMPLE_LOGS / "postfix" / "mail.log"),
        str(SAMPLE_LOGS / "exim" / "mainlog"),
        str(sendmail),
    ]
    parts = [
        _summarize(tmp_path, "pf.summary.gz", logs[0]),
        _summarize(tmp_path, "ex.summary", logs[1]),
        _summarize(tmp_path, "sm.summary", logs[2]),
    ]
    with gzip.open(parts[0]) as f:
        assert json.load(f)["format"] == "maillog-diag-summary"
    together = _json("report", *logs, *SETTINGS)
    assert together["lines"]["total"] > 1000
    assert _json("merge", *parts) == together
    for fmt in ("text", "csv", "html"):
        merged = _invoke("merge", *parts, "--format", fmt)
        read = _invoke("report", *logs, *SETTINGS, "--format", fmt)
        assert merged.exit_code == read.exit_code == 0
        assert merged.stdout == read.stdout, fmt


def test_merge_tree_equals_one_merge(tmp_path: Path) -> None:
    logs = [str(SAMPLE_LOGS / "postfix" / "mail.log"), str(SAMPLE_LOGS / "exim" / "mainlog")]
    a = _summarize(tmp_path, "a.summary", logs[0])
    b = _summarize(tmp_path, "b.summary", logs[1])
    ab = tmp_path / "ab.summary"
    assert _invoke("merge", a, b, "-o", str(ab)).exit_code == 0
    assert _json("merge", str(ab)) == _json("merge", a, b)


def test_a_later_days_log_continues_the_summary_before_it(tmp_path: Path) -> None:
    """The same host's log cut in two (messages straddle the cut): the second summary made
    with --continued merges after the first into the report of both files read in order."""
    text = (SAMPLE_LOGS / "postfix" / "mail.log").read_text().splitlines(keepends=True)
    first, second = tmp_path / "mail.log.1", tmp_path / "mail.log"
    half = len(text) // 2
    first.write_text("".join(text[:half]))
    second.write_text("".join(text[half:]))
    a = _summarize(tmp_path, "day1.summary", str(first))
    b = _summarize(tmp_path, "day2.summary", str(second), extra=("--continued",))
    together = _json("report", str(first), str(second), *SETTINGS)
    assert together["totals"]["recipients_deferred"] > 0
    assert _json("merge", a, b) == together
    # Without --continued the second day's log claims to start the host's log.
    c = _summarize(tmp_path, "day2-alone.summary", str(second))
    res = _invoke("merge", a, c)
    assert res.exit_code == 2
    assert "both start the log of host" in res.stderr


def _one_line_error(res: Any, code: int, words: str) -> None:
    assert res.exit_code == code
    assert words in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.output


def test_damaged_foreign_and_newer_summaries(tmp_path: Path) -> None:
    good = Path(_summarize(tmp_path, "good.summary", str(SAMPLE_LOGS / "exim" / "mainlog")))
    doc = json.loads(good.read_text())
    bad = tmp_path / "bad.summary"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _one_line_error(_invoke("merge", str(bad)), 3, "not valid JSON")
    bad.write_bytes(gzip.compress(b"{not json"))
    _one_line_error(_invoke("merge", str(bad)), 3, "not valid JSON")
    bad.write_bytes(b"\x1f\x8b broken gzip")
    _one_line_error(_invoke("merge", str(bad)), 3, "not a readable summary")
    bad.write_text(json.dumps({"format": "something-else", "version": 1}))
    _one_line_error(_invoke("merge", str(bad)), 3, "not a maillog-diag summary")
    bad.write_text(json.dumps({**doc, "version": 99}))
    _one_line_error(_invoke("merge", str(bad)), 3, "newer than this maillog-diag")
    foreign = json.loads(good.read_text())
    foreign["scan"]["builder"] = {"@": "Popen", "args": ["rm", "-rf", "/"]}
    bad.write_text(json.dumps(foreign))
    _one_line_error(_invoke("merge", str(bad)), 3, "unknown record kind 'Popen'")
    wrong = json.loads(good.read_text())
    wrong["scan"]["counts"]["total"] = "many"
    bad.write_text(json.dumps(wrong))
    res = _invoke("merge", str(bad), "--format", "json")
    assert res.exit_code in (0, 3)
    assert "Traceback" not in res.output
    other = tmp_path / "other.summary"
    res = _invoke(
        "summarize", str(FIXTURES / "postfix_small.log"), "--tz", "Europe/Berlin", "-o", str(other)
    )
    assert res.exit_code == 0
    _one_line_error(_invoke("merge", str(good), str(other)), 2, "other settings")
    _one_line_error(_invoke("merge", str(tmp_path / "missing.summary")), 3, "missing.summary")


def test_encoding_round_trips_a_partial_scan_with_open_state() -> None:
    """A partial scan that starts inside a log (head, born keys, open messages, pending
    notes) survives JSON unchanged: encoding it again gives the same document."""
    zone = resolve_zone("UTC")
    options = ScanOptions(zone=zone, year=2026)
    part = scan_partial([str(SAMPLE_LOGS / "postfix" / "mail.log")], options, prior_unknown=True)
    assert part.state["head"] and part.state["born"]
    doc = json.dumps(encode(part))
    again = decode(json.loads(doc))
    assert json.dumps(encode(again)) == doc


@pytest.mark.parametrize("value", [{(1, "a"): {2.5}}, ("x", None, [1, {"k": (2,)}])])
def test_containers_round_trip(value: Any) -> None:
    assert decode(json.loads(json.dumps(encode(value)))) == value


def test_merge_reads_one_summary_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fleet's summaries are merged as they are read: the next summary is read only once
    the one before it is merged (memory holds one summary and the merged scan, not all)."""
    from maillog_diag.scan import partial, summary

    sendmail = tmp_path / "maillog"
    sendmail.write_text((SAMPLE_LOGS / "sendmail" / "maillog").read_text().replace(" vm ", " mx3 "))
    parts = [
        _summarize(tmp_path, "pf.summary", str(SAMPLE_LOGS / "postfix" / "mail.log")),
        _summarize(tmp_path, "ex.summary", str(SAMPLE_LOGS / "exim" / "mainlog")),
        _summarize(tmp_path, "sm.summary", str(sendmail)),
    ]
    steps: list[str] = []
    read, merge = summary.read_summary, partial.merge

    def reading(name: str, data: bytes) -> Any:
        steps.append(f"read {Path(name).name}")
        return read(name, data)

    def merging(a: Any, b: Any, options: Any) -> Any:
        steps.append("merge")
        return merge(a, b, options)

    monkeypatch.setattr(importlib.import_module("maillog_diag.cli.app"), "read_summary", reading)
    monkeypatch.setattr(partial, "merge", merging)
    _json("merge", *parts)
    assert steps == [
        "read pf.summary",
        "read ex.summary",
        "merge",
        "read sm.summary",
        "merge",
    ]


def test_merge_of_no_readable_first_summary_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.summary"
    bad.write_text("not a summary")
    res = _invoke("merge", str(bad))
    assert res.exit_code != 0
    assert "bad.summary" in res.stderr
    assert "Traceback" not in res.output


def test_records_come_back_with_the_container_types_they_declare() -> None:
    """A set and a frozenset are both written as a JSON list (`@s`) and read as a set; a
    field declared a frozenset (the window's excluded domains) is read back as one. The
    compiled build checks field types where they are read: a `set` there made `merge` of a
    summary with a window fail as damaged (`TypeError`)."""
    import typing

    from maillog_diag.core.window import MessageFilter
    from maillog_diag.scan.summary import _READ_AS, CLASSES, loads

    window = MessageFilter(since=1.0, exclude_domains=frozenset({"b.example", "a.example"}))
    back = loads(json.dumps(encode(window)))
    assert back == window and type(back.exclude_domains) is frozenset
    for name, cls in CLASSES.items():
        if not dataclasses.is_dataclass(cls):
            continue
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            if str(hints.get(field.name, "")).startswith("frozenset"):
                assert field.name in _READ_AS.get(name, {}), (name, field.name)


def _cause_records(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("@") == "CauseStat":
            found.append(node)
        for value in node.values():
            found.extend(_cause_records(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_cause_records(value))
    return found


def test_an_older_summary_reads_its_stated_intervals_as_the_hints(tmp_path: Path) -> None:
    """Versions 1 and 2 kept a cause's intervals twice: `stated` (the receiver's own
    replies, the median the reports show) and `hints` (in older files with the MTA's
    repeats as well). Version 3 keeps one table, `hints`: a version 2 file is read with
    its `stated` counts there, and gives the report its log gives."""
    log = str(SAMPLE_LOGS / "postfix" / "mail.log")
    new = _summarize(tmp_path, "new.summary", log)
    doc = json.loads(Path(new).read_text())
    assert doc["version"] == summary.VERSION
    causes = _cause_records(doc["scan"])
    assert causes and all("stated" not in c for c in causes)
    hinted = [c for c in causes if c["hints"]["@c"]]
    assert hinted, "the sample's causes state retry intervals"
    for cause in causes:  # as version 2 wrote it, with repeats counted in `hints`
        cause["stated"] = cause["hints"]
        cause["hints"] = {"@c": [[1, 1000]]}
    doc["version"] = 2
    old = tmp_path / "old.summary"
    old.write_text(json.dumps(doc))
    report = _json("report", log, *SETTINGS)
    medians = [c["retry_hint_median_seconds"] for d in report["destinations"] for c in d["causes"]]
    assert any(m is not None for m in medians)
    assert _json("merge", str(old)) == _json("merge", new) == report


def test_a_version_3_summary_with_domain_tables_merges_with_a_newer_one(tmp_path: Path) -> None:
    """Version 3 gave each destination's cause a table of recipient domains (its own
    domain, counted) and every cause a table of hint kinds; version 4 keeps the domains
    only for the causes across destinations, and the kinds in four counts. A version 3
    file, alone or merged with a version 4 file of another log, gives the report its
    logs give; a table of kinds that holds an unknown kind is a damaged file."""
    log = str(SAMPLE_LOGS / "postfix" / "mail.log")
    other = str(SAMPLE_LOGS / "postfix" / "maillog_file.log")
    new = _summarize(tmp_path, "new.summary", log)
    second = _summarize(tmp_path, "second.summary", other)
    doc = json.loads(Path(new).read_text())
    rows = doc["scan"]["builder"]["destinations"]["@d"]
    held = 0
    for _, row in rows:
        for cause in _cause_records(row):
            assert cause["domains"] is None
            cause["domains"] = {"@c": [[row["domain"], cause["count"] + cause["suspended"]]]}
            held += 1
    assert held, "the sample's destinations have causes"
    fields = {"explicit": "explicit_hints", "documented": "documented_hints"}
    fields.update(vague="vague_hints", none="no_hints")
    kinds = set()
    for cause in _cause_records(doc["scan"]):
        table = [[kind, cause.pop(name)] for kind, name in fields.items() if cause[name]]
        cause["hint_kinds"] = {"@c": table}
        kinds.update(kind for kind, _ in table)
    assert len(kinds) >= 2, kinds
    doc["version"] = 3
    old = tmp_path / "old.summary"
    old.write_text(json.dumps(doc))
    both = _json("merge", new, second)
    assert both["causes"] and any(c.get("domains") for c in both["causes"])
    assert _json("merge", str(old)) == _json("merge", new)
    assert _json("merge", str(old), second) == both
    assert _json("merge", second, str(old)) == _json("merge", second, new)
    cause = _cause_records(doc["scan"])[0]
    cause["hint_kinds"] = {"@c": [["sometimes", 1]]}
    old.write_text(json.dumps(doc))
    res = _invoke("merge", str(old), "--format", "json")
    assert res.exit_code == 3 and "damaged" in res.output and "Traceback" not in res.output


def test_a_field_of_the_wrong_type_is_a_damaged_summary(tmp_path: Path) -> None:
    """A summary comes from another host: a plain field holding the wrong type (`"count":
    "x"`, a table where a count goes) is refused as the file is read, one line and exit 3,
    in either build; before, the pure build met it in the middle of the merge (exit 70)."""
    log = str(FIXTURES / "postfix_small.log")
    good = Path(
        _summarize(tmp_path, "good.summary", log, str(SAMPLE_LOGS / "postfix" / "mail.log"))
    )
    doc = json.loads(good.read_text())
    records: list[dict[str, Any]] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("@"), str) and node["@"] in summary._CHECKS:
                records.append(node)
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(doc["scan"])
    tried: set[tuple[str, str]] = set()
    for record in records:
        kind = record["@"]
        for name, accepted in summary._CHECKS[kind].items():
            if name not in record or (kind, name) in tried:
                continue
            tried.add((kind, name))
            saved = record[name]
            record[name] = 7 if str in accepted else "x"
            with pytest.raises(summary.SummaryError, match="damaged summary"):
                summary.read_summary("hostile.summary", json.dumps(doc).encode())
            record[name] = saved
    kinds = {kind for kind, _ in tried}
    assert {"CauseStat", "ReasonStat", "DestinationStats", "Message", "Recipient"} <= kinds
    assert len(tried) > 60
    cause = next(r for r in records if r["@"] == "CauseStat")
    cause["count"] = "x"
    bad = tmp_path / "bad.summary"
    bad.write_text(json.dumps(doc))
    res = _invoke("merge", str(bad), "--format", "json")
    assert res.exit_code == 3 and "damaged summary" in res.output
    assert "CauseStat.count holds str" in res.output and "Traceback" not in res.output


def test_a_merge_that_cannot_vouch_for_one_pass_says_so(tmp_path: Path) -> None:
    """A queue id that arrives again just across the cut between two days: one pass takes
    the two arrivals as one message, a merge of the days' summaries cannot tell. Where
    reading the logs again in one pass is not possible (summaries), `merge` still writes
    the report but says why on stderr, with exit 3; before, it said nothing."""
    day1, day2 = tmp_path / "day1.log", tmp_path / "day2.log"
    day1.write_text("Nov 20 10:00:00 mx1 postfix/smtpd[100]: ABC1234567: client=a[192.0.2.1]\n")
    day2.write_text(
        "Nov 20 10:00:05 mx1 postfix/smtpd[101]: ABC1234567: client=b[192.0.2.2]\n"
        "Nov 20 10:00:06 mx1 postfix/qmgr[50]: ABC1234567: from=<a@example.org>, size=100,"
        " nrcpt=1 (queue active)\n"
    )
    a = _summarize(tmp_path, "day1.summary", str(day1))
    b = _summarize(tmp_path, "day2.summary", str(day2), extra=("--continued",))
    res = _invoke("merge", a, b, "--format", "json")
    assert res.exit_code == 3
    assert "cannot be merged exactly" in res.stderr and "ABC1234567" in res.stderr
    assert json.loads(res.stdout)["lines"]["total"] == 3  # the report is still written
    out = tmp_path / "both.summary"
    res = _invoke("merge", a, b, "-o", str(out))
    assert res.exit_code == 3 and "cannot be merged exactly" in res.stderr
    assert out.stat().st_size > 0
