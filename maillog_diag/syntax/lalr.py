"""A lean driver for a Lark LALR parser: Lark's own tables, terminals and callbacks, less overhead.

`Lark.parse` costs about 40 microseconds for a five-token log line on this project's
target machine, most of it in per-call set-up (lexer state, parser state, token objects)
rather than in matching. A log has millions of lines, each parsed on its own, so this
module runs the very same LALR automaton that Lark built from the grammar (same parse
table, the contextual lexer's per-state regular expressions, the same rule callbacks with
the embedded transformer) in one tight loop over plain strings.

Most lines are one flat sequence of terminals (`start: A B C [D] -> shape`). For those the
driver first tries *shapes*: each path of shifts through the very same automaton, from the
state after the caller's pre-matched tokens to a reduction of `start` at the line's end,
compiled once into one regular expression of the terminals' own patterns, each an atomic
group (the contextual lexer never backtracks into a token). A shape's match is taken only
if no terminal that the lexer tries before the expected one matches at its place: then the
contextual lexer would have produced exactly these tokens and the automaton exactly this
reduction, so the rule's callback gets the same children (a competitor is not tried where
the token begins with a character no match of it can begin with, `first_chars`). Any other
line (a nested rule, a line no shape fits, a competitor that matches) takes the general
loop. On Postfix delivery lines the shapes take the driver's cost from about 10 to about 7
microseconds.

Nothing about the language lives here: the grammar files stay the single definition of
every line shape. `tests/test_lalr.py` checks that this driver and `Lark.parse` agree on
every line of the sample logs, and the driver raises Lark's own `UnexpectedCharacters` /
`UnexpectedToken` so callers handle errors one way.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedToken
from lark.grammar import Rule
from lark.parsers.lalr_analysis import Shift
from lark.visitors import Transformer  # (its own module, not `lark`: see below)

# Lark's classes are imported from the modules that define them, not through `lark`: code
# compiled by mypyc (the accelerated build, `pyproject.toml`) refers to a class's own module,
# and does not build when that module was never imported by name.

try:  # Python's own parser of patterns: private, so only ever a shortcut (see `first_chars`)
    from re import _constants as _sre_constants
    from re import _parser as _sre_parser
except ImportError:  # pragma: no cover - every CPython from 3.11 on has them
    _sre_parser = None

_END = "$END"
_MAX_SHAPE_TOKENS = 12
"""Longest run of tokens (after the pre-matched ones) compiled into a shape."""
_MAX_SHAPES = 64
"""Shapes kept per run of pre-matched token types (a grammar has a few dozen)."""
_MAX_PREFIXES = 4096
"""Two-character beginnings remembered per run of pre-matched token types (log text
chooses them: bounded)."""


class _Shape:
    """One flat line shape: a path of shifts that ends in a reduction of the start rule."""

    __slots__ = (
        "regex",
        "groups",
        "checks",
        "callback",
        "term_callbacks",
        "method",
        "all_groups",
    )

    def __init__(
        self,
        regex: re.Pattern[str],
        groups: tuple[int, ...],
        checks: tuple[_Check, ...],
        callback: Callable[[Any], Any],
        term_callbacks: tuple[Callable[[Any], Any] | None, ...] | None,
    ) -> None:
        self.regex = regex
        self.groups = groups
        """The regex group of each token, in order."""
        self.checks = checks
        """(group, first characters, competitors): the terminals the lexer tries first at
        that token's place, and the characters a match of theirs can begin with (None:
        any), so that a token starting with another character is not matched again."""
        self.callback = callback
        self.term_callbacks = term_callbacks
        """Per token, the transformer's terminal callback (None: the text itself)."""
        self.method: Callable[..., Any] | None = (
            getattr(callback, "method", None) if term_callbacks is None else None
        )
        """The transformer's method itself, when the callback only spreads the children
        into its arguments (see `_direct_callback`) and no token has a callback of its
        own: called with them, one frame less."""
        self.all_groups = regex.groups == len(groups) and groups == tuple(range(1, len(groups) + 1))
        """The regex's groups are exactly the tokens, in order: `Match.groups()` reads them."""


_Check = tuple[int, frozenset[str] | None, re.Pattern[str]]
"""A shape's competitor check: (group, first characters or None, competitors)."""


