"""Case-insensitive patterns searched as lower-case patterns on lower-cased ASCII text.

The classifier's rules and the knowledge base's tokens, markers and rules are written to match
whatever the case. With `re.IGNORECASE` every search is several times slower: the engine can
no longer scan for a literal prefix and compares each character through its case mapping
(measured: the classifier's rule tables over the 2,110 distinct shapes of a 1M-line log,
1.33 s with the flag, 0.33 s lower-cased without it).

For ASCII text the two agree. In ASCII, case-insensitive matching equates exactly `A-Z` with
`a-z`, so a search for P with `IGNORECASE` in `text` matches where a search for `lowered(P)`
without the flag matches in `text.lower()`, whenever P is ASCII, names no character or group
by number (`\\x41`, `\\N{...}`, `\\1`), sets no inline flags (`(?-i:...)`) and has no range in
a class that takes letters in with other characters (`[0-Z]`): `lowered` refuses the others.
Lower-casing ASCII keeps every character in place, so anchors, look-behinds and bounded
repeats see the same positions.

Outside ASCII they do not agree, which is why the fast pattern is only for ASCII text. With
`IGNORECASE`, `s` also matches 'ſ' (U+017F, long s), `i` matches 'ı' (U+0131) and 'İ' (U+0130),
`k` matches the Kelvin sign (U+212A); `str.lower()` leaves 'ſ' and 'ı' as they are (no ASCII
pattern would match them) and turns 'İ' into two characters. A text that is not ASCII is
searched as before, with the pattern as written and the flag (`Caseless.careful`), so no
answer changes for any text.
"""

from __future__ import annotations

import re

__all__ = ["Caseless", "ascii_lower", "caseless", "lowered", "required_literal"]

_NUMBERED = frozenset("xuUN0123456789")
"""After a backslash: a character by code (`\\x41` is 'A', and would stay 'A') or a group by
number (a back reference compares case-insensitively only with the flag)."""

_FLAGS = frozenset("aiLmsux-")
"""After `(?`: inline flags, which could switch case-insensitivity off for a part."""


def _check_range(low: str, high: str, pattern: str) -> None:
    """A class range is lowered soundly if it holds no letter, or runs between two letters of
    one case (`A-Z`, `a-f`); `[0-Z]` or `[@-[]` would lose or keep the wrong letters."""
    letters = [c for c in map(chr, range(ord(low), ord(high) + 1)) if c.isalpha()]
    if not letters:
        return
    if low.isalpha() and high.isalpha() and low.islower() == high.islower():
        return
    raise ValueError(f"class range {low}-{high} mixes letters and other characters: {pattern!r}")


def lowered(pattern: str) -> str:
    """The pattern with its letters lower-cased, escapes (`\\S`, `\\W`, `\\b`) and `(?P` kept;
    ValueError for a pattern that would not match alike (see the module documentation)."""
    if not pattern.isascii():
        raise ValueError(f"pattern is not ASCII: {pattern!r}")
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    class_first = 0  # index of the first member of the open class (a `]` there is literal)
    previous: str | None = None  # the class member before, if a plain character
    while i < n:
        c = pattern[i]
        if c == "\\":
            escaped = pattern[i + 1 : i + 2]
            if not escaped or escaped in _NUMBERED:
                raise ValueError(f"escape \\{escaped} cannot be lower-cased: {pattern!r}")
            out.append(c + escaped)
            i += 2
            previous = escaped if in_class and not escaped.isalpha() else None
            continue
        if in_class:
            if c == "]" and i > class_first:
                in_class = False
            elif c == "-" and previous is not None and i + 1 < n and pattern[i + 1] != "]":
                high = pattern[i + 1]
                if high == "\\":
                    high = pattern[i + 2 : i + 3]
                    if not high or high.isalnum():
                        raise ValueError(f"class range ends in an escape: {pattern!r}")
                _check_range(previous, high, pattern)
                previous = None  # the range's end is consumed next, as a plain member
                out.append(c)
                i += 1
                if pattern[i] == "\\":
                    out.append(pattern[i : i + 2])
                    i += 2
                else:
                    out.append(pattern[i].lower())
                    i += 1
                continue
            previous = c
        elif c == "[":
            in_class = True
            class_first = i + 2 if pattern.startswith("[^", i) else i + 1
            previous = None
            out.append(pattern[i:class_first])
            i = class_first
            continue
        elif c == "(" and pattern.startswith("(?", i):
            follower = pattern[i + 2 : i + 3]
            if follower in _FLAGS:
                raise ValueError(f"inline flags cannot be lower-cased: {pattern!r}")
            if follower == "P":
                out.append("(?P")
                i += 3
                continue
        out.append(c.lower())
        i += 1
    return "".join(out)


