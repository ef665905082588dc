"""Caches keyed by log text, bounded in entries *and* in the length of the text.

A log repeats a few thousand reply texts, so pure functions of a reply are cached. But the
text is chosen by strangers and a line may be up to 1 MiB long: an `lru_cache` of 8192
entries could then hold gigabytes of keys. `text_cache` looks a call up only when its first
argument is at most `max_chars` long; a longer text is computed each time (such texts are
rare and never repeat in real logs).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_MAX_CHARS = 2000
"""Texts up to this long are cached (a long SMTP reply is a few hundred characters)."""


def text_cache(
    maxsize: int, max_chars: int = DEFAULT_MAX_CHARS
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """`functools.lru_cache(maxsize)` for calls whose first argument (a `str`, or None) is
    at most `max_chars` long; longer ones go straight to the function."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        cached = lru_cache(maxsize=maxsize)(func)

        @wraps(func)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            first: Any = args[0] if args else None
            if isinstance(first, str) and len(first) > max_chars:
                return func(*args, **kwargs)
            return cached(*args, **kwargs)  # type: ignore[arg-type]

        call.cache_info = cached.cache_info  # type: ignore[attr-defined]
        call.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        return call

    return decorate
