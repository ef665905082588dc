"""The work done when a message closes (issue 12) takes shortcuts for the common cases:
rows made without `Counter.__init__`, recipients delivered at every attempt not
diagnosed. Each shortcut must give exactly what the general path gives, down to the state a
summary ships (its dict and Counter order included: `summary.encode` keeps it)."""

from __future__ import annotations

import pickle
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from maillog_diag.core.analysis import (
    CauseStat,
    DestinationStats,
    ReportBuilder,
    ScheduleStats,
    _new_counter,
)
from maillog_diag.core.causes import Cause
from maillog_diag.core.counts import SortedCounts
from maillog_diag.core.hints import HintKind
from maillog_diag.core.hours import HourCounts
from maillog_diag.core.model import Message, Outcome, Status
from maillog_diag.scan import summary

from .conftest import MTA_SAMPLES, pure_only
from .test_bench_generator import write_generated


def test_a_counter_made_without_init_is_an_empty_counter() -> None:
    made = _new_counter()
    assert type(made) is Counter
    assert made == Counter() and not made
    assert made["absent"] == 0 and "absent" not in made
    made["a"] += 2
    made.update({"a": 1, "b": 1})
    assert made == Counter({"a": 3, "b": 1})
    assert pickle.loads(pickle.dumps(made)) == made
    assert _new_counter() is not _new_counter()


def test_rows_made_with_the_cheap_counters_equal_rows_made_with_counter() -> None:
    row = DestinationStats("example.com")
    for name in ("mtas", "deferrals_by_mta", "senders"):
        assert type(getattr(row, name)) is Counter
    for name in ("hourly_deferrals", "hourly_held"):  # (`core.hours`; summaries write counts)
        assert type(getattr(row, name)) is HourCounts and not getattr(row, name)
    assert summary.encode(row) == summary.encode(
        DestinationStats(
            "example.com",
            mtas=Counter(),
            hourly_deferrals=HourCounts(),
            hourly_held=HourCounts(),
            deferrals_by_mta=Counter(),
            senders=Counter(),
            schedule=ScheduleStats(
                hints=Counter(),
                gaps=SortedCounts(),
                early_gaps=SortedCounts(),
                late_gaps=SortedCounts(),
            ),
        )
    )
    cause = CauseStat(Cause.GREYLISTING, None, None, domains=Counter())
    assert all(type(c) is Counter and not c for c in (cause.hints, cause.hint_kinds, cause.domains))


def test_schedule_from_a_version_1_summary_still_gets_counters() -> None:
    record = {"@": "ScheduleStats", "hints": [60, 60, 300], "gaps": [61.0]}
    old = summary.decode({**record, "early_gaps": [], "late_gaps": [900.0]})
    assert old.hints == Counter({60: 2, 300: 1}) and type(old.hints) is Counter
    assert old.gaps == Counter({61.0: 1}) and old.early_gaps == Counter()
    assert old.late_gaps == Counter({900.0: 1})
    assert all(type(c) is SortedCounts for c in (old.gaps, old.early_gaps, old.late_gaps))
    kept = Counter({5: 1})
    assert ScheduleStats(hints=kept).hints is kept


def _messages(log: Path) -> list[Message]:
    """The messages a report of `log` hands to its builder, in order."""
    from typer.testing import CliRunner

    from maillog_diag.cli.app import app

    seen: list[Message] = []
    original = ReportBuilder.add

    def recording(self: ReportBuilder, msg: Message, carried: frozenset[str] = frozenset()) -> None:
        seen.append(msg)
        original(self, msg, carried)

    mp = pytest.MonkeyPatch()
    mp.setattr(ReportBuilder, "add", recording)
    try:
        CliRunner().invoke(
            app,
            ["report", str(log), "--format", "json", "--tz", "UTC", "--year", "2026"],
            env={"MAILLOG_DIAG_NOW": "2026-12-02T00:00:00+00:00", "MAILLOG_DIAG_CONFIG": ""},
        )
    finally:
        mp.undo()
    return seen


@pytest.fixture(scope="module")
def generated_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated Postfix log with deferrals, bounces and mail still held at the end."""
    return write_generated(tmp_path_factory.mktemp("close") / "mail.log", 12, 6_000)


def _logs(generated: Path) -> list[Path]:
    return [*MTA_SAMPLES.values(), generated]


def _state(builder: ReportBuilder) -> Any:
    """Everything a builder holds, in its order (as a summary would write it)."""
    return {name: summary.encode(value) for name, value in vars(builder).items()}


@pure_only
@pytest.mark.parametrize("by", ["destination", "sender"])
def test_the_builder_state_does_not_depend_on_the_short_paths(
    generated_log: Path, by: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every short path of the close turned off (`_add_clean` refusing every message,
    every recipient diagnosed), the builder holds the same state, in the same order."""
    for log in _logs(generated_log):
        messages = _messages(log)
        assert messages
        fast = ReportBuilder(by=by)
        for msg in messages:
            fast.add(msg)
        with monkeypatch.context() as m:
            m.setattr(ReportBuilder, "_add_clean", lambda self, msg: False)
            slow = ReportBuilder(by=by)
            for msg in messages:
                slow.add(msg)
        assert _state(fast) == _state(slow), log


