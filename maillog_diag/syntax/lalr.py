"""A lean driver for a Lark LALR parser: Lark's own tables, terminals and callbacks, less overhead.

`Lark.parse` costs about 40 microseconds for a five-token log line on this project's
target machine, most of it in per-call set-up (lexer state, parser state, token objects)
rather than in matching. A log has millions of lines, each parsed on its own, so this
module runs the very same LALR automaton that Lark built from the grammar (same parse
table, the contextual lexer's per-state regular expressions, the same rule callbacks with
the embedded transformer) in one tight loop over plain strings.

Nothing about the language lives here: the grammar files stay the single definition of
every line shape. `tests/test_lalr.py` checks that this driver and `Lark.parse` agree on
every line of the sample logs, and the driver raises Lark's own `UnexpectedCharacters` /
`UnexpectedToken` so callers handle errors one way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedToken
from lark.grammar import Rule
from lark.parsers.lalr_analysis import Shift

_END = "$END"


class FastLALR:
    """Parses whole lines with the automaton of an LALR `Lark` instance (contextual lexer).

    The `Lark` instance must have been built with `parser="lalr"`, the default contextual
    lexer and an embedded transformer; only its `start` rule is used.
    """

    __slots__ = ("_states", "_start", "_end", "_callbacks", "_lexers", "_term_callbacks")

    def __init__(self, lark: Lark, transformer: Transformer[Any, Any] | None = None) -> None:
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

    def parse(self, text: str, pos: int = 0, pre: tuple[tuple[str, str], ...] = ()) -> Any:
        """Parse `text` from `pos`; return what the start rule's callback returns.

        `pre` holds `(terminal name, text)` pairs the caller has already matched with the
        grammar's own terminal patterns (see `LineParser`); they are fed before lexing
        resumes at `pos`.
        """
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
        return lambda children: method(*children)
    return lambda children: method(*[None if i is None else children[i] for i in layout])
