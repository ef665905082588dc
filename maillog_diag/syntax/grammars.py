"""Where the `.lark` grammar files are, and how they are loaded.

The grammars are the one definition of every line shape. In a source checkout they are the
top-level `grammars/` folder; inside an installed wheel hatch maps that folder to
`maillog_diag/grammars/`. Readers (`maillog_diag.mta`) and the retry-hint extractor
(`maillog_diag.core.hints`) load them through this module only.
"""

from __future__ import annotations

import os
import stat
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import lark
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


CACHE_DIR_NAME = "maillog-diag"
"""The folder of built parser tables, under `$XDG_CACHE_HOME` (default `~/.cache`)."""


def _private_dir(path: Path) -> bool:
    """Whether `path` is a real directory (not a link) owned by this user that nobody
    else may write to or read."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_ISDIR(st.st_mode)
        and st.st_uid == os.geteuid()
        and not st.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    )


def cache_dir() -> Path | None:
    """The private per-user folder that holds built parser tables, created mode 0700 if
    missing; None when there is none that is safe to use.

    Lark's own `cache=True` keeps its tables as a pickle under a predictable name in the
    shared temporary directory, and loading a pickle runs code: whoever creates that file
    first would run code as the next user of the tool (root, from cron). The tables are
    therefore only ever read from a folder owned by the user and closed to everyone else;
    anything else (a link, another owner, a group- or world-accessible mode) is not used,
    and the parser is built afresh (about 0.4 seconds).
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    folder = Path(base) / CACHE_DIR_NAME
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
        os.mkdir(folder, mode=0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    return folder if _private_dir(folder) else None


def _cache_file(name: str) -> str | bool:
    """Where Lark may keep the tables of grammar `name`: a file in `cache_dir()` that is
    ours and not writable by others, or False (no cache)."""
    folder = cache_dir()
    if folder is None:
        return False
    version = f"{sys.version_info[0]}{sys.version_info[1]}"
    path = folder / f"{Path(name).stem}-lark{lark.__version__}-py{version}.pickle"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return str(path)
    except OSError:
        return False
    mine = stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid()
    if not mine or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return False
    return str(path)


def load_grammar(name: str, transformer: Transformer[Any, Any] | None = None) -> Lark:
    """An LALR parser for a grammar file, with the transformer run inside the parse.

    The built tables are kept in `cache_dir()` only (never in the shared temporary
    directory); Lark checks that a cached file matches the grammar and its options."""
    path = grammar_path(name)
    try:
        return Lark.open(
            str(path),
            parser="lalr",
            transformer=transformer,
            cache=_cache_file(name),
            propagate_positions=False,
            maybe_placeholders=True,
        )
    except Exception as exc:  # Lark raises several unrelated types for bad grammars
        raise GrammarLoadError(f"grammar {name} does not load: {exc}") from exc


def terminal_regex(lark: Lark, name: str) -> str:
    """The regular expression of one of a grammar's terminals (to build pre-filters from the
    grammar itself rather than a second copy of the pattern)."""
    return str(lark.get_terminal(name).pattern.to_regexp())
