"""Inputs in any order: files are read in time order whatever order they are named in, a
file named twice or a copy under another name is not counted twice, and a file whose
stamps jump backwards is flagged (issue 9)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app

from .conftest import SAMPLE_LOGS

POSTFIX = SAMPLE_LOGS / "postfix" / "mail.log"

# The fields of a report that must not depend on how the log was split or named.
_KEYS = ("messages", "totals", "destinations", "held_mail")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _report(runner: CliRunner, *args: str) -> tuple[dict[str, Any], str]:
    result = runner.invoke(app, ["report", "--format", "json", "--tz", "UTC", *args])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
    """The report without line references (file names differ between the two runs)."""
    text = json.dumps({k: data[k] for k in _KEYS}, sort_keys=True)
    out: dict[str, Any] = json.loads(text)

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in ("example_line", "line")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return {k: strip(v) for k, v in out.items()}


def _split_sample(directory: Path, names: tuple[str, str, str]) -> list[Path]:
    """The Postfix sample split in three consecutive parts, oldest part first; a name
    ending in .gz is written compressed."""
    lines = POSTFIX.read_bytes().splitlines(keepends=True)
    third = len(lines) // 3
    parts = [lines[:third], lines[third : 2 * third], lines[2 * third :]]
    paths = []
    for name, part in zip(names, parts, strict=True):
        path = directory / name
        data = b"".join(part)
        path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
        paths.append(path)
    return paths


def test_shell_order_of_rotations_equals_the_single_file(runner: CliRunner, tmp_path: Path) -> None:
    oldest, middle, newest = _split_sample(tmp_path, ("mail.log.2.gz", "mail.log.1", "mail.log"))
    whole, _ = _report(runner, str(POSTFIX))
    # `mail.log*` as the shell expands it: mail.log, mail.log.1, mail.log.2.gz (newest first)
    split, stderr = _report(runner, str(newest), str(middle), str(oldest))
    assert _comparable(split) == _comparable(whole)
    assert split["messages"] == whole["messages"]
    assert "time order" in stderr


def test_dated_rotation_names_equal_the_single_file(runner: CliRunner, tmp_path: Path) -> None:
    oldest, middle, newest = _split_sample(
        tmp_path, ("mail.log-20261128.gz", "mail.log-20261129", "mail.log")
    )
    whole, _ = _report(runner, str(POSTFIX))
    split, _ = _report(runner, str(newest), str(oldest), str(middle))
    assert _comparable(split) == _comparable(whole)


def test_rotated_named_after_the_live_file(runner: CliRunner, tmp_path: Path) -> None:
    _split_sample(tmp_path, ("mail.log.2.gz", "mail.log.1", "mail.log"))
    whole, _ = _report(runner, str(POSTFIX))
    split, _ = _report(
        runner, str(tmp_path / "mail.log.1"), str(tmp_path / "mail.log"), "--rotated"
    )
    assert _comparable(split) == _comparable(whole)


def test_files_in_time_order_say_nothing_about_order(runner: CliRunner, tmp_path: Path) -> None:
    paths = _split_sample(tmp_path, ("mail.log.2.gz", "mail.log.1", "mail.log"))
    _, stderr = _report(runner, *map(str, paths))
    assert "order" not in stderr and "overlap" not in stderr
    # consecutive rotations are not compared line by line (that costs a stamp parse a line)
    res = runner.invoke(app, ["stats", "--tz", "UTC", *map(str, paths)])
    assert "same line in an earlier input" not in json.loads(res.stdout)["ignored_by_reason"]


def test_a_copy_under_another_name_is_read_once(runner: CliRunner, tmp_path: Path) -> None:
    copy = tmp_path / "mail.info"
    shutil.copy(POSTFIX, copy)
    whole, _ = _report(runner, str(POSTFIX))
    both, stderr = _report(runner, str(POSTFIX), str(copy))
    assert _comparable(both) == _comparable(whole)
    assert both["lines"]["total"] == 2 * whole["lines"]["total"]
    assert "overlap" in stderr and "mail.info" in stderr


def test_partly_overlapping_files_count_each_line_once(runner: CliRunner, tmp_path: Path) -> None:
    lines = POSTFIX.read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_bytes(b"".join(lines[: half + 100]))  # 100 lines in both files
    second.write_bytes(b"".join(lines[half:]))
    whole, _ = _report(runner, str(POSTFIX))
    both, _ = _report(runner, str(second), str(first))
    assert _comparable(both) == _comparable(whole)


def test_a_file_whose_stamps_jump_backwards_is_named(runner: CliRunner, tmp_path: Path) -> None:
    # Without the two start-up lines, so that the first line after the jump is a used one.
    lines = POSTFIX.read_text().splitlines(keepends=True)[2:]
    half = len(lines) // 2
    swapped = tmp_path / "swapped.log"
    swapped.write_text("".join(lines[half:] + lines[:half]))
    result = runner.invoke(app, ["report", "--format", "json", "--tz", "UTC", str(swapped)])
    assert f"swapped.log:{len(lines) - half + 1}" in result.stderr
    assert "backwards" in result.stderr
