"""No line costs more than linear time in its length (issue 10, "Hangs").

Every line shape of the sample logs of every MTA gets long adversarial pieces (at its end,
before its last character, after its first quote, bracket, parenthesis or `=`) and goes the
whole way through the tool; a piece four times longer may cost at most about four times as
much (the bound, 8, leaves room for a loaded machine), never the square.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from types import FrameType

import pytest

from tests.hostile import SAMPLE_FILES, line_shapes, run_lines

TAILS = ("a:", '"', "[", "(", "\\", "::", "=", " ", "a.", "H=a ", '"a\\')

SHAPE_FILES = tuple(p for p in SAMPLE_FILES if p.name in ("mail.log", "mainlog", "maillog"))
"""One sample log per MTA (Postfix, Exim, Sendmail, OpenSMTPD)."""
SHORT = 5_000
LONG = 20_000
RATIO = 8.0
SLACK = 0.05
"""Seconds allowed on top of the ratio, for timer noise on tiny times."""


class _TooSlow(Exception):
    pass


def _alarm(_sig: int, _frame: FrameType | None) -> None:
    raise _TooSlow


def _variants(line: str, piece: str, n: int) -> Iterator[str]:
    """`line` with `n` characters of `piece` at the adversarial places."""
    tail = (piece * (n // len(piece) + 1))[:n]
    yield line + tail
    yield line[:-1] + tail + line[-1:]
    for mark in ('"', "("):
        i = line.find(mark)
        if i >= 0:
            j = i + len(mark)
            yield line[:j] + tail + line[j:]


def _cost(lines: list[str], limit: float = 10.0, *, full: bool = False) -> float:
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        start = time.perf_counter()
        run_lines(lines, full=full)
        return time.perf_counter() - start
    except _TooSlow:
        return float("inf")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


SHAPES = line_shapes(files=SHAPE_FILES)


@pytest.mark.parametrize("piece", TAILS)
def test_adversarial_tails_cost_linear_time(piece: str) -> None:
    slow = []
    for line in SHAPES:
        for short, long in zip(
            _variants(line, piece, SHORT), _variants(line, piece, LONG), strict=True
        ):
            t_short = min(_cost([short]), _cost([short + " "]))
            t_long = _cost([long])
            for retry in range(3):  # again, in case of noise from other processes
                if t_long <= RATIO * t_short + SLACK:
                    break
                t_short = min(t_short, _cost([short + " " * (retry + 2)]))
                t_long = min(t_long, _cost([long + " " * (retry + 2)]))
            if t_long > RATIO * t_short + SLACK:
                slow.append((line[:60], t_short, t_long))
    assert not slow, slow[:5]


def test_shapes_cover_every_mta() -> None:
    """The shapes include deferrals with replies of all three MTAs."""
    joined = "\n".join(SHAPES)
    assert "status=deferred" in joined
    assert re.search(r" == \S+ R=", joined)
    assert "stat=Deferred" in joined
    assert "smtpd[" in joined and "result=" in joined
    assert len(SHAPES) >= 30


def test_known_pathological_inputs_are_fast() -> None:
    """The inputs that hung before: an IPv6-like reply token, an unclosed Exim quote,
    an unbalanced quote before the reason of `==` lines."""
    cases = [
        "Nov 29 13:41:20 vm postfix/smtp[1]: 4F2A31C02B9: to=<a@b.test>, relay=b.test[192.0.2.1]:25,"
        " delay=1, delays=0/0/0/1, dsn=4.0.0, status=deferred (host b.test[192.0.2.1] said: 451 "
        + "a::"
        + "a" * 60
        + "g)",
        '2026-11-29 13:57:54 1xXfPl-0005yy-0V => a@b.test R=r T=t H=b.test [192.0.2.1] C="250 '
        + "x\\" * 20_000,
        '2026-11-29 13:57:54 1xXfPl-0005yy-0V == a@b.test R=r T=t "' + "a:" * 20_000,
        '2026-11-29 13:57:54 1xXfPl-0005yy-0V ** a@b.test R=r T=t "' + '\\"' * 20_000 + ": x",
    ]
    for line in cases:
        assert _cost([line], limit=5.0) < 2.0, line[:80]
