"""The provider knowledge base and the enhanced-status-code registry, loaded from data files.

``maillog_diag/data/providers.toml`` and ``maillog_diag/data/enhanced_codes.toml`` ship inside
the package and are read with :mod:`tomllib` through :mod:`importlib.resources`. Every fact in
them carries its public source; this module only turns them into typed, compiled objects.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from maillog_diag.core.caseless import Caseless, caseless
from maillog_diag.core.causes import Cause

__all__ = [
    "CodeMeaning",
    "CodeRule",
    "KnowledgeBase",
    "Provider",
    "ProviderRule",
    "ProviderToken",
    "knowledge_base",
]

_FLAGS = re.IGNORECASE
"""Of `token_patterns`, whose group is taken from the text as written. Tokens, rules and
markers are `caseless`: searched on the lower-cased text of an ASCII reply (a pattern that
cannot be lower-cased soundly, such as a `(?-i:...)` marker, is searched as written)."""


@dataclass(frozen=True, slots=True)
class ProviderToken:
    """A provider-specific token (``TSS04``, ``S775``, ``RL000010`` ...)."""

    token: str
    pattern: Caseless
    cause: Cause | None
    meaning: str
    source: str
    documented_retry_seconds: int | None = None
    documented_retry_text: str | None = None
    do_not_retry: bool = False


@dataclass(frozen=True, slots=True)
class CodeRule:
    """An enhanced status code (or inclusive range of codes) with a provider's meaning."""

    low: tuple[int, int, int]
    high: tuple[int, int, int]
    cause: Cause
    detail: str
    source: str

    def matches(self, code: tuple[int, int, int] | None) -> bool:
        return code is not None and self.low <= code <= self.high


@dataclass(frozen=True, slots=True)
class ProviderRule:
    """A provider text rule: optional regex and optional code condition."""

    pattern: Caseless | None
    code: CodeRule | None
    cause: Cause
    detail: str
    source: str
    token: str | None = None
    documented_retry_seconds: int | None = None
    documented_retry_text: str | None = None


@dataclass(frozen=True, slots=True)
class Provider:
    """One receiver (mailbox provider, security gateway or receiving software)."""

    id: str
    name: str
    source: str
    hosts: tuple[str, ...]
    markers: tuple[Caseless, ...]
    token_patterns: tuple[re.Pattern[str], ...]
    tokens: tuple[ProviderToken, ...]
    rules: tuple[ProviderRule, ...]
    codes: tuple[CodeRule, ...]

    @property
    def label(self) -> str:
        """Short display name ("Gmail" for "Gmail / Google Workspace")."""
        return self.name.split(" / ")[0].split(" (")[0]


@dataclass(frozen=True, slots=True)
class CodeMeaning:
    """IANA registry meaning of an enhanced status code and this project's default cause."""

    code: str
    registry: str
    ref: str
    cause: Cause
    note: str | None


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """Providers by id, a host-suffix index, and the enhanced-code registry."""

    providers: Mapping[str, Provider]
    host_index: Mapping[str, str]
    enhanced_codes: Mapping[str, CodeMeaning]
    enhanced_source: str


def parse_code(text: str) -> tuple[int, int, int]:
    """``"4.7.28"`` -> ``(4, 7, 28)``."""
    a, b, c = text.strip().split(".")
    return int(a), int(b), int(c)


def _code_rule(raw: Mapping[str, Any], code: str) -> CodeRule:
    low_text, _, high_text = code.partition("-")
    low = parse_code(low_text)
    high = parse_code(high_text) if high_text else low
    return CodeRule(low, high, Cause(raw["cause"]), raw["detail"], raw["source"])


def _provider(raw: Mapping[str, Any]) -> Provider:
    tokens = tuple(
        ProviderToken(
            token=t["token"],
            pattern=caseless(t["pattern"], strict=False),
            cause=Cause(t["cause"]) if "cause" in t else None,
            meaning=t["meaning"],
            source=t["source"],
            documented_retry_seconds=t.get("documented_retry_seconds"),
            documented_retry_text=t.get("documented_retry_text"),
            do_not_retry=bool(t.get("do_not_retry", False)),
        )
        for t in raw.get("token", [])
    )
    rules = tuple(
        ProviderRule(
            pattern=caseless(r["pattern"], strict=False) if "pattern" in r else None,
            code=_code_rule(r, r["code"]) if "code" in r else None,
            cause=Cause(r["cause"]),
            detail=r["detail"],
            source=r["source"],
            token=r.get("token"),
            documented_retry_seconds=r.get("documented_retry_seconds"),
            documented_retry_text=r.get("documented_retry_text"),
        )
        for r in raw.get("rule", [])
    )
    codes = tuple(_code_rule(c, c["code"]) for c in raw.get("code", []))
    return Provider(
        id=raw["id"],
        name=raw["name"],
        source=raw["source"],
        hosts=tuple(h.lower().strip(".") for h in raw.get("hosts", [])),
        markers=tuple(caseless(m, strict=False) for m in raw.get("markers", [])),
        token_patterns=tuple(re.compile(p, _FLAGS) for p in raw.get("token_patterns", [])),
        tokens=tokens,
        rules=rules,
        codes=codes,
    )


def _load_toml(name: str) -> dict[str, Any]:
    data = resources.files("maillog_diag.core").joinpath("data", name).read_bytes()
    return tomllib.loads(data.decode("utf-8"))


@cache
def knowledge_base() -> KnowledgeBase:
    """Load and compile both data files (once per process)."""
    raw = _load_toml("providers.toml")
    providers: dict[str, Provider] = {}
    host_index: dict[str, str] = {}
    for entry in raw["provider"]:
        provider = _provider(entry)
        if provider.id in providers:
            raise ValueError(f"duplicate provider id {provider.id!r} in providers.toml")
        providers[provider.id] = provider
        for host in provider.hosts:
            host_index.setdefault(host, provider.id)
    codes_raw = _load_toml("enhanced_codes.toml")
    codes = {
        code: CodeMeaning(code, c["registry"], c["ref"], Cause(c["cause"]), c.get("note"))
        for code, c in codes_raw["codes"].items()
    }
    return KnowledgeBase(
        providers=MappingProxyType(providers),
        host_index=MappingProxyType(host_index),
        enhanced_codes=MappingProxyType(codes),
        enhanced_source=codes_raw["source"],
    )
