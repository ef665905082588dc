"""One bad line never ends the run (issue 10, "Crashes" and "Injection").

Each hostile line goes into a real sample log; the report must still come out (exit 0), with
every line accounted for (`used + ignored + unparsed == total`), the sample's destinations
intact, and the hostile line either read or counted as unparsed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from maillog_diag.cli.app import app
from tests.hostile import ROOT, run_lines

POSTFIX = ROOT / "sample_logs" / "postfix" / "mail.log"
POSTFIX_RFC = ROOT / "sample_logs" / "postfix" / "mail.log.rfc3339"
EXIM = ROOT / "sample_logs" / "exim" / "mainlog"
SENDMAIL = ROOT / "sample_logs" / "sendmail" / "maillog"

PF_DEFER = (
    "Nov 29 13:41:13 vm postfix/smtp[13254]: DCBA416022F: to=<jo@expire.test>, "
    "relay=127.0.0.13[127.0.0.13]:25, delay=0.03, delays=0.01/0.01/0/0.01, dsn=4.2.2, "
    "status=deferred (host 127.0.0.13[127.0.0.13] said: 450 4.2.2 <jo@expire.test>: Recipient "
    "address rejected: Mailbox over quota, try again later (in reply to RCPT TO command))"
)
PF_RFC = PF_DEFER.replace("Nov 29 13:41:13", "2026-11-29T13:41:13.923835+00:00")
EX_DEFER = (
    "2026-11-29 13:57:56 1xXfPg-0005yK-18 == jo@expire.test R=lab T=remote_smtp defer (-44) "
    "H=127.0.0.13 [127.0.0.13]:25 DT=0s: SMTP error from remote mail server after RCPT "
    "TO:<jo@expire.test>: 450 4.2.2 <jo@expire.test>: Recipient address rejected: Mailbox over "
    "quota, try again later"
)
EX_SENT = (
    "2026-11-29 13:57:58 1xXfPi-0005yu-2R => anna@ok.test P=<bob@sender.test> R=lab "
    'T=remote_smtp S=569 H=127.0.0.2 [127.0.0.2]:25 C="250 2.0.0 Ok: queued as LAB606780001" '
    "QT=0s DT=0s"
)
SM_DEFER = (
    "Nov 29 14:17:26 vm sm-mta[6033]: 6ATEHQPk006031: to=<jo@expire.test>, delay=00:00:00, "
    "xdelay=00:00:00, mailer=esmtp, pri=30490, relay=[127.0.0.13] [127.0.0.13], dsn=4.2.2, "
    "reply=450 4.2.2 <jo@expire.test>: Recipient address rejected: Mailbox over quota, try "
    "again later, stat=Deferred: 450 4.2.2 <jo@expire.test>: Recipient address rejected: "
    "Mailbox over quota, try again later"
)

CASES = {
    "rfc3339 year 1 +14:00": (
        POSTFIX_RFC,
        PF_RFC.replace("2026-11-29T13:41:13.923835+00:00", "0001-01-01T00:00:00+14:00"),
    ),
    "rfc3339 year 9999 -14:00": (
        POSTFIX_RFC,
        PF_RFC.replace("2026-11-29T13:41:13.923835+00:00", "9999-12-31T23:59:59-14:00"),
    ),
    "exim year 1 +1400": (
        EXIM,
        EX_DEFER.replace("2026-11-29 13:57:56", "0001-01-01 00:00:00 +1400"),
    ),
    "exim year 9999 -1400": (
        EXIM,
        EX_DEFER.replace("2026-11-29 13:57:56", "9999-12-31 23:59:59 -1400"),
    ),
    "bsd minute 61": (POSTFIX, PF_DEFER.replace("13:41:13", "23:61:61")),
    "bsd second 99": (POSTFIX, PF_DEFER.replace("13:41:13", "13:41:99")),
    "postfix delay huge": (POSTFIX, PF_DEFER.replace("delay=0.03", "delay=99999999999")),
    "postfix delay 1e400": (POSTFIX, PF_DEFER.replace("delay=0.03", "delay=1e400")),
    "postfix delay nan": (POSTFIX, PF_DEFER.replace("delay=0.03", "delay=nan")),
    "sendmail delay huge": (
        SENDMAIL,
        SM_DEFER.replace("delay=00:00:00,", "delay=99999999999+00:00:00,", 1),
    ),
    "exim QT huge": (EXIM, EX_SENT.replace("QT=0s", "QT=99999999999w")),
    "exim cut after ==": (EXIM, "2026-11-29 13:57:56 1xXfPg-0005yK-18 == "),
    "exim cut after =>": (EXIM, "2026-11-29 13:57:56 1xXfPg-0005yK-18 => "),
    "exim cut after **": (EXIM, "2026-11-29 13:57:56 1xXfPg-0005yK-18 ** "),
    "exim unbalanced quote": (
        EXIM,
        '2026-11-29 13:57:56 1xXfPg-0005yK-18 == jo@expire.test R=lab "x',
    ),
    "markup [/]": (POSTFIX, PF_DEFER.replace("try again later", "try [/] again [/bold] later")),
    "markup link": (
        POSTFIX,
        PF_DEFER.replace("try again later", "see [link=http://evil.test/]here[/link]"),
    ),
    "markup host": (EXIM, EX_DEFER.replace("try again later", "ask [mx.c.test] later")),
}

FORMATS = ("json", "text", "table", "csv", "html")


def _total_lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_line_leaves_the_report_intact(name: str, tmp_path: Path) -> None:
    sample, line = CASES[name]
    log = tmp_path / "mail.log"
    text = sample.read_text(encoding="utf-8")
    log.write_text(text + line + "\n", encoding="utf-8")
    runner = CliRunner()
    common = ["--tz", "UTC", "--year", "2026", "--jobs", "1"]
    base = json.loads(
        runner.invoke(app, ["report", str(sample), *common, "-f", "json", "--all"]).stdout
    )
    result = runner.invoke(app, ["report", str(log), *common, "-f", "json", "--all"])
    assert result.exit_code == 0, (result.stderr, result.exception)
    data = json.loads(result.stdout)
    lines = data["lines"]
    assert lines["total"] == _total_lines(sample) + 1
    assert lines["used"] + lines["ignored"] + lines["unparsed"] == lines["total"]
    assert {d["domain"] for d in base["destinations"]} <= {
        d["domain"] for d in data["destinations"]
    }
    for fmt in FORMATS[1:]:
        other = runner.invoke(app, ["report", str(log), *common, "-f", fmt, "--all"])
        assert other.exit_code == 0, (fmt, other.stderr, other.exception)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_line_through_every_renderer(name: str) -> None:
    """The same lines through the library (parser, correlator, every renderer)."""
    _sample, line = CASES[name]
    outputs = run_lines([line, line.replace("jo@expire.test", "x@y.test")])
    assert outputs["json"]


@pytest.mark.parametrize(
    "markup", ["[/]", "[/bold]", "[mx.c.test]", "[link=http://evil.test/]x[/link]"]
)
def test_log_text_is_never_read_as_markup(markup: str) -> None:
    line = PF_DEFER.replace("try again later", f"try {markup} again later")
    outputs = run_lines([line])
    # Tables (report, messages, trace) and the text trace show the reply as written.
    assert markup in outputs["table"].replace("\n", "").replace(" ", "")
    assert markup in outputs["trace"]


def test_bsd_stamps_with_impossible_minutes_are_refused() -> None:
    outputs = run_lines([PF_DEFER.replace("13:41:13", "23:61:61")], check=True)
    assert json.loads(outputs["json"])["lines"]["unparsed"] == 1


REPEAT_NOTICE = "syslog repeat notice"


def _parsed(lines: list[str]) -> tuple[list[object], dict[str, int]]:
    from maillog_diag.input.timestamps import TimeParser, YearInference, resolve_zone
    from maillog_diag.scan.lines import LineParser

    parser = LineParser(TimeParser(resolve_zone("UTC"), YearInference(fixed=2026)))
    events = [parser.parse(line, "t.log", n) for n, line in enumerate(lines, 1)]
    return events, dict(parser.counts.ignored_by_reason)


def test_syslog_repeat_notices_are_set_aside() -> None:
    """syslogd's `last message repeated N times` (no program name) is counted as ignored."""
    events, ignored = _parsed(
        [
            "Nov 29 13:41:13 vm last message repeated 3 times",
            "Nov 29 13:41:14 vm --- last message repeated 2 times ---",
            "2026-11-29T13:41:15.000001+00:00 vm last message repeated 4 times",
        ]
    )
    assert events == [None, None, None]
    assert ignored == {REPEAT_NOTICE: 3}


