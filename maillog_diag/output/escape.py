"""Log text made safe to show: control characters become visible escapes.

Log text is written by strangers (remote servers choose reply texts, senders choose
addresses, anyone who can write to the log directory chooses file names). A raw ESC or OSC
sequence copied to a terminal, or into a report mailed by cron, can clear the screen, set
the window title, plant a hyperlink or hide the lines before it. Every human-readable
output (report text and table, `why`, `trace`, `messages` text and table, `daily`, the
`check` line, the unparsed sample and error messages on stderr, and CSV) passes its log
text through `visible` (or `visible_data` for a whole report dict): C0 controls except
tab, DEL and C1 controls (which include the 8-bit CSI and OSC) become `\\xHH`. JSON keeps
the data exact: `json_safe` writes DEL and C1 as `\\u00HH` escapes (the JSON module
already escapes C0), which decode to the same text.

This is the one place that knows which characters are dangerous; renderers do not keep
their own lists.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

_DANGEROUS = [*(c for c in range(0x20) if c != 0x09), 0x7F, *range(0x80, 0xA0)]

_VISIBLE = {c: f"\\x{c:02x}" for c in _DANGEROUS}
_JSON = {c: f"\\u{c:04x}" for c in (0x7F, *range(0x80, 0xA0))}


def visible(text: str) -> str:
    """`text` with every control character but tab written as `\\xHH` (ESC is `\\x1b`)."""
    return text.translate(_VISIBLE)


def visible_data(value: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings) with `visible` applied to every
    string in it, keys included; other values are returned as they are."""
    if isinstance(value, str):
        return value.translate(_VISIBLE)
    if isinstance(value, dict):
        return {visible_data(k): visible_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [visible_data(v) for v in value]
    return value


def json_safe(text: str) -> str:
    """JSON text (from `json.dumps`) with DEL and C1 controls as `\\u00HH` escapes.

    JSON structure is ASCII, so these characters only ever stand inside strings, where the
    escape means the very same character: the data stays exact."""
    return text.translate(_JSON)


F = TypeVar("F", bound=Callable[..., Any])


def shows_log_text(func: F) -> F:
    """Decorate a human-readable renderer: its dict, list and string arguments pass
    through `visible_data` first (consoles and streams are left alone)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        args = tuple(_safe(a) for a in args)
        kwargs = {k: _safe(v) for k, v in kwargs.items()}
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _safe(value: Any) -> Any:
    return visible_data(value) if isinstance(value, dict | list | tuple | str) else value
