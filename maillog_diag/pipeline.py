"""One pass over the inputs: read, parse, correlate, and hand finished messages on.

This is the library entry point (`iter_messages`, `scan`); the CLI adds options and output.
Inputs are read one after another as one stream, so a message that starts in one file and
ends in the next is one message. Each input gets its own year inference (yearless syslog
stamps are placed relative to that file's modification time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import tzinfo

from .correlate import Correlator
from .errors import InputError, UnparsableLine
from .model import LineRef, Message
from .parsing import LineCounts, LineParser
from .sources import read_lines
from .timestamps import TimeParser, YearInference

UNPARSED_SAMPLE = 5
"""How many unparsed lines a run keeps as a sample for stderr."""


@dataclass(slots=True)
class ScanResult:
    """What a pass saw besides messages: line accounting, time span, unparsed lines."""

    counts: LineCounts = field(default_factory=LineCounts)
    first_time: float | None = None
    last_time: float | None = None
    unparsed_sample: list[UnparsableLine] = field(default_factory=list)
    input_errors: list[InputError] = field(default_factory=list)
    max_open_messages: int = 0


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """How to read: the zone of yearless stamps, a fixed year, whether to keep all lines."""

    zone: tzinfo
    year: int | None = None
    keep_lines: bool = False
    on_unparsed: Callable[[UnparsableLine], None] | None = None


def scan(
    inputs: Iterable[str], options: ScanOptions, emit: Callable[[Message], None]
) -> ScanResult:
    """Read every input in order and call `emit` for each message once it is finished.

    An input that cannot be read is recorded in `input_errors` and the others are still
    read; the caller decides the exit status.
    """
    result = ScanResult()
    correlator = Correlator(emit, keep_lines=options.keep_lines)
    time_parser = TimeParser(options.zone)
    parser = LineParser(time_parser)
    parse = parser.parse
    feed = correlator.feed
    sample = result.unparsed_sample
    on_unparsed = options.on_unparsed
    for name in inputs:
        try:
            source, lines = read_lines(name)
        except InputError as exc:
            result.input_errors.append(exc)
            continue
        parser.start_input(YearInference(reference=source.mtime, fixed=options.year))
        label = "<stdin>" if name == "-" else name
        lineno = 0
        try:
            for line in lines:
                lineno += 1
                try:
                    event = parse(line, label, lineno)
                except UnparsableLine as exc:
                    if len(sample) < UNPARSED_SAMPLE:
                        sample.append(exc)
                    if on_unparsed is not None:
                        on_unparsed(exc)
                    continue
                if event is not None:
                    event.ref = LineRef(label, lineno, line)
                    feed(event)
        except InputError as exc:
            result.input_errors.append(exc)
    correlator.finish()
    result.counts = parser.counts
    result.first_time = correlator.first_time
    result.last_time = correlator.last_time
    result.max_open_messages = correlator.max_open
    return result


def collect_messages(
    inputs: Iterable[str], options: ScanOptions
) -> tuple[list[Message], ScanResult]:
    """All finished messages in a list (for tests and small logs; `scan` streams)."""
    messages: list[Message] = []
    result = scan(inputs, options, messages.append)
    return messages, result
