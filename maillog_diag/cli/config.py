"""Site settings from a TOML file; command-line options win over them.

Looked for, unless `--config FILE` names one: `/etc/maillog-diag/config.toml`, then
`$XDG_CONFIG_HOME/maillog-diag/config.toml` (default `~/.config/maillog-diag/config.toml`);
when both exist the user's file overrides the system's, key by key. The environment
variable `MAILLOG_DIAG_CONFIG` names a file to use instead of those two (empty: none).

Keys (all optional)::

    tz = "Europe/Berlin"             # zone of stamps without one, and of the report
    inputs = ["/var/log/mail.log"]   # default inputs (files, globs, directories)
    rotated = true                   # read rotations of each named file
    journal = false                  # read the systemd journal instead of files
    exclude_domains = ["example.org"]  # destinations left out (with their subdomains)

    [check]                          # defaults of `maillog-diag check`
    warn_held_age = "1h"
    crit_held_age = "4h"
    warn_deferred = 50
    crit_deferred = 200
    scope = "domain"                 # or "total"
    since = "-1h"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maillog_diag.errors import MaillogError

SYSTEM_CONFIG = Path("/etc/maillog-diag/config.toml")
ENV_VAR = "MAILLOG_DIAG_CONFIG"


class ConfigError(MaillogError):
    """The configuration file cannot be read or has a wrong key or value."""


def user_config() -> Path:
    """`$XDG_CONFIG_HOME/maillog-diag/config.toml` (default under `~/.config`)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "maillog-diag" / "config.toml"


_TOP: dict[str, type | tuple[type, ...]] = {
    "tz": str,
    "inputs": list,
    "rotated": bool,
    "journal": bool,
    "exclude_domains": list,
    "check": dict,
}
_CHECK: dict[str, type | tuple[type, ...]] = {
    "warn_held_age": (str, int),
    "crit_held_age": (str, int),
    "warn_deferred": int,
    "crit_deferred": int,
    "scope": str,
    "since": str,
}


@dataclass(slots=True)
class Config:
    """The settings read, and the files they came from."""

    tz: str | None = None
    inputs: list[str] | None = None
    rotated: bool | None = None
    journal: bool | None = None
    exclude_domains: list[str] = field(default_factory=list)
    check: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def _validate(path: Path, data: dict[str, Any]) -> None:
    for key, value in data.items():
        if key not in _TOP:
            raise ConfigError(f"{path}: unknown key {key!r} (known: {', '.join(_TOP)})")
        if not isinstance(value, _TOP[key]):
            raise ConfigError(f"{path}: {key} has the wrong type")
        items: list[Any] = value if isinstance(value, list) else []
        if key in ("inputs", "exclude_domains") and not all(isinstance(v, str) for v in items):
            raise ConfigError(f"{path}: {key} must be a list of strings")
    for key, value in data.get("check", {}).items():
        if key not in _CHECK:
            raise ConfigError(f"{path}: unknown key check.{key} (known: {', '.join(_CHECK)})")
        if not isinstance(value, _CHECK[key]) or isinstance(value, bool):
            raise ConfigError(f"{path}: check.{key} has the wrong type")
    if data.get("check", {}).get("scope", "domain") not in ("domain", "total"):
        raise ConfigError(f"{path}: check.scope must be 'domain' or 'total'")


def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except PermissionError:
        raise ConfigError(f"{path}: permission denied") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    _validate(path, data)
    return data


def load_config(explicit: str | None = None) -> Config:
    """The configuration: `explicit` alone when given, else `MAILLOG_DIAG_CONFIG`, else
    the system file overridden by the user file (missing files are skipped)."""
    if explicit is not None:
        paths, required = [Path(explicit)], True
    elif ENV_VAR in os.environ:
        value = os.environ[ENV_VAR]
        paths, required = ([Path(value)] if value else []), True
    else:
        paths, required = [SYSTEM_CONFIG, user_config()], False
    merged: dict[str, Any] = {}
    check: dict[str, Any] = {}
    files: list[str] = []
    for path in paths:
        if not required and not path.is_file():
            continue
        data = _read(path)
        files.append(str(path))
        check.update(data.pop("check", {}))
        merged.update(data)
    domains = [d.strip().lower().lstrip(".") for d in merged.get("exclude_domains", [])]
    return Config(
        tz=merged.get("tz"),
        inputs=merged.get("inputs"),
        rotated=merged.get("rotated"),
        journal=merged.get("journal"),
        exclude_domains=[d for d in domains if d],
        check=check,
        files=files,
    )
