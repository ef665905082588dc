"""Every catalogue row as a real deferral line of each MTA, through the whole pipeline
(grammar, correlation, diagnosis, JSON): cause, provider, token and hint as documented.

`tests/test_catalogue.py` checks the classifier on the reply texts; this checks that the
Postfix, Exim and Sendmail line readers hand it the reply, relay and stage it needs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maillog_diag.input.timestamps import resolve_zone
from maillog_diag.output.serialize import message_dict
from maillog_diag.scan.pipeline import ScanOptions, collect_messages

from .test_catalogue import ROWS, CatalogueRow

UTC = resolve_zone("UTC")
RCPT = "someone@dest.example"


def _relay(row: CatalogueRow) -> str:
    return row.relay or "mx.dest.example"


def postfix_line(row: CatalogueRow) -> str:
    relay = _relay(row)
    return (
        f"Nov 29 12:00:00 mx1 postfix/smtp[4242]: 4F2A31C02B9: to=<{RCPT}>, "
        f"relay={relay}[192.0.2.7]:25, delay=1, delays=0/0/0.5/0.5, dsn=4.0.0, "
        f"status=deferred (host {relay}[192.0.2.7] said: {row.reply} (in reply to RCPT TO command))"
    )


def exim_line(row: CatalogueRow) -> str:
    relay = _relay(row)
    return (
        f"2026-11-29 12:00:00 1vAbCd-000100-Aa == {RCPT} R=dnslookup T=remote_smtp defer (-44) "
        f"H={relay} [192.0.2.7]: SMTP error from remote mail server after RCPT TO:<{RCPT}>: "
        f"{row.reply}"
    )


def sendmail_line(row: CatalogueRow) -> str:
    relay = _relay(row)
    return (
        f"Nov 29 12:00:00 mx1 sm-mta[4242]: 5ATC00aa001000: to=<{RCPT}>, delay=00:00:01, "
        f"xdelay=00:00:01, mailer=esmtp, pri=120000, relay={relay}. [192.0.2.7], dsn=4.0.0, "
        f"stat=Deferred: {row.reply}"
    )


MAKERS = {"postfix": postfix_line, "exim": exim_line, "sendmail": sendmail_line}
CASES = [pytest.param(mta, row, id=f"{mta}-{row.id}") for mta in MAKERS for row in ROWS]


@pytest.mark.parametrize(("mta", "row"), CASES)
def test_catalogue_row_in_a_real_deferral_line(tmp_path: Path, mta: str, row: CatalogueRow) -> None:
    log = tmp_path / "mail.log"
    log.write_text(MAKERS[mta](row) + "\n", encoding="utf-8")
    messages, result = collect_messages([str(log)], ScanOptions(zone=UTC, year=2026))
    assert result.counts.used == 1, result.unparsed_sample
    (msg,) = messages
    data = message_dict(msg, UTC)
    assert data["mta"] == mta
    (rcpt,) = data["recipients"]
    assert rcpt["address"] == RCPT
    (attempt,) = rcpt["attempts"]
    assert attempt["status"] == "deferred"
    got = {
        k: attempt[k] for k in ("cause", "provider", "token", "retry_hint", "retry_hint_seconds")
    }
    assert got == {
        "cause": row.cause,
        "provider": row.provider,
        "token": row.token,
        "retry_hint": row.hint_kind,
        "retry_hint_seconds": row.hint_seconds,
    }
