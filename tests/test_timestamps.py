"""Year inference, zones and formatting of time stamps."""

from __future__ import annotations

from datetime import datetime

import pytest

from maillog_diag.input.timestamps import (
    BadTimestamp,
    TimeParser,
    YearInference,
    format_duration,
    format_time,
    resolve_zone,
)

UTC = resolve_zone("UTC")


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_file_written_in_january_that_starts_in_december_began_last_year() -> None:
    tp = TimeParser(UTC, YearInference(reference=at("2027-01-02T10:00:00+00:00")))
    first = tp.bsd("Dec 30 23:00:00")
    after = tp.bsd("Jan  1 00:30:00")
    assert first == at("2026-12-30T23:00:00+00:00")
    assert after == at("2027-01-01T00:30:00+00:00")
    assert after > first


def test_new_year_moves_forward_not_back() -> None:
    tp = TimeParser(UTC, YearInference(fixed=2026))
    assert tp.bsd("Dec 31 23:59:59") == at("2026-12-31T23:59:59+00:00")
    assert tp.bsd("Jan  1 00:00:01") == at("2027-01-01T00:00:01+00:00")
    # a straggler from before midnight, logged late, stays in the old year
    assert tp.bsd("Dec 31 23:59:58") == at("2026-12-31T23:59:58+00:00")
    assert tp.bsd("Jan  1 00:00:02") == at("2027-01-01T00:00:02+00:00")


def test_month_order_within_a_year_keeps_the_year() -> None:
    tp = TimeParser(UTC, YearInference(fixed=2026))
    assert tp.bsd("Mar  1 00:00:00") == at("2026-03-01T00:00:00+00:00")
    assert tp.bsd("Nov 30 00:00:00") == at("2026-11-30T00:00:00+00:00")


def test_reference_in_same_year() -> None:
    tp = TimeParser(UTC, YearInference(reference=at("2026-11-29T12:00:00+00:00")))
    assert tp.bsd("Nov 28 08:00:00") == at("2026-11-28T08:00:00+00:00")


def test_zone_applies_to_yearless_stamps_including_dst() -> None:
    zone = resolve_zone("Europe/Berlin")
    tp = TimeParser(zone, YearInference(fixed=2026))
    assert tp.bsd("Jul  1 12:00:00") == at("2026-07-01T12:00:00+02:00")
    tp2 = TimeParser(zone, YearInference(fixed=2026))
    assert tp2.bsd("Dec  1 12:00:00") == at("2026-12-01T12:00:00+01:00")


def test_iso_without_zone_takes_the_given_zone() -> None:
    tp = TimeParser(resolve_zone("Europe/Berlin"))
    assert tp.iso("2026-11-29 12:00:01") == at("2026-11-29T12:00:01+01:00")


def test_impossible_dates_are_errors() -> None:
    tp = TimeParser(UTC, YearInference(fixed=2026))
    with pytest.raises(BadTimestamp):
        tp.bsd("Feb 30 10:00:00")
    with pytest.raises(BadTimestamp):
        tp.iso("2026-13-01T00:00:00")


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        resolve_zone("Mars/Olympus")


def test_format_time_has_offset() -> None:
    assert format_time(at("2026-11-29T12:00:00+00:00"), resolve_zone("Europe/Berlin")) == (
        "2026-11-29T13:00:00+01:00"
    )
    assert format_time(None, UTC) is None
    assert format_time(at("2026-11-29T12:00:00.25+00:00"), UTC) == "2026-11-29T12:00:00.250+00:00"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0, "0s"), (59.6, "1m00s"), (605, "10m05s"), (15120, "4h12m"), (183600, "2d03h")],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text