_META = frozenset(".^$*+?{}[]()|\\")


def required_literal(pattern: str) -> str | None:
    """The text every match of `pattern` contains, when the pattern is one literal (escaped
    punctuation allowed) between optional word boundaries: `\\brl000001\\b` -> `rl000001`,
    `\\(s775\\)` -> `(s775)`. None for any other pattern. A text without it cannot match,
    and `in` finds that far sooner than a search that must try `\\b` at every position."""
    body = pattern.removeprefix(r"\b")
    body = body[:-2] if body.endswith(r"\b") and not body.endswith(r"\\b") else body
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            escaped = body[i + 1 : i + 2]
            if not escaped or escaped.isalnum() or escaped == "_":
                return None  # a class (\\d, \\s), an anchor or a code: not a literal
            out.append(escaped)
            i += 2
            continue
        if c in _META:
            return None
        out.append(c)
        i += 1
    return "".join(out) or None


class Caseless:
    """A case-insensitive pattern: `fast` (lower-cased, no flag) for the lower-cased form of an
    ASCII text, `careful` (as written, `re.IGNORECASE`) for any other text. `fast` is None for
    a pattern `lowered` refuses (one with `(?-i:...)`, say): then every text is searched with
    `careful`. `careful` is compiled when first needed (a log of ASCII replies never needs
    it): compiling every pattern twice at import cost about 180 M instructions, ~50 ms, in
    every process."""

    __slots__ = ("_careful", "fast", "literal", "source")

    def __init__(self, source: str, fast: re.Pattern[str] | None) -> None:
        self.source = source
        """The pattern as written."""
        self.fast = fast
        self.literal = None if fast is None else required_literal(fast.pattern)
        """`required_literal` of the fast pattern: checked with `in` before it is searched."""
        self._careful = None if fast is not None else re.compile(source, re.IGNORECASE)

    @property
    def careful(self) -> re.Pattern[str]:
        """The pattern as written, with `re.IGNORECASE` (compiled once, on first use)."""
        if self._careful is None:
            self._careful = re.compile(self.source, re.IGNORECASE)
        return self._careful

    def search(self, text: str, lower: str | None) -> re.Match[str] | None:
        """Search `text` case-insensitively; `lower` is `text.lower()` when `text` is ASCII
        (the caller computes it once for many patterns), else None."""
        if lower is not None and self.fast is not None:
            if self.literal is not None and self.literal not in lower:
                return None
            return self.fast.search(lower)
        return self.careful.search(text)

    @property
    def pattern(self) -> str:
        """The pattern as written."""
        return self.source


def caseless(pattern: str, *, strict: bool = True) -> Caseless:
    """Compile a case-insensitive pattern for `Caseless`. A pattern `lowered` refuses raises
    its ValueError when `strict` (the classifier's own tables: fix the pattern), and otherwise
    gets no fast form (data files: searched as before). An invalid pattern raises `re.error`
    here either way."""
    try:
        fast: re.Pattern[str] | None = re.compile(lowered(pattern))
    except ValueError:
        if strict:
            raise
        fast = None
    return Caseless(pattern, fast)


def ascii_lower(text: str) -> str | None:
    """`text.lower()` for ASCII text (the `lower` of `Caseless.search`), else None."""
    return text.lower() if text.isascii() else None
