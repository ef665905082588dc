"""The README's promises: it opens with the two set-up commands CI runs, and every
`maillog-diag <command>` and option it shows exists."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app

from .conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second() -> None:
    block = README.split("```sh\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert block == [
        "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/maillog-diag report sample_logs/postfix/mail.log",
        "python3 -m venv .venv && .venv/bin/pip install '.[test]' && .venv/bin/python -m pytest",
    ]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install --quiet '.[test]'" in ci
    assert ".venv/bin/python -m pytest" in ci
    assert (ROOT / "sample_logs" / "postfix" / "mail.log").is_file()


def test_every_command_and_option_in_the_readme_exists() -> None:
    runner = CliRunner()
    code = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", README, re.S))
    uses = re.findall(r"maillog-diag ([a-z]+)((?: [^\n`|#]*)?)", code)
    assert uses
    for command, rest in uses:
        help_text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
        assert help_text.exit_code == 0, command
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", rest):
            assert option in help_text.stdout, (command, option)


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, re.S)


def test_readme_systemd_units_are_whole_and_name_their_files() -> None:
    import configparser

    units = {}
    for block in _blocks("ini"):
        first = block.splitlines()[0]
        found = re.match(r"# /etc/systemd/system/(\S+\.(service|timer))", first)
        assert found, first
        parser = configparser.ConfigParser(strict=True, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(block)
        units[found.group(1)] = parser
        assert "Unit" in parser and parser["Unit"].get("Description")
        if found.group(2) == "service":
            argv = parser["Service"]["ExecStart"].split()
            assert argv[0] == "/usr/local/bin/maillog-diag"
        else:
            assert "Timer" in parser and parser["Install"]["WantedBy"] == "timers.target"
    timers = [name for name in units if name.endswith(".timer")]
    assert timers
    for timer in timers:  # a timer starts the service of the same name
        service = units[timer.removesuffix(".timer") + ".service"]
        assert service["Service"]["Type"] == "oneshot"


def test_readme_textfile_commands_write_a_whole_prom_file(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    commands = [
        line.split("root ", 1)[1]
        for block in _blocks("cron")
        for line in block.splitlines()
        if "--textfile" in line and not line.startswith("#")
    ]
    commands += [
        line.split("=", 1)[1]
        for block in _blocks("ini")
        for line in block.splitlines()
        if line.startswith("ExecStart=") and "--textfile" in line
    ]
    assert len(commands) >= 2
    sample = str(ROOT / "sample_logs" / "postfix" / "mail.log")
    for n, command in enumerate(commands):
        argv = command.split()[1:]
        where = argv.index("--textfile") + 1
        target = Path(argv[where])
        assert target.suffix == ".prom"  # node_exporter reads *.prom only
        folder = tmp_path / str(n)
        folder.mkdir()
        argv[where] = str(folder / target.name)
        argv = [sample if a == "/var/log/mail.log" else a for a in argv]
        result = CliRunner().invoke(app, [*argv, "--tz", "UTC", "--year", "2026"])
        assert result.exit_code == 0, result.output
        assert [p.name for p in folder.iterdir()] == [target.name]
        families = {
            f.name for f in text_string_to_metric_families((folder / target.name).read_text())
        }
        assert "maillog_diag_deferrals" in families


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_accepts_the_readme_units(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("maillog-diag")
    if not exe.exists():
        pytest.skip("maillog-diag is not installed beside this Python")
    names = []
    for block in _blocks("ini"):
        name = block.splitlines()[0].split("/etc/systemd/system/", 1)[1].split()[0]
        (tmp_path / name).write_text(block.replace("/usr/local/bin/maillog-diag", str(exe)))
        names.append(str(tmp_path / name))
    proc = subprocess.run(
        ["systemd-analyze", "verify", *names], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "", proc.stderr  # unknown keys are only warnings