class _ShapeTable:
    """The shapes after one run of pre-matched token types, and which of them read the
    last line whose rest began with each two characters."""

    __slots__ = ("shapes", "by_prefix")

    def __init__(self, shapes: list[_Shape]) -> None:
        self.shapes = shapes
        self.by_prefix: dict[str, _Shape] = {}


class FastLALR:
    """Parses whole lines with the automaton of an LALR `Lark` instance (contextual lexer).

    The `Lark` instance must have been built with `parser="lalr"`, the default contextual
    lexer and an embedded transformer; only its `start` rule is used.
    """

    __slots__ = (
        "_states",
        "_start",
        "_end",
        "_callbacks",
        "_lexers",
        "_term_callbacks",
        "_patterns",
        "_shapes",
        "_use_shapes",
    )

    def __init__(
        self,
        lark: Lark,
        transformer: Transformer[Any, Any] | None = None,
        *,
        shapes: bool = True,
    ) -> None:
        """`shapes=False` reads every line with the general loop (the tests compare)."""
        frontend = lark.parser
        parser = frontend.parser.parser
        table = parser.parse_table
        (start,) = lark.options.start
        self._states: dict[Any, dict[str, tuple[Any, Any]]] = table.states
        self._start = table.start_states[start]
        self._end = table.end_states[start]
        self._callbacks: dict[Any, Callable[[Any], Any]] = dict(parser.callbacks)
        if transformer is not None:
            for rule in list(self._callbacks):
                direct = _direct_callback(rule, transformer)
                if direct is not None:
                    self._callbacks[rule] = direct
        lexers: dict[Any, tuple[list[re.Pattern[str]], frozenset[str]]] = {}
        term_callbacks: dict[str, Callable[[Token], Token]] = {}
        for state, basic in frontend.lexer.lexers.items():
            scanner = basic.scanner
            lexers[state] = (list(scanner._mres), frozenset(basic.ignore_types))
            term_callbacks.update(basic.callback)
        self._lexers = lexers
        self._term_callbacks = term_callbacks
        self._patterns: dict[str, tuple[str, int]] = {
            t.name: (t.pattern.to_regexp(), t.pattern.min_width) for t in lark.terminals
        }
        self._shapes: dict[tuple[str, ...], _ShapeTable] = {}
        self._use_shapes = shapes

    def _shapes_after(self, pre_types: tuple[str, ...]) -> list[_Shape]:
        """The flat shapes that go on after tokens of these types (built once per run)."""
        shapes: list[_Shape] = []
        if any(ttype in self._callbacks for ttype in pre_types):
            return shapes  # pre-matched tokens with callbacks of their own: the general loop
        state = self._start
        for ttype in pre_types:
            action = self._states[state].get(ttype)
            if action is None or action[0] is not Shift:
                return shapes
            state = action[1]
        self._walk(state, len(pre_types), [state], [], shapes)
        return shapes

    def _walk(
        self, state: Any, depth: int, path: list[Any], tokens: list[str], shapes: list[_Shape]
    ) -> None:
        """Depth first over shifts; a state that reduces `start` at the end makes a shape."""
        if len(shapes) >= _MAX_SHAPES:
            return
        actions = self._states[state]
        end = actions.get(_END)
        if tokens and end is not None and end[0] is not Shift:
            shape = self._shape(end[1], depth, path, tokens)
            if shape is not None:
                shapes.append(shape)
        lexer = self._lexers.get(state)
        if len(tokens) >= _MAX_SHAPE_TOKENS or lexer is None or lexer[1]:
            return  # too long, no lexer here, or ignored terminals: not a flat sequence
        for ttype, (action, arg) in actions.items():
            if action is not Shift or ttype == _END or not ttype.isupper():
                continue
            if ttype in self._term_callbacks or ttype not in self._patterns:
                continue  # a token the lexer may retype: the general loop
            path.append(arg)
            tokens.append(ttype)
            self._walk(arg, depth + 1, path, tokens, shapes)
            path.pop()
            tokens.pop()

    def _shape(self, rule: Any, depth: int, path: list[Any], tokens: list[str]) -> _Shape | None:
        """The shape of this path, if reducing `rule` at the line's end ends the parse."""
        if len(rule.expansion) != depth:
            return None  # the reduction covers part of the line: a nested rule
        goto = self._states[self._start].get(rule.origin.name)
        if goto is None or goto[1] != self._end:
            return None
        parts: list[str] = []
        checks: list[tuple[int, str]] = []
        for i, ttype in enumerate(tokens):
            pattern, min_width = self._patterns[ttype]
            if min_width < 1:
                return None  # at the line's end the lexer yields $END, never an empty token
            tried = [
                name
                for mre in self._lexers[path[i]][0]
                for name, _ in sorted(mre.groupindex.items(), key=lambda kv: kv[1])
            ]
            if ttype not in tried:
                return None
            before = tried[: tried.index(ttype)]
            if any(name not in self._patterns for name in before):
                return None
            parts.append(f"(?P<_t{i}>(?>{pattern}))")
            if before:
                competitors = "|".join(f"(?:{self._patterns[name][0]})" for name in before)
                checks.append((i, competitors))
        regex = re.compile("".join(parts) + r"\Z")
        groups = tuple(regex.groupindex[f"_t{i}"] for i in range(len(tokens)))
        term = tuple(self._callbacks.get(ttype) for ttype in tokens)
        return _Shape(
            regex,
            groups,
            tuple((groups[i], first_chars(c), re.compile(c)) for i, c in checks),
            self._callbacks[rule],
            term if any(c is not None for c in term) else None,
        )

    def _table(self, key: tuple[str, ...]) -> _ShapeTable:
        table = self._shapes.get(key)
        if table is None:
            table = self._shapes[key] = _ShapeTable(self._shapes_after(key))
        return table

    def _flat(
        self,
        text: str,
        pos: int,
        pre: tuple[tuple[str, str], ...],
        key: tuple[str, ...] | None = None,
    ) -> tuple[bool, Any]:
        """(True, what the rule's callback returns) when a shape reads the rest of the
        line as the general loop would; (False, None) otherwise (see `_shaped`)."""
        if key is None:
            key = tuple([ttype for ttype, _ in pre])
        result = _shaped(self._table(key), text, pos, tuple([value for _, value in pre]))
        if result is _NO_SHAPE:
            return False, None
        return True, result

    def parser_after(self, key: tuple[str, ...]) -> Callable[..., Any]:
        """`parse` for lines whose first tokens, of the terminal types `key`, the caller
        has matched itself: called as `f(text, pos, *values)` with their texts, in order.
        The same answer as `parse(text, pos, tuple(zip(key, values)))`, with the shape
        table looked up once, not per line."""
        table: _ShapeTable | None = None  # built at the first line (a reader may get none)

        def parse_after(text: str, pos: int, *values: str) -> Any:
            nonlocal table
            if self._use_shapes:
                if table is None:
                    table = self._table(key)
                result = _shaped(table, text, pos, values)
                if result is not _NO_SHAPE:
                    return result
            return self._general(text, pos, tuple(zip(key, values, strict=True)))

        return parse_after

    def parse(
        self,
        text: str,
        pos: int = 0,
        pre: tuple[tuple[str, str], ...] = (),
        key: tuple[str, ...] | None = None,
    ) -> Any:
        """Parse `text` from `pos`; return what the start rule's callback returns.

        `pre` holds `(terminal name, text)` pairs the caller has already matched with the
        grammar's own terminal patterns (see `LineParser`); they are fed before lexing
        resumes at `pos`. `key`, when given, is the tuple of their terminal names (a caller
        that always hands over the same kinds saves building it per line).
        """
        if self._use_shapes:
            done, result = self._flat(text, pos, pre, key)
            if done:
                return result
        return self._general(text, pos, pre)

    def _general(self, text: str, pos: int, pre: tuple[tuple[str, str], ...]) -> Any:
        """The LALR loop itself, token by token (any line a shape does not read)."""
        states = self._states
        callbacks = self._callbacks
        lexers = self._lexers
        term_callbacks = self._term_callbacks
        state_stack = [self._start]
        value_stack: list[Any] = []
        length = len(text)
        n_pre = len(pre)
        i_pre = 0
        ttype: str
        value: Any
        while True:
            state = state_stack[-1]
            if i_pre < n_pre:
                ttype, value = pre[i_pre]
                i_pre += 1
            elif pos < length:
                mres, ignore = lexers[state]
                for mre in mres:
                    m = mre.match(text, pos)
                    if m is not None:
                        break
                else:
                    allowed = {k for k in states[state] if k.isupper()}
                    raise UnexpectedCharacters(  # type: ignore[no-untyped-call]
                        text, pos, 1, 1, allowed=allowed, state=state
                    )
                value = m.group(0)
                ttype = m.lastgroup  # type: ignore[assignment]
                pos = m.end()
                if ttype in term_callbacks:
                    tok = term_callbacks[ttype](Token(ttype, value))
                    ttype, value = tok.type, tok
                if ttype in ignore:
                    continue
            else:
                ttype = _END
                value = None
            # Feed the token: reduce as long as the table says so, then shift.
            while True:
                state = state_stack[-1]
                try:
                    action, arg = states[state][ttype]
                except KeyError:
                    expected = {k for k in states[state] if k.isupper()}
                    token = Token(ttype, value if value is not None else "", pos, 1, pos + 1)
                    raise UnexpectedToken(  # type: ignore[no-untyped-call]
                        token, expected, state=state
                    ) from None
                if action is Shift:
                    if ttype == _END:  # pragma: no cover - Lark never shifts $END
                        break
                    state_stack.append(arg)
                    value_stack.append(callbacks[ttype](value) if ttype in callbacks else value)
                    break
                rule = arg
                size = len(rule.expansion)
                if size:
                    children = value_stack[-size:]
                    del state_stack[-size:]
                    del value_stack[-size:]
                else:
                    children = []
                result = callbacks[rule](children)
                _, new_state = states[state_stack[-1]][rule.origin.name]
                state_stack.append(new_state)
                value_stack.append(result)
                if ttype == _END and new_state == self._end:
                    return value_stack[-1]


