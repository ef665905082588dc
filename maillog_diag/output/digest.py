"""What a report shows, and in which order, shared by the plain text, the terminal and the
HTML renderers (so that they show the same things with the same words).

One word, one meaning, in every format:

* *queued*: a recipient still in the queue at the end of the log or window (JSON `held`);
* *time in queue*: from a message's arrival to a recipient's final outcome, or to the end
  of the log while it is queued (JSON `held_seconds`);
* *in the queue during an hour*: delayed recipients waiting at some moment of that hour
  (JSON `hourly[].held`).

A retry interval is labelled with the statistic it is: the cause's stated interval is the
*median* of the intervals its replies asked for, and so is the interval the retry-schedule
advice compares against.

The daily mail is ordered for action (`daily_plan`): the summary line, the mail still
queued (oldest first), the top destinations, causes, forced splits, retry advice, and the
rest as counts, so that its length does not grow with the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from maillog_diag.input.timestamps import format_duration

DEFAULT_TOP = 15
"""Destinations the daily mail details (`--top`)."""

DAILY_QUEUED = 15
"""Still-queued recipients the daily mail lists (the oldest); the rest are counted."""

DAILY_DETAILED = 4
"""Destinations whose causes and reasons the daily mail spells out (four: with the reasons
of bounces and expiries too, five would pass the ~200 lines the daily mail keeps to)."""

TABLE_LEGEND = (
    "Delay: recipients deferred at least once; Late: of them, delivered; Bnc: bounced; "
    "Exp: expired; Queue: still queued at the end; Defer: deferred attempts; "
    "p50/p95/max: time in queue of the delayed recipients (median, 95th percentile, longest)."
)


def cause_label(c: dict[str, Any]) -> str:
    """`greylisting (postgrey), retry 5m00s asked (median)` style label for one cause."""
    who = "/".join(x for x in (c.get("provider"), c.get("token")) if x)
    label: str = c["cause"] + (f" ({who})" if who else "")
    seconds = c.get("retry_hint_median_seconds", c.get("retry_hint_seconds"))
    if seconds is not None:
        kind = "asked" if c.get("retry_hint") == "explicit" else "documented"
        label += f", retry {format_duration(seconds)} {kind} (median)"
    elif c.get("retry_hint") == "vague":
        label += ", retry later"
    return label


def cause_line(c: dict[str, Any]) -> str:
    """`12 x connection (+53 repeated by the MTA)`; a cause the MTA only repeated (no
    attempt of its own) is counted by its repeats, never as `0 x`."""
    if not c["count"]:
        return f"{number(c['suspended']):>6} x {cause_label(c)} (all repeated by the MTA)"
    extra = f" (+{number(c['suspended'])} repeated by the MTA)" if c["suspended"] else ""
    return f"{number(c['count']):>6} x {cause_label(c)}{extra}"


def leading_cause(d: dict[str, Any]) -> str:
    """The cause shown for a destination row."""
    if d.get("forced_split_only"):
        return "forced split only (not a failure)"
    if d.get("causes"):
        return cause_label(d["causes"][0])
    if d.get("final_reasons"):
        return str(d["final_reasons"][0]["cause"])  # only bounces or expiries: why they ended
    return ""


def number(n: int) -> str:
    """`1,380`: thousands separated, as people read counts."""
    return f"{n:,}"


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 recipient`, `2 recipients`."""
    return f"{number(n)} {word if n == 1 else (many or word + 's')}"


def summary_line(report: dict[str, Any]) -> str:
    """One line for the top of a mailed report: recipients delayed, still queued, bounced,
    expired, and the worst destination with its longest time in queue and leading cause."""
    totals = report["totals"]
    failing = [d for d in report["destinations"] if not d.get("forced_split_only")]
    delayed, queued = totals.get("recipients_deferred", 0), totals["held"]
    on_hold = len(report.get("on_hold") or [])
    if not (delayed or queued or totals["bounced"] or totals["expired"] or on_hold):
        return "No mail was delayed."
    parts = [
        f"{plural(delayed, 'recipient')} delayed",
        f"{number(queued)} still queued",
        f"{number(totals['bounced'])} bounced",
        f"{number(totals['expired'])} expired",
    ]
    if on_hold:
        parts.append(f"{number(on_hold)} on hold")
    worst = next(
        (
            d
            for d in failing
            if d["recipients_deferred"] or d["held"] or d["bounced"] or d["expired"]
        ),
        None,
    )
    if worst is not None:
        cause = worst["causes"][0]["cause"] if worst.get("causes") else "cause unknown"
        if not worst.get("causes") and worst.get("final_reasons"):
            cause = worst["final_reasons"][0]["cause"]
        parts.append(
            f"worst: {worst['domain']} {format_duration(worst['held_seconds']['max'])}"
            f" in queue, {cause}"
        )
    return "; ".join(parts)


