"""The README's promises: it opens with the two set-up commands CI runs, and every
`maillog-diag <command>` and option it shows exists."""

from __future__ import annotations

import re

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
