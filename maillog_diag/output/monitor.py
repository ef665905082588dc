"""`maillog-diag check`: thresholds on held and deferred mail, as a monitoring plugin.

Follows the Nagios plugin conventions (also used by Icinga, Naemon, Sensu, Zabbix's
`check` items): exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; one line of output,
`SERVICE STATUS - text | perfdata`, where each performance datum is
`'label'=value[unit];warn;crit;min;max`. A value at or above a threshold reaches it.

What is measured, from a report over the check's window (`window.MessageFilter`):

* `held`: recipients still queued at the end of the window (or of the log);
* `oldest_held`: the longest held time among them, seconds (`--warn-held-age`,
  `--crit-held-age`);
* `deferrals`: deferred attempts inside the window (attempts made: the MTA's own repeats
  without trying are left out) (`--warn-deferred`, `--crit-deferred`),
  per destination domain (`scope = domain`: the worst domain counts) or over all of them
  (`scope = total`). Forced splits (the receiver accepted part of a transaction and asked for
  the rest separately) are not failures and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from maillog_diag.input.timestamps import format_duration
from maillog_diag.output.escape import visible


class CheckState(IntEnum):
    """Plugin exit statuses."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Warning and critical levels (None: not checked)."""

    warn_held_age: float | None = None
    crit_held_age: float | None = None
    warn_deferred: int | None = None
    crit_deferred: int | None = None
    scope: str = "domain"


def _level(value: float, warn: float | None, crit: float | None) -> CheckState:
    if crit is not None and value >= crit:
        return CheckState.CRITICAL
    if warn is not None and value >= warn:
        return CheckState.WARNING
    return CheckState.OK


def _perf(label: str, value: float, unit: str, warn: float | None, crit: float | None) -> str:
    def num(v: float | None) -> str:
        return "" if v is None else f"{v:g}"

    return f"{label}={value:g}{unit};{num(warn)};{num(crit)};0"


def _splits(row: dict[str, Any]) -> int:
    split = row.get("forced_split") or {}
    return int(split.get("deferrals") or 0)


def _tried(row: dict[str, Any]) -> int:
    """Deferrals that were attempts (older report dicts: all deferrals)."""
    return int(row.get("deferrals_tried", row["deferrals"]))


def evaluate(
    report: dict[str, Any], t: Thresholds, stale: str | None = None
) -> tuple[CheckState, str]:
    """The state and the one-line plugin output for a report dict (the JSON contract).

    `stale` says the log ends long before now: the check cannot vouch for the present, so
    a state that would be OK is UNKNOWN (held mail aged to now may still reach WARNING or
    CRITICAL), and the line starts with it."""
    held_mail = report.get("held_mail") or []
    held = len(held_mail)
    oldest = max((h["held_seconds"] or 0.0 for h in held_mail), default=0.0)
    oldest_domain = next(
        (h["domain"] for h in held_mail if (h["held_seconds"] or 0.0) == oldest), None
    )
    # A forced split is the receiver asking for smaller transactions, not a failure; the
    # MTA's repeats without trying are not attempts.
    total_deferrals = _tried(report["totals"]) - _splits(report["totals"])
    per_domain = {d["domain"]: _tried(d) - _splits(d) for d in report["destinations"]}
    if t.scope == "total":
        deferrals, where = total_deferrals, "in all"
    else:
        where, deferrals = max(per_domain.items(), key=lambda kv: (kv[1], kv[0]), default=("", 0))
        where = f"at {where}" if where and deferrals else "at any destination"
    age_state = _level(oldest, t.warn_held_age, t.crit_held_age)
    deferral_state = _level(deferrals, t.warn_deferred, t.crit_deferred)
    state = max(age_state, deferral_state)
    parts = []
    if stale is not None:
        parts.append(stale)
        if state is CheckState.OK:
            state = CheckState.UNKNOWN
    if held:
        parts.append(
            f"{held} still queued, oldest {format_duration(oldest)} in queue ({oldest_domain})"
            + _reached(age_state, t.warn_held_age, t.crit_held_age, duration=True)
        )
    else:
        parts.append("no mail queued")
    parts.append(
        f"{deferrals} deferral(s) {where}"
        + _reached(deferral_state, t.warn_deferred, t.crit_deferred)
    )
    perf = [
        _perf("held", held, "", None, None),
        _perf("oldest_held", round(oldest), "s", t.warn_held_age, t.crit_held_age),
        _perf(
            "deferrals" if t.scope == "total" else "worst_domain_deferrals",
            deferrals,
            "",
            t.warn_deferred,
            t.crit_deferred,
        ),
    ]
    if t.scope != "total":
        perf.append(_perf("deferrals", total_deferrals, "", None, None))
    line = f"MAILLOG {state.name} - {'; '.join(parts)} | {' '.join(perf)}"
    return state, visible(line)


def _reached(
    state: CheckState, warn: float | None, crit: float | None, *, duration: bool = False
) -> str:
    def show(v: float) -> str:
        return format_duration(v) if duration else f"{v:g}"

    if state is CheckState.CRITICAL and crit is not None:
        return f" >= critical {show(crit)}"
    if state is CheckState.WARNING and warn is not None:
        return f" >= warning {show(warn)}"
    return ""


def unknown(reason: str) -> str:
    """The plugin line for a check that could not run."""
    return visible(f"MAILLOG UNKNOWN - {reason}")