def totals_lines(report: dict[str, Any]) -> list[str]:
    """The traffic block (as pflogsumm users expect it first): messages received,
    recipients delivered, deferrals, bounced, expired, rejected, bytes."""
    t = report["totals"]
    return [
        f"Received: {plural(t.get('received', report['messages']), 'message')}"
        f" ({_bytes(t.get('bytes_received'))}); rejected on arrival: "
        f"{number(t.get('rejected', 0))}",
        f"Delivered: {plural(t['delivered'], 'recipient')} ({_bytes(t.get('bytes_delivered'))});"
        f" bounced {number(t['bounced'])}; expired {number(t['expired'])}; still queued "
        f"{number(t['held'])}",
        f"Deferrals: {plural(t.get('deferrals_tried', t['deferrals']), 'attempt')} for "
        f"{plural(t['recipients_deferred'], 'recipient')}"
        + (
            f" (and {number(t['deferrals_repeated'])} repeated by the MTA without trying)"
            if t.get("deferrals_repeated")
            else ""
        ),
    ]


def _bytes(n: int | None) -> str:
    if n is None:
        return "size unknown"
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def queued_text(h: dict[str, Any]) -> str:
    """The second line of a still-queued entry: since when, why, when to retry."""
    retry = f"; receiver accepts a retry from {h['retry_after']}" if h.get("retry_after") else ""
    who = "/".join(x for x in (h.get("provider"), h.get("token")) if x)
    cause = (h.get("last_cause") or "unknown") + (f" ({who})" if who else "")
    return (
        f"since {h['since'] or 'before the log'} ({format_duration(h['held_seconds'])} in queue),"
        f" {plural(h['deferrals'], 'deferral')}, last cause {cause}{retry}"
    )


@dataclass(slots=True)
class Plan:
    """What one rendering of a report shows (`None` limits: everything)."""

    destinations: list[dict[str, Any]]
    """Rows of the destination table, in the report's order."""
    more_destinations: int = 0
    more_delayed: int = 0
    """Destinations left out of the table, and their delayed recipients."""
    detailed: list[dict[str, Any]] = field(default_factory=list)
    """Destinations whose causes, reasons and advice are spelled out."""
    queued: list[dict[str, Any]] = field(default_factory=list)
    more_queued: int = 0
    splits: list[dict[str, Any]] = field(default_factory=list)
    advice: list[dict[str, Any]] = field(default_factory=list)
    """Destinations with a retry-schedule suggestion."""
    more_advice: int = 0


def plan(
    report: dict[str, Any],
    *,
    top: int | None = None,
    detailed: int | None = None,
    queued: int | None = None,
) -> Plan:
    """Choose what to show: the first `top` destinations (failing ones first, as ranked),
    causes of the first `detailed`, the oldest `queued` still-queued recipients; `None`
    shows all. Forced-split destinations are listed under forced splits, not in the table,
    when the table is limited."""
    rows = report["groups"] if "groups" in report else report["destinations"]
    failing = [d for d in rows if not d.get("forced_split_only")] if top is not None else rows
    shown = failing if top is None else failing[:top]
    rest = failing[len(shown) :]
    held = report.get("held_mail") or []
    advice = [d for d in rows if d["retry_schedule"]["suggestion"]]
    advice_shown = advice if detailed is None else advice[:detailed]
    return Plan(
        destinations=shown,
        more_destinations=len(rest),
        more_delayed=sum(d["recipients_deferred"] for d in rest),
        detailed=[d for d in shown if d["causes"] or d["reasons"] or d.get("final_reasons")][
            : (len(shown) if detailed is None else detailed)
        ],
        queued=held if queued is None else held[:queued],
        more_queued=0 if queued is None else max(0, len(held) - queued),
        splits=[d for d in rows if d.get("forced_split_only")],
        advice=advice_shown,
        more_advice=len(advice) - len(advice_shown),
    )


def daily_plan(report: dict[str, Any], top: int, everything: bool) -> Plan:
    """The daily mail's selection: `top` destinations, the first few spelled out and the
    oldest still-queued mail, or everything with `--all`."""
    if everything:
        return plan(report)
    return plan(report, top=top, detailed=min(top, DAILY_DETAILED), queued=DAILY_QUEUED)
