"""Condensing reply texts into reason keys, so that one cause counts as one reason.

Receivers put the recipient's address, our IP, their host names, queue ids and session
tags into reply text. Counted verbatim, one greylisting policy would show up as a
thousand reasons. `reason_key` replaces those parts with placeholders and keeps the words,
the reply code, the enhanced status code and provider tokens (`TSS04`, `S775`, `RL000010`),
which is what tells reasons apart. `fold` is the one pass behind it; the classifier uses it
too (keeping intervals) as the shape its cache is keyed on.

It runs once per distinct deferral text of a log: it works token by token, skips the
tokens of letters only, and looks every other token up in one table (`_TOKENS`) that holds
all it needs of it, since the volatile tokens repeat.
"""

from __future__ import annotations

import re

from maillog_diag.core.hints import strip_continuations
from maillog_diag.core.memo import DEFAULT_MAX_CHARS, text_cache

_EDGE = "()[]<>,;:.\"'"
_HOST_IP = re.compile(r"[A-Za-z0-9._-]+\[([^\]\s]+)\](?::([0-9]+))?")
_ADDRESS = re.compile(r"<[^<>@]*@[^<>]*>|[\w.%+=-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_IPV4 = re.compile(r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}")
# Full (`2001:db8:0:0:0:0:0:1`) or compressed (`2001:db8::1`, `::1`) form. Each group of
# hex digits is delimited by a colon and the repetitions are possessive, so a token that
# only resembles an address (`a::aaaa...g`) fails in linear time.
_IPV6 = re.compile(
    r"(?:IPv6:)?(?:(?:[0-9A-F]{1,4}:){3,7}+[0-9A-F]{1,4}"
    r"|(?:[0-9A-F]{1,4}(?::[0-9A-F]{1,4})*+)?::(?:[0-9A-F]{1,4}(?::[0-9A-F]{1,4})*+)?)",
    re.IGNORECASE,
)
_CLOCK = re.compile(r"[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?")
_COMPACT_INTERVAL = re.compile(r"([0-9]++)(s|m|h|secs?|mins?|hrs?|seconds?|minutes?|hours?)", re.I)
_UNITS = frozenset(
    "s m h sec secs second seconds min mins minute minutes hr hrs hour hours".split()
)
_COUNTED = _UNITS | {"bytes", "byte"}
"""Words after a number that make the number volatile: an interval, or Exim's
`(802 bytes written)` of a protocol trace."""


def _token_pair(tok: str) -> tuple[str, str]:
    """One token folded for the plain and the detailed view (see `fold`)."""
    return _token(tok, False), _token(tok, True)


def _token(tok: str, detailed: bool) -> str:
    """One whitespace-separated token, folded; punctuation around it is kept."""
    core = tok.strip(_EDGE)
    if not core or core.startswith(("http://", "https://")):
        return tok  # a URL names the receiver's help page: part of the reason
    if "[" in tok:
        m = _HOST_IP.search(tok)
        if m is not None:
            inside, port = m.group(1), m.group(2)
            if inside.startswith("private/") or (
                (inside.startswith("127.") or inside == "::1") and port not in (None, "25")
            ):
                return tok  # a local next hop (content filter port, LMTP socket): keep it
            if detailed:  # the host's name tells the provider; its address does not
                name = tok[m.start() : tok.index("[", m.start())]
                return f"{tok[: m.start()]}{name}[<ip>]{tok[m.end() :]}"
            return tok[: m.start()] + "<host>" + tok[m.end() :]
    if "@" in core:
        m = _ADDRESS.search(tok)
        if m is not None:
            return tok[: m.start()] + "<address>" + tok[m.end() :]
    start = tok.find(core)
    lead, trail = tok[:start], tok[start + len(core) :]
    if core[0].isdigit() or core[0] in "abcdefABCDEFI:":
        if _IPV4.fullmatch(core) or (core.count(":") >= 2 and _IPV6.fullmatch(core)):
            if not _CLOCK.fullmatch(core):
                return f"{lead}<ip>{trail}"
        if _CLOCK.fullmatch(core):
            return tok if detailed else f"{lead}<hh:mm:ss>{trail}"
        m = _COMPACT_INTERVAL.fullmatch(core)
        if m is not None:
            return tok if detailed else f"{lead}<n>{m.group(2)}{trail}"
        if core.isdigit():
            return f"{lead}<n>{trail}" if len(core) >= 5 else tok
    if len(core) >= 10:
        word = _word(core)
        if word != core:
            return f"{lead}{word}{trail}"
    return tok