def test_a_subject_saying_last_message_repeated_does_not_hide_the_line() -> None:
    """The words of a repeat notice inside a line an MTA wrote (a subject a sender chose, a
    reply a receiver chose) do not make it one: the line is read as usual. (They made an
    Exim arrival vanish, with its sender and size.)"""
    arrival = (
        "2026-11-26 06:25:00 1xWSui-0008cB-4L <= james@ember.net H=hub.example [10.20.0.5]:47347"
        ' P=esmtps S=20588 id=38cf7b@brightwater.example T="the last message repeated itself"'
        " for thomas@ember-media.example"
    )
    defer = EX_DEFER.replace("quota, try again later", "quota, last message repeated 3 times")
    events, ignored = _parsed([arrival, defer])
    from maillog_diag.core.model import Arrival, Delivery

    assert isinstance(events[0], Arrival) and events[0].size == 20588
    assert isinstance(events[1], Delivery) and "last message repeated" in str(events[1].reply)
    assert REPEAT_NOTICE not in ignored


def test_a_line_a_reader_fails_on_is_unparsed_whatever_words_it_holds() -> None:
    """A mainlog line with an impossible stamp is counted unparsed (and sampled), also when
    it holds the words of a repeat notice: they never make a bad line vanish as ignored."""
    from maillog_diag.errors import UnparsableLine
    from maillog_diag.input.timestamps import TimeParser, YearInference, resolve_zone
    from maillog_diag.scan.lines import LineParser

    parser = LineParser(TimeParser(resolve_zone("UTC"), YearInference(fixed=2026)))
    with pytest.raises(UnparsableLine, match="impossible time stamp"):
        parser.parse("2026-13-45 13:57:56 1xXfPg-0005yK-18 <= a@b last message repeated 3 times")
    assert parser.counts.unparsed == 1 and parser.counts.ignored == 0