def _general_diagnosis(msg: Message) -> dict[str, Any]:
    """`diagnose_message` without its short path for recipients sent at every attempt."""
    from maillog_diag.core import diagnosis

    splits = diagnosis._split_transactions(msg)
    result: dict[str, Any] = {}
    for address, rcpt in msg.recipients.items():
        classes = diagnosis.classify_attempts(rcpt.attempts)
        diag = diagnosis.RecipientDiagnosis(
            classes, diagnosis.check_schedule(rcpt.attempts, classes)
        )
        diagnosis._splits(msg, rcpt, classes, splits, diag)
        pairs = list(zip(reversed(rcpt.attempts), reversed(classes), strict=True))
        for a, cls in pairs:
            if cls is not None and a.status is Status.DEFERRED:
                diag.last_cause = cls
                break
        for a, cls in pairs:
            if cls is not None and a.status is Status.DEFERRED and not a.suspended:
                if rcpt.outcome is Outcome.HELD and cls.hint.seconds is not None:
                    diag.retry_after = a.time + cls.hint.seconds
                break
        result[address] = diag
    return result


def test_diagnose_message_equals_the_general_loop(generated_log: Path) -> None:
    from maillog_diag.core.diagnosis import diagnose_message

    compared = 0
    for log in _logs(generated_log):
        for msg in _messages(log):
            assert diagnose_message(msg) == _general_diagnosis(msg)
            compared += 1
    assert compared


def test_stage_by_value_is_the_enum_call() -> None:
    from maillog_diag.core.classify import Stage
    from maillog_diag.core.diagnosis import _stage

    for stage in Stage:
        assert _stage(stage.value) is Stage(stage.value)
        assert _stage(stage) is stage
    for word in ("", "RCPT", "rcpt ", "nonsense"):
        assert _stage(word) is None
    assert _stage(None) is None


def test_destinations_share_their_deferral_keys(generated_log: Path) -> None:
    """Each destination counts deferrals by (MTA, cause, suspended): one tuple for each key,
    shared by every destination's table, not one of its own per table."""
    builder = ReportBuilder()
    for msg in _messages(generated_log):
        builder.add(msg)
    keys = [key for d in builder.destinations.values() for key in d.deferrals_by_mta]
    assert len(keys) > len(set(keys)) > 3  # many destinations count the same keys
    one = {}
    for key in keys:
        assert one.setdefault(key, key) is key


def test_only_the_causes_across_destinations_count_domains(generated_log: Path) -> None:
    """A destination's own cause keeps no table of recipient domains (it would hold the
    destination's one domain); the causes across destinations count every deferral of
    theirs by domain, as many as the destinations' causes hold."""
    builder = ReportBuilder()
    for msg in _messages(generated_log):
        builder.add(msg)
    mine = [c for d in builder.destinations.values() for c in d.causes.values()]
    assert len(mine) > 20
    assert all(c.domains is None for c in mine)
    expected: dict[object, Counter[str]] = {}
    for d in builder.destinations.values():
        for c in d.causes.values():
            expected.setdefault(c.cause, Counter())[d.domain] += c.count + c.suspended
    assert {cause: c.domains for cause, c in builder.causes.items()} == expected


def test_a_cause_counts_its_hint_kinds_in_fields_not_a_table(generated_log: Path) -> None:
    """How a cause's retry hints were obtained is one of four kinds: counted in four
    fields of the cause (a table of one entry cost about 220 bytes a cause), adding up to
    its deferrals that reached the receiver, with the typical kind the most common one
    (ties by name)."""
    builder = ReportBuilder()
    for msg in _messages(generated_log):
        builder.add(msg)
    causes = [c for d in builder.destinations.values() for c in d.causes.values()]
    assert not any(isinstance(v, Counter) for v in summary_fields(causes[0]) if v is not None)
    kinds = Counter(k for c in causes for k in c.hint_kinds)
    assert len(kinds) >= 2  # the generated log's receivers word their hints differently
    assert set(summary._HINT_FIELDS) == {kind.value for kind in HintKind}  # (older files)
    for cause in causes:
        assert sum(cause.hint_kinds.values()) == cause.count
        assert all(n > 0 for n in cause.hint_kinds.values())
        ranked = sorted(cause.hint_kinds.items(), key=lambda kv: (-kv[1], kv[0]))
        assert cause.typical_hint[1] == (ranked[0][0] if ranked else "none")


def summary_fields(cause: CauseStat) -> list[object]:
    """The values a summary file writes of a cause, but the retry intervals and domains."""
    encoded = summary.encode(cause)
    assert isinstance(encoded, dict)
    return [
        getattr(cause, name)
        for name in encoded
        if name not in ("@", "hints", "domains") and hasattr(cause, name)
    ]
