"""Condensing reply texts into reason keys, so that one cause counts as one reason.

Receivers put the recipient's address, our IP, their host names, queue ids and session
tags into reply text. Counted verbatim, one greylisting policy would show up as a
thousand reasons. `reason_key` replaces those parts with placeholders and keeps the words,
the reply code and the enhanced status code, which is what tells reasons apart.
"""

from __future__ import annotations

import re
from functools import lru_cache

_FIRST_CODE = re.compile(r"\b([245][0-9]{2})[- ]([245]\.[0-9]{1,3}\.[0-9]{1,3})\s")
_HOST_IP = re.compile(r"[A-Za-z0-9._-]+\[(?:[0-9.]+|[0-9A-Fa-f:.]+|private/[^\]]+)\](?::[0-9]+)?")
_ADDRESS = re.compile(r"<[^<>@\s]*@[^<>\s]*>|[A-Za-z0-9._%+=-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_IPV4 = re.compile(r"\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b")
# Three or more colons, or a "::": never a clock time such as 00:05:00.
_IPV6 = re.compile(
    r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4}:){3,7}[0-9A-Fa-f]{1,4}(?![0-9A-Fa-f:])"
    r"|(?<![0-9A-Fa-f:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{1,4})*::[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{1,4})*"
)
# "Greylisted for 287 seconds", "come back in 00:04:47": the interval left varies from one
# attempt to the next; the reason is the same.
_INTERVAL = re.compile(
    r"\b[0-9]+(?:\.[0-9]+)? ?(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)\b", re.IGNORECASE
)
_CLOCK = re.compile(r"\b[0-9]{1,2}:[0-9]{2}:[0-9]{2}\b")
_ID = re.compile(r"\b(?=[A-Za-z0-9._-]*[0-9])(?=[A-Za-z0-9._-]*[A-Za-z])[A-Za-z0-9._-]{10,}\b")
_LONG_NUMBER = re.compile(r"\b[0-9]{5,}\b")
_QUEUED_AS = re.compile(r"queued as [0-9A-Za-z]+")
_SPACE = re.compile(r"\s+")


def join_multiline(reply: str) -> str:
    """Drop the `421-4.7.0 ` prefixes that a joined multi-line reply repeats on every line.

    The first code is kept (as `421 4.7.0`); later repetitions of the same code go.
    """
    m = _FIRST_CODE.search(reply)
    if m is None:
        return reply
    code, enhanced = m[1], m[2]
    inner = re.compile(rf"\s{code}[- ]{re.escape(enhanced)}\s+")
    head = f"{reply[: m.start()]}{code} {enhanced} "
    return head + inner.sub(" ", reply[m.end() :])


@lru_cache(maxsize=65536)
def reason_key(reply: str) -> str:
    """A stable key for a reply: placeholders for addresses, hosts, IPs, ids, long numbers
    and retry intervals (`<n> seconds`, `<hh:mm:ss>`: the time left changes between
    attempts). Reply codes, enhanced status codes and all words are kept; the example kept
    beside each reason has the real text.
    """
    text = join_multiline(reply)
    text = _QUEUED_AS.sub("queued as <id>", text)
    text = _HOST_IP.sub("<host>", text)
    text = _ADDRESS.sub("<address>", text)
    text = _IPV4.sub("<ip>", text)
    text = _IPV6.sub("<ip>", text)
    text = _ID.sub("<id>", text)
    text = _CLOCK.sub("<hh:mm:ss>", text)
    text = _INTERVAL.sub(r"<n> \1", text)
    text = _LONG_NUMBER.sub("<n>", text)
    return _SPACE.sub(" ", text).strip()
