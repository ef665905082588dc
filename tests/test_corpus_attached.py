"""Every delivery line of the public corpus (`../shared/corpus/public/<mta>/`) is attached to
a recipient (issue 9): the delivery lines are found by a plain pattern per MTA, independent
of the readers, and each must be the `line` of some attempt in the `messages` output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app

from .conftest import CORPUS

DELIVERY_LINE = {
    # smtp/lmtp/local/virtual/pipe/error/retry/discard under any syslog_name (postfix-out,
    # postfix/amavis), with or without a Solaris message-id tag
    "postfix": re.compile(
        r" postfix[-\w]*(?:/[-\w]+)*/(?:smtp|lmtp|local|virtual|pipe|error|retry|discard)\[\d+\]: "
        r"(?:\[ID \d+ [a-z0-9]+\.[a-z]+\] )?[0-9A-Za-z]+: to=<[^>]*>,.* status=[a-z]+"
    ),
    # "<id> => addr", "->", "==", "**", "*>", ">>" after Exim's stamp (and pid)
    "exim": re.compile(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [+-]\d{4})?(?: \[\d+\])? "
        r"[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4} (?:=>|->|==|\*\*|\*>|>>) "
    ),
    "sendmail": re.compile(r" (?:sendmail|sm-mta|sm-msp-queue)\[\d+\]: \w+: to=.*, stat="),
}

FILES = [
    (mta, path)
    for mta in DELIVERY_LINE
    for path in (sorted((CORPUS / mta).glob("*.log")) if (CORPUS / mta).is_dir() else [])
    if "grok-patterns" not in path.name  # message bodies without a syslog header
]
pytestmark = pytest.mark.skipif(not FILES, reason="../shared corpus not present")


@pytest.mark.parametrize(("mta", "path"), FILES, ids=[p.name for _, p in FILES])
def test_every_delivery_line_is_attached_to_a_recipient(mta: str, path: Path) -> None:
    pattern = DELIVERY_LINE[mta]
    with path.open(encoding="utf-8", errors="replace") as f:
        wanted = {n for n, line in enumerate(f, 1) if pattern.search(line)}
    res = CliRunner().invoke(
        app,
        ["messages", str(path), "--tz", "UTC", "--year", "2026", "--format", "jsonl"],
        env={"MAILLOG_DIAG_CONFIG": ""},
    )
    attached = set()
    for line in res.stdout.splitlines():
        for rcpt in json.loads(line)["recipients"]:
            for attempt in rcpt["attempts"]:
                if attempt["line"]:
                    attached.add(int(attempt["line"].rsplit(":", 1)[1]))
    assert sorted(wanted - attached) == []