def _word(word: str) -> str:
    """Ids (queue ids, session tags, Google's `bv15si15610322wjb.142`) become `<id>`;
    words, host names, short tokens and provider codes with underscores (`OFR006_102`) stay."""
    for piece in word.replace("-", ".").split("."):
        if len(piece) >= 10 and not piece.isalpha() and not piece.isdigit() and "_" not in piece:
            letters = sum(c.isalpha() for c in piece)
            if letters and letters < len(piece) - 1:
                return "<id>"
    if word.isdigit():
        return "<n>"
    return word


_PLAIN_WORD = re.compile(r"[()<>,;:.\"']*[A-Za-z][A-Za-z.-]*[()<>,;:.\"']*").fullmatch
"""A word with punctuation around it (`rejected:`, `(in`, `out-of-office`, `"quota"`):
a letter, then letters, dots and hyphens, with `_EDGE` characters but brackets around. No rule of
`_token` changes such a token (no digit, `@`, `[`, `=` or inner punctuation), so it is
kept without a look-up."""


def fold(reply: str, *, detailed: bool = False) -> str:
    """The reply with volatile parts replaced (`<host>`, `<address>`, `<ip>`, `<id>`, `<n>`,
    `<n> seconds` / `<hh:mm:ss>` for retry intervals). `detailed` keeps the intervals and
    the names of hosts (`mx.example.com[<ip>]`): the classifier's view, where both matter.
    """
    plain, detail = folds(reply)
    return detail if detailed else plain


_Folded = tuple[str, str, str | None]
"""A token's plain and detailed fold, and its plain fold when a counted unit follows it
(None unless the token is a number)."""

_TOKENS: dict[str, _Folded] = {}
"""`_fold_token` of the tokens met, plain words included. Bounded: emptied when it reaches
`_TOKENS_MAX` entries (cheaper than an LRU's bookkeeping on every look-up; the common tokens
come back at once), and a token longer than `DEFAULT_MAX_CHARS` is not kept."""
_TOKENS_MAX = 16384


def _fold_token(tok: str) -> _Folded:
    """One token for `folds`: the rules of `_token` and the two that only the plain view
    has, a number before a counted unit (`300 seconds`, `802 bytes`) and a protocol
    parameter (`SIZE=1594`). The two exclude each other: a number has no `=`."""
    if tok.isalpha() or _PLAIN_WORD(tok) is not None:
        return tok, tok, None
    folded, folded_detailed = _token_pair(tok)
    core = tok.strip(_EDGE)
    counted = tok.replace(core, "<n>") if core.isdigit() else None
    if "=" in tok:
        name, eq, value = tok.partition("=")
        if value.strip(_EDGE).isdigit():  # a protocol parameter: SIZE=1594
            folded = f"{name}=<n>{value[len(value.rstrip(_EDGE)) :]}"
    return folded, folded_detailed, counted


@text_cache(8192)
def folds(reply: str) -> tuple[str, str]:
    """`fold` of a reply, plain and detailed, in one pass: a distinct reply is folded for
    its reason (plain) and for the classifier (detailed), and most of its tokens fold
    alike in both. (8192 entries: the two views of a reply are asked for close together,
    and with at most `DEFAULT_MAX_CHARS` per key the cache stays below the two it replaced.)

    Works token by token (split at white space). A token of letters only is kept as it is
    without a look-up; any other costs one look-up in `_TOKENS`, and a view is copied from
    the token list only when a token changes in it.
    """
    tokens = strip_continuations(reply).split()
    plain: list[str] | None = None
    detailed: list[str] | None = None
    last = len(tokens) - 1
    table = _TOKENS
    for i, tok in enumerate(tokens):
        if tok.isalpha():
            continue
        entry = table.get(tok)
        if entry is None:
            entry = _fold_token(tok)
            if len(tok) <= DEFAULT_MAX_CHARS:
                if len(table) >= _TOKENS_MAX:
                    table.clear()
                table[tok] = entry
        folded, folded_detailed, counted = entry
        if counted is not None and i < last and tokens[i + 1].strip(_EDGE).lower() in _COUNTED:
            folded = counted
        if folded != tok:
            if plain is None:
                plain = tokens.copy()
            plain[i] = folded
        if folded_detailed != tok:
            if detailed is None:
                detailed = tokens.copy()
            detailed[i] = folded_detailed
    return " ".join(tokens if plain is None else plain), " ".join(
        tokens if detailed is None else detailed
    )


def reason_key(reply: str) -> str:
    """A stable key for a reply: one policy, one key (see the module documentation)."""
    return folds(reply)[0]
