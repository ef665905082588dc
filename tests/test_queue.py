"""The queue beside the log: listings of the MTAs' queues read (real captures from the lab
MTAs in tests/fixtures/queue/, see its README), held mail marked `in_queue`, queued mail
the log never showed listed apart; and hostile listing text never crashes anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maillog_diag.errors import InputError
from maillog_diag.input import queue as queue_mod
from maillog_diag.input.queue import detect_format, parse_listing
from maillog_diag.input.timestamps import resolve_zone

from .conftest import FIXTURES

QUEUE = FIXTURES / "queue"
UTC = resolve_zone("UTC")
FORMATS = ["postfix-json", "postfix-text", "exim", "sendmail", "opensmtpd"]


def _captures(pattern: str) -> list[Path]:
    return sorted(QUEUE.glob(pattern))


# ---------------------------------------------------------------- hostile text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_is_read_or_refused_in_one_way(text: str) -> None:
    try:
        listing = parse_listing(text, 1.8e9, UTC)
    except InputError:
        return
    assert listing.skipped >= 0


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(FORMATS), st.text(max_size=400))
def test_every_parser_takes_any_text(fmt: str, text: str) -> None:
    listing = parse_listing(text, 1.8e9, UTC, fmt=fmt)
    assert all(isinstance(e.queue_id, str) for e in listing.entries)


def test_hostile_postfix_json_is_bounded_and_kept_as_text() -> None:
    lines = [
        json.dumps(
            {
                "queue_name": "deferred",
                "queue_id": "ABC123",
                "arrival_time": 1.8e9,
                "sender": "x" * 100_000,
                "recipients": [
                    {"address": "a\x1b[2J@evil.test", "delay_reason": "\x00" * 50},
                    {"address": 5},
                    "junk",
                ],
            }
        ),
        json.dumps({"queue_id": None}),
        json.dumps([1, 2]),
        '{"queue_id": "Q2", "arrival_time": "yesterday", "message_size": true}',
        "{not json",
    ]
    listing = parse_listing("\n".join(lines), 1.8e9, UTC)
    assert listing.format == "postfix-json"
    assert [e.queue_id for e in listing.entries] == ["ABC123", "Q2"]
    first = listing.entries[0]
    assert len(first.sender or "") <= queue_mod.MAX_LINE_CHARS
    assert [r.address for r in first.recipients] == ["a\x1b[2J@evil.test"]
    assert listing.entries[1].arrived is None and listing.entries[1].size is None
    assert listing.skipped == 3


def test_entries_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue_mod, "MAX_ENTRIES", 2)
    text = "\n".join(json.dumps({"queue_id": f"Q{i}"}) for i in range(5))
    listing = parse_listing(text, 1.8e9, UTC)
    assert len(listing.entries) == 2
    assert listing.truncated


def test_unknown_text_is_an_input_error() -> None:
    with pytest.raises(InputError):
        parse_listing("hello\nworld\n", 1.8e9, UTC)
    assert detect_format("") == "empty"
