"""Plain-text tables that fit a width without cutting a cell.

A terminal is often 80 columns wide; a report that cuts a domain name or a queue id with
`…` is wrong, not short (a cut queue id cannot be pasted into `trace`). `fit_table` lays
out rows so that every cell is shown whole:

* the *flexible* column (a domain, an address) takes the room the fixed columns leave; a
  cell longer than that goes on a line of its own above the rest of its row;
* the *tail* columns (a cause, a reply: prose) stay on the row when every tail fits, and
  otherwise go under their row, indented, wrapped at spaces (a word longer than the width
  is folded, never dropped); a single short tail goes beside a flexible cell that took a
  line of its own.

Widths are counted in characters (the texts here are ASCII or single-width); no line of
the fixed columns is ever wider than `width` unless the fixed columns alone are.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

GAP = "  "
TAIL_INDENT = "    "


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its head, whether numbers align right, and how it may move."""

    head: str
    right: bool = False
    flex: bool = False
    """The one column that may take a line of its own when it does not fit."""
    tail: bool = False
    """Prose, last: on the row if it fits, else under the row."""
    label: str = ""
    """Written before a tail cell that went under its row (e.g. `cause: `)."""


def wrap(text: str, width: int, indent: str = "", hang: str | None = None) -> list[str]:
    """`text` wrapped at spaces to `width`, its first line after `indent` and the others
    after `hang` (default: `indent`); long words are folded, so nothing is lost."""
    lines = textwrap.wrap(
        text,
        max(len(indent if hang is None else hang) + 10, width),
        initial_indent=indent,
        subsequent_indent=indent if hang is None else hang,
        break_long_words=True,
        break_on_hyphens=False,
    )
    return lines or [indent]


def fit_table(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int) -> list[str]:
    """The header line and the rows, laid out to `width` columns (see the module
    docstring). The header is the first line returned."""
    body = [i for i, c in enumerate(columns) if not c.tail]
    tails = [i for i, c in enumerate(columns) if c.tail]
    natural = [max([len(columns[i].head)] + [len(r[i]) for r in rows]) for i in range(len(columns))]
    flex = next((i for i in body if columns[i].flex), None)
    fixed = sum(natural[i] for i in body if i != flex) + len(GAP) * (len(body) - 1)
    widths = list(natural)
    if flex is not None:
        room = width - fixed - len(GAP)
        widths[flex] = max(len(columns[flex].head), min(natural[flex], room))
    line_width = sum(widths[i] for i in body) + len(GAP) * (len(body) - 1)
    tail_room = width - line_width - len(GAP) * len(tails)
    inline_tails = bool(tails) and sum(natural[i] for i in tails) <= tail_room

    def cells(row: Sequence[str], with_tails: bool) -> str:
        parts = []
        for i in body + (tails if with_tails else []):
            text = row[i]
            if columns[i].right:
                parts.append(text.rjust(widths[i]))
            elif i in tails and i == tails[-1]:
                parts.append(text)
            else:
                parts.append(text.ljust(widths[i]))
        return GAP.join(parts).rstrip()

    out = [cells([c.head for c in columns], inline_tails)]
    for row in rows:
        cut = list(row)
        pending = [i for i in tails if row[i]] if not inline_tails else []
        if flex is not None and len(row[flex]) > widths[flex]:
            own = row[flex]
            # a single short tail rides on the flex cell's own line: one line saved
            if len(pending) == 1:
                beside = f"{own}{GAP}{TAIL_INDENT}{columns[pending[0]].label}{row[pending[0]]}"
                if len(beside) <= width:
                    own, pending = beside, []
            out.append(own)
            cut[flex] = ""
        out.append(cells(cut, inline_tails))
        for i in pending:
            out += wrap(columns[i].label + row[i], width, TAIL_INDENT)
    return out
