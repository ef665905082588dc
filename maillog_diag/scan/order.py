"""Reading inputs in time order, whatever order they were named in.

`maillog-diag report /var/log/mail.log*` gets the files in the shell's order (`mail.log`,
`mail.log.1`, `mail.log.2.gz`: newest first). Read that way a message that arrived in
`mail.log.1` and left in `mail.log` would be seen leaving before it arrived, so every
figure would be wrong. `plan_inputs` peeks at the first and last dated lines of each file
(`input.sources.peek_ends`; the readers' own `line_time`, no parse) and orders the files by
their first and last time stamps; rotation suffixes only break ties (`rotation_key`).

Files that overlap in time (a log named twice under two names, `mail.log` beside
`mail.info` on a system that writes both, a copy) would count their common lines twice.
Rather than refuse, the scan reads identical lines once: inside the time range where
inputs overlap, a line whose exact text was already read from an earlier input is counted
as ignored ("same line in an earlier input"). Lines are compared whole, host name and pid
included, so the logs of two hosts overlapping in time are both read in full.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import tzinfo

from maillog_diag.errors import InputError
from maillog_diag.input.sources import JOURNAL_INPUT, peek_ends, rotation_key
from maillog_diag.input.timestamps import TimeParser, YearInference, format_time
from maillog_diag.scan.lines import LineParser


@dataclass(frozen=True, slots=True)
class InputSpan:
    """One input's first and last time stamps (POSIX seconds; None when it has no dated
    line or could not be peeked at)."""

    name: str
    first: float | None
    last: float | None


@dataclass(frozen=True, slots=True)
class InputPlan:
    """The inputs in reading order, what to say about it on stderr, and the time range
    (POSIX seconds, inclusive) in which inputs overlap and identical lines are read once
    (None: no overlap)."""

    names: list[str]
    notes: list[str] = field(default_factory=list)
    overlap: tuple[float, float] | None = None


def input_span(name: str, zone: tzinfo, year: int | None = None) -> InputSpan:
    """The first and last time stamps of a file, from a few lines at each end."""
    try:
        source, head, tail = peek_ends(name)
    except InputError:
        return InputSpan(name, None, None)  # the scan reports it
    parser = LineParser(TimeParser(zone))
    parser.start_input(YearInference(reference=source.mtime, fixed=year))
    first = next((t for t in map(parser.line_time, head) if t is not None), None)
    # The year inference runs on from the head, so a file over New Year reads right.
    last = next((t for t in map(parser.line_time, reversed(tail)) if t is not None), None)
    if last is None:
        last = next((t for t in map(parser.line_time, reversed(head)) if t is not None), None)
    return InputSpan(name, first, last)


def plan_inputs(names: Sequence[str], zone: tzinfo, year: int | None = None) -> InputPlan:
    """The inputs in time order (see the module docstring).

    Standard input and the journal cannot be peeked at: when one is among the inputs the
    named order is kept. Files without a dated line keep their place in rotation order,
    before the dated ones.
    """
    listed = list(names)
    if len(listed) < 2 or "-" in listed or JOURNAL_INPUT in listed:
        return InputPlan(listed)
    rotation_rank = {n: i for i, n in enumerate(sorted(listed, key=rotation_key))}
    spans = [input_span(n, zone, year) for n in listed]

    def key(span: InputSpan) -> tuple[float, float, int]:
        first = -math.inf if span.first is None else span.first
        last = -math.inf if span.last is None else span.last
        return (first, last, rotation_rank[span.name])

    ordered = sorted(spans, key=key)
    notes: list[str] = []
    names_in_order = [s.name for s in ordered]
    if names_in_order != listed:
        notes.append(
            "reading the inputs in time order (by their first and last time stamps): "
            + ", ".join(os.path.basename(n) for n in names_in_order)
        )
    overlap = _overlap(ordered)
    if overlap is None:
        return InputPlan(names_in_order, notes)
    start, end, pairs = overlap
    if not pairs:
        # Only a shared second at a rotation boundary: no line is in both files (the log
        # was moved, then written anew), and comparing lines would cost a stamp parse each.
        return InputPlan(names_in_order, notes)
    if pairs:
        shown = "; ".join(f"{a} and {b}" for a, b in pairs[:3])
        notes.append(
            f"inputs overlap in time ({shown}) from {format_time(start, zone)} to "
            f"{format_time(end, zone)}: a line already read from an earlier input is read once"
        )
    return InputPlan(names_in_order, notes, (start, end))


OVERLAP_NOTE_SECONDS = 5.0
"""Inputs that overlap by more than this are named on stderr and read with identical lines
once; a rotation's last line and the next file's first line often share a second, which
is neither worth a word nor a duplicate."""


def _overlap(
    ordered: Sequence[InputSpan],
) -> tuple[float, float, list[tuple[str, str]]] | None:
    """The time range in which some input starts before (or in the same second as) an
    earlier one ends, with the pairs that overlap by more than `OVERLAP_NOTE_SECONDS`;
    None when the inputs follow each other."""
    start = math.inf
    end = -math.inf
    pairs: list[tuple[str, str]] = []
    found = False
    latest: InputSpan | None = None
    for span in ordered:
        if span.first is None or span.last is None:
            continue
        if latest is not None and latest.last is not None and span.first <= latest.last:
            found = True
            start = min(start, span.first)
            common_end = min(span.last, latest.last)
            end = max(end, common_end)
            if common_end - span.first > OVERLAP_NOTE_SECONDS:
                pairs.append((latest.name, span.name))
        if latest is None or latest.last is None or span.last > latest.last:
            latest = span
    if not found:
        return None
    return start, end, pairs
