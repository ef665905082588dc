"""Where the `.lark` grammar files are, and how they are loaded.

The grammars are the one definition of every line shape. In a source checkout they are the
top-level `grammars/` folder; inside an installed wheel hatch maps that folder to
`maillog_diag/grammars/`. Readers (`maillog_diag.mta`) and the retry-hint extractor
(`maillog_diag.core.hints`) load them through this module only.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Transformer

from maillog_diag.errors import GrammarLoadError

GRAMMAR_PACKAGE_DIR = "grammars"
"""The folder name, inside the installed package and at the top of a source checkout."""


def grammar_path(name: str) -> Path:
    """Where `name` (e.g. `postfix.lark`) is, installed or in a source checkout."""
    packaged = resources.files("maillog_diag") / GRAMMAR_PACKAGE_DIR / name
    if packaged.is_file():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / GRAMMAR_PACKAGE_DIR / name
    if checkout.is_file():
        return checkout
    raise GrammarLoadError(
        f"grammar {name} is not installed (looked in the package and {checkout})"
    )


def grammar_text(name: str) -> str:
    """The text of a grammar file."""
    return grammar_path(name).read_text(encoding="utf-8")


def load_grammar(name: str, transformer: Transformer[Any, Any] | None = None) -> Lark:
    """An LALR parser for a grammar file, with the transformer run inside the parse."""
    path = grammar_path(name)
    try:
        return Lark.open(
            str(path),
            parser="lalr",
            transformer=transformer,
            cache=True,
            propagate_positions=False,
            maybe_placeholders=True,
        )
    except Exception as exc:  # Lark raises several unrelated types for bad grammars
        raise GrammarLoadError(f"grammar {name} does not load: {exc}") from exc


def terminal_regex(lark: Lark, name: str) -> str:
    """The regular expression of one of a grammar's terminals (to build pre-filters from the
    grammar itself rather than a second copy of the pattern)."""
    return str(lark.get_terminal(name).pattern.to_regexp())