_NO_SHAPE: Any = object()
"""What `_shaped` returns when no shape reads the line (a callback may return None)."""


def _shaped(table: _ShapeTable, text: str, pos: int, values: tuple[str, ...]) -> Any:
    """What the rule's callback returns when a shape of `table` reads the rest of the line
    (from `pos`, after the pre-matched tokens' texts `values`) as the general loop would;
    `_NO_SHAPE` otherwise.

    Shapes are tried in turn, first the one that last read a line whose rest began with
    the same two characters (`to`, `fr`, `me`...): usually the one that fits. Which is
    tried first changes only the speed: a shape is taken only where it reads the line
    as the general loop would, and at most one does."""
    prefix = text[pos : pos + 2]
    shape = table.by_prefix.get(prefix)
    m = None if shape is None else shape.regex.match(text, pos)
    if m is None:
        first = shape
        for shape in table.shapes:
            if shape is first:
                continue
            m = shape.regex.match(text, pos)
            if m is not None:
                if len(table.by_prefix) < _MAX_PREFIXES:
                    table.by_prefix[prefix] = shape
                break
        else:
            return _NO_SHAPE
    assert shape is not None
    for group, firsts, competitors in shape.checks:
        start = m.start(group)
        if firsts is not None and text[start : start + 1] not in firsts:
            continue  # no competitor can begin with this character
        if competitors.match(text, start) is not None:
            return _NO_SHAPE  # the lexer would take another terminal here
    method = shape.method
    if method is not None:
        if shape.all_groups:
            return method(*values, *m.groups())
        groups = shape.groups
        if len(groups) > 1:
            return method(*values, *m.group(*groups))
        return method(*values, m.group(groups[0]))
    children: list[Any] = list(values)
    groups = shape.groups
    tokens = m.group(*groups) if len(groups) > 1 else (m.group(groups[0]),)
    if shape.term_callbacks is None:
        children.extend(tokens)
    else:
        for value, term in zip(tokens, shape.term_callbacks, strict=True):
            children.append(value if term is None else term(value))
    return shape.callback(children)


