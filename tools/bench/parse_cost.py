"""Instructions spent reading lines, without the rest of a report: for callgrind.

Runs `LineParser.parse` on every line of one log (`parse`), also feeds each event to a
`Correlator` whose finished messages are dropped (`feed`), or only reads the file (`none`,
the start-up and reading cost to subtract). Under `valgrind --tool=callgrind` the total
instruction count ("Collected") of `parse` less that of `none`, divided by the lines, is the
read path's cost per line; compare it before and after a change:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python tools/bench/parse_cost.py /tmp/ex40k.log parse

Standard library and the package only; stamps are read as UTC with the year 2026.
"""

from __future__ import annotations

import sys
from datetime import UTC

from maillog_diag.errors import UnparsableLine
from maillog_diag.input.timestamps import TimeParser, YearInference
from maillog_diag.scan.lines import LineParser


def main(path: str, mode: str) -> None:
    """Read `path` in `mode` (`none`, `parse` or `feed`) and print the line counts."""
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        lines = handle.read().splitlines()
    parser = LineParser(TimeParser(UTC))
    parser.start_input(YearInference(reference=None, fixed=2026))
    feed = None
    if mode == "feed":
        from maillog_diag.core.correlate import Correlator

        feed = Correlator(lambda message: None).feed
    if mode != "none":
        parse = parser.parse
        for number, line in enumerate(lines, 1):
            try:
                event = parse(line, path, number)
            except UnparsableLine:
                continue
            if event is not None and feed is not None:
                feed(event)
    counts = parser.counts
    print(
        f"lines {len(lines)} used {counts.used} ignored {counts.ignored} unparsed {counts.unparsed}"
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "parse")