class _NoFirsts(Exception):
    """A construct `first_chars` does not follow."""


@lru_cache(maxsize=256)
def first_chars(pattern: str) -> frozenset[str] | None:
    """The characters a match of `pattern` can begin with, or None when that is not known
    (a class too wide, an unusual construct, a flag such as IGNORECASE, or a pattern that
    can match the empty string). Anchors and lookarounds count as transparent, so the set
    may be larger than the truth, never smaller: a text starting with another character
    cannot match. (Read from `re._parser`, a private module: where it is missing or reads
    a construct otherwise, the answer is None, which costs only speed.)"""
    if _sre_parser is None:  # pragma: no cover
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # `[[`: a set one day, says re
            parsed = _sre_parser.parse(pattern)
    except re.error:
        return None
    if parsed.state.flags & (re.IGNORECASE | re.LOCALE | re.VERBOSE):
        return None
    found: set[str] = set()
    try:
        nullable = _firsts(list(parsed), found)
    except (_NoFirsts, AttributeError, TypeError, ValueError, IndexError):
        return None  # a construct not followed, or a parse tree of another layout
    return None if nullable or not found else frozenset(found)


_MAX_RANGE = 256
"""A character range wider than this in a first position gives up (`[^ ]`, `\\S`)."""


def _firsts(items: list[Any], found: set[str]) -> bool:
    """Add the first characters of the sequence `items` (parsed by `re._parser`) to
    `found`; whether it can match the empty string."""
    c = _sre_constants
    for op, av in items:
        if op is c.LITERAL:
            found.add(chr(av))
            return False
        if op is c.IN:
            for kind, value in av:
                if kind is c.LITERAL:
                    found.add(chr(value))
                elif kind is c.RANGE and value[1] - value[0] < _MAX_RANGE:
                    found.update(chr(x) for x in range(value[0], value[1] + 1))
                else:
                    raise _NoFirsts  # NEGATE, CATEGORY, a wide range
            return False
        if op is c.BRANCH:
            nullable = False
            for branch in av[1]:
                nullable = _firsts(list(branch), found) or nullable
            if not nullable:
                return False
        elif op is c.SUBPATTERN:
            if av[1] or av[2]:
                raise _NoFirsts  # flags switched inside the group
            if not _firsts(list(av[3]), found):
                return False
        elif op is c.ATOMIC_GROUP:
            if not _firsts(list(av), found):
                return False
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            if not _firsts(list(av[2]), found) and av[0] > 0:
                return False
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue  # zero width: the characters after it come first
        else:
            raise _NoFirsts  # ANY, NOT_LITERAL, CATEGORY, group references
    return True


def _direct_callback(rule: Any, transformer: Transformer[Any, Any]) -> Callable[[Any], Any] | None:
    """Call an inline (`@v_args(inline=True)`) transformer method without Lark's wrappers.

    Lark drops anonymous tokens (`"removed"`) and inserts None for a missing `[optional]`;
    this does the same from the rule's own layout, then calls the method with the children
    as arguments. Returns None where that does not apply, and Lark's callback is kept.
    """
    if not isinstance(rule, Rule):
        return None
    wrapper = getattr(transformer, rule.alias or rule.origin.name, None)
    visit = getattr(wrapper, "visit_wrapper", None)
    if wrapper is None or getattr(visit, "__name__", "") != "_vargs_inline":
        return None
    method: Callable[..., Any] = wrapper.base_func
    empty = list(rule.options.empty_indices or [])
    layout: list[int | None] = []
    expansion = rule.expansion
    if empty:
        # empty_indices interleaves True (a missing optional) with False (a real symbol).
        i = 0
        for missing in empty:
            if missing:
                layout.append(None)
            else:
                sym = expansion[i]
                if not (sym.is_term and getattr(sym, "filter_out", False)):
                    layout.append(i)
                i += 1
    else:
        layout = [
            i
            for i, sym in enumerate(expansion)
            if not (sym.is_term and getattr(sym, "filter_out", False))
        ]
    if layout == list(range(len(expansion))):
        return _Spread(method)
    return lambda children: method(*[None if i is None else children[i] for i in layout])


class _Spread:
    """A rule callback that calls `method` with the children as its arguments (`method` is
    kept for the shapes, which call it directly)."""

    __slots__ = ("method",)

    def __init__(self, method: Callable[..., Any]) -> None:
        self.method = method

    def __call__(self, children: list[Any]) -> Any:
        return self.method(*children)
