"""classify(), stage_from_text() and the cause taxonomy."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from maillog_diag.core.causes import CAUSE_INFO, Cause
from maillog_diag.core.classify import Classification, Stage, classify, stage_from_text
from maillog_diag.core.hints import HintKind, RetryHint
from maillog_diag.core.knowledge import knowledge_base

ROOT = Path(__file__).resolve().parent.parent
AT = datetime(2024, 11, 29, 13, 0, 0, tzinfo=UTC)


# --- taxonomy --------------------------------------------------------------------------------


def test_cause_ids_are_stable() -> None:
    assert {c.value for c in Cause} >= {
        "greylisting", "rate_limit", "reputation", "auth_policy", "forced_split", "mailbox",
        "receiver_unavailable", "connection", "dns", "tls", "local", "expired", "unknown",
    }  # fmt: skip
    for cause in Cause:
        assert cause.value == cause.value.lower()


def test_every_cause_has_info_and_docs() -> None:
    docs = (ROOT / "docs" / "causes.md").read_text(encoding="utf-8")
    for cause in Cause:
        info = CAUSE_INFO[cause]
        assert info.title and info.explanation and info.sender_action
        assert f"`{cause.value}`" in docs


# --- knowledge base --------------------------------------------------------------------------


def test_every_kb_entry_has_a_source() -> None:
    raw = tomllib.loads(
        (ROOT / "maillog_diag" / "core" / "data" / "providers.toml").read_text("utf-8")
    )
    for provider in raw["provider"]:
        assert provider["source"], provider["id"]
        for kind in ("token", "rule", "code"):
            for entry in provider.get(kind, []):
                assert entry["source"], (provider["id"], entry)
    codes = tomllib.loads(
        (ROOT / "maillog_diag" / "core" / "data" / "enhanced_codes.toml").read_text()
    )
    for code, entry in codes["codes"].items():
        assert entry["registry"] and entry["ref"], code
        Cause(entry["cause"])


def test_required_providers_present() -> None:
    ids = set(knowledge_base().providers)
    assert ids >= {
        "gmail", "microsoft", "yahoo", "apple", "comcast", "mimecast", "proofpoint", "barracuda",
        "gmx", "yandex", "postgrey", "sqlgrey", "milter-greylist", "rspamd", "postfix-postscreen",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("relay", "provider"),
    [
        ("gmail-smtp-in.l.google.com[142.250.1.27]:25", "gmail"),
        ("alt1.aspmx.l.google.com", "gmail"),
        ("example-com.mail.protection.outlook.com[52.101.1.1]", "microsoft"),
        ("mta7.am0.yahoodns.net", "yahoo"),
        ("mx01.mail.icloud.com.", "apple"),
        ("mx1.comcast.net", "comcast"),
        ("us-smtp-inbound-1.mimecast.com", "mimecast"),
        ("mx0a-00123.pphosted.com", "proofpoint"),
        ("d123.ess.barracudanetworks.com", "barracuda"),
        ("mx00.gmx.net", "gmx"),
        ("mx-ha02.web.de", "gmx"),
        ("mx.yandex.net", "yandex"),
        ("mx.example.org", None),
        ("notgoogle.com", None),
    ],
)
def test_provider_from_relay(relay: str, provider: str | None) -> None:
    assert classify("451 whatever", relay=relay).provider == provider


# --- stages ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("host x[1.2.3.4] said: 450 4.2.0 Greylisted (in reply to RCPT TO command)", Stage.RCPT),
        ("host x[1.2.3.4] said: 421 4.7.0 [TSS04] (in reply to MAIL FROM command)", Stage.MAIL),
        ("host x[1.2.3.4] said: 451 4.7.500 busy (in reply to end of DATA command)",
         Stage.END_OF_DATA),
        ("host x[1.2.3.4] said: 451 try later (in reply to DATA command)", Stage.DATA),
        ("lost connection with x[1.2.3.4] while receiving the initial server greeting",
         Stage.GREETING),
        ("host x[1.2.3.4] refused to talk to me: 421 Refused", Stage.GREETING),
        ("SMTP error from remote mail server after RCPT TO:<a@b.example>: 451 x", Stage.RCPT),
        ("SMTP error from remote mail server after MAIL FROM:<a@b.example> SIZE=1: 421 x",
         Stage.MAIL),
        ("SMTP error from remote mail server after end of data: 451 x", Stage.END_OF_DATA),
        ("SMTP error from remote mail server after initial connection: 421 x", Stage.GREETING),
        ("Remote host closed connection in response to initial connection", Stage.GREETING),
        ("conversation with x[1.2.3.4] timed out while sending RCPT TO", Stage.RCPT),
        ("conversation with x[1.2.3.4] timed out while sending MAIL FROM", Stage.MAIL),
        ("host x[1.2.3.4] said: 454 4.7.0 TLS not available (in reply to STARTTLS command)",
         Stage.STARTTLS),
        ("host x[1.2.3.4] said: 421 4.7.0 go away (in reply to EHLO command)", Stage.HELO),
        ("connect to x[1.2.3.4]:25: Connection refused", Stage.CONNECT),
        ("Deferred: 451 4.7.1 Greylisted during RCPT", Stage.RCPT),
        ("Deferred: 421 4.3.2 Service not available during connection", Stage.CONNECT),
        ("451 4.7.1 Try again later", Stage.UNKNOWN),
    ],
)  # fmt: skip
def test_stage_from_text(text: str, stage: Stage) -> None:
    assert stage_from_text(text) is stage


# --- local descriptions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("connect to mx.example.com[192.0.2.1]:25: Connection refused", Cause.CONNECTION),
        ("connect to mx.example.com[192.0.2.1]:25: Connection timed out", Cause.CONNECTION),
        ("lost connection with mx.example.com[192.0.2.1] while receiving the initial server "
         "greeting", Cause.CONNECTION),
        ("conversation with mx.example.com[192.0.2.1] timed out while sending RCPT TO",
         Cause.CONNECTION),
        ("Host or domain name not found. Name service error for name=example.com type=MX: Host "
         "not found, try again", Cause.DNS),
        ("Cannot start TLS: handshake failure", Cause.TLS),
        ("TLS is required, but was not offered by host mx.example.com[192.0.2.1]", Cause.TLS),
        ("mail for example.com loops back to myself", Cause.LOCAL),
        ("unknown mail transport error", Cause.LOCAL),
        ("connect to 127.0.0.1[127.0.0.1]:10024: Connection refused", Cause.LOCAL),
        ("connect to private/amavis: Connection refused", Cause.LOCAL),
        ("message expired, returned to sender", Cause.EXPIRED),
        # Exim
        ("Connection timed out", Cause.CONNECTION),
        ("Connection refused", Cause.CONNECTION),
        ("retry time not reached", Cause.LOCAL),
        ("all hosts for 'example.com' have been failing for a long time (and retry time not "
         "reached)", Cause.LOCAL),
        ("Remote host closed connection in response to initial connection", Cause.CONNECTION),
        ("retry timeout exceeded", Cause.EXPIRED),
        ("defer (-53): retry time not reached for any host", Cause.LOCAL),
        ("lowest numbered MX record points to local host", Cause.LOCAL),
        ("defer (-44): SMTP error from remote mail server after RCPT TO:<bob@example.org>: "
         "host mx.example.org [192.0.2.1]: 451 Temporary local problem - please try later",
         Cause.RECEIVER_UNAVAILABLE),
        # Sendmail
        ("Deferred: Connection timed out with mx.example.com.", Cause.CONNECTION),
        ("Deferred: Connection refused by mx.example.com.", Cause.CONNECTION),
        ("Deferred: Name server: example.com.: host name lookup failure", Cause.DNS),
        ("Deferred: 421 4.3.2 Service not available", Cause.RECEIVER_UNAVAILABLE),
        ("Cannot send message for 5 days", Cause.EXPIRED),
        # OpenSMTPD's own words (mta.c, queue.c, mta_session.c)
        ("Temporary failure in MX lookup", Cause.DNS),
        ("No MX found for domain", Cause.DNS),
        ("Domain does not exist", Cause.DNS),
        ("Network error on destination MXs", Cause.CONNECTION),
        ("IO Error: Connection refused", Cause.CONNECTION),
        ("Connection timeout", Cause.CONNECTION),
        ("All routes to destination blocked", Cause.LOCAL),
        ("Could not retrieve source address", Cause.LOCAL),
        ("TLS required but not supported by remote host", Cause.TLS),
        ("Envelope expired", Cause.EXPIRED),
        # cPanel local hourly limit
        ("Domain example.com has exceeded the max emails per hour (3/-1 (-300%)) allowed. "
         "Message will be reattempted later", Cause.LOCAL),
    ],
)  # fmt: skip
def test_local_descriptions(text: str, cause: Cause) -> None:
    assert classify(text).cause is cause


def test_expired_text_has_no_retry_hint() -> None:
    assert classify("Cannot send message for 5 days").hint.kind is HintKind.NONE


def test_delivery_temporarily_suspended_classifies_inner_cause() -> None:
    result = classify(
        "delivery temporarily suspended: connect to mx.example.com[192.0.2.1]:25: "
        "Connection timed out"
    )
    assert result.cause is Cause.CONNECTION
    assert result.suspended is True


def test_delivery_temporarily_suspended_with_remote_reply() -> None:
    result = classify(
        "delivery temporarily suspended: host mta5.am0.yahoodns.net[67.195.204.72] said: "
        "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected "
        "volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes "
        "(in reply to MAIL FROM command)"
    )
    assert (result.cause, result.provider, result.token, result.suspended) == (
        Cause.REPUTATION, "yahoo", "TSS04", True,
    )  # fmt: skip


def test_delivery_temporarily_suspended_unknown_inner_is_local() -> None:
    result = classify("delivery temporarily suspended: something odd happened")
    assert result.cause is Cause.LOCAL
    assert result.suspended is True


def test_unknown_is_never_a_guess() -> None:
    for text in ("451 Requested action aborted", "421 closing", "450 4.0.0 no", "foo"):
        assert classify(text).cause is Cause.UNKNOWN, text
    assert classify(None) == Classification(Cause.UNKNOWN, None, None, RetryHint(
        HintKind.NONE, None, None), None)  # fmt: skip


# --- remote replies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "451 4.7.1 <bob@example.org>: Recipient address rejected: Greylisted",
        "451 4.7.1 Please retry, you are graylisted",
        "451 4.7.1 192.0.2.1 is not yet authorized to deliver mail from <a@b> to <c@d>",
        "451 4.7.1 Service unavailable, please come back in 10 minutes",
        "450 4.7.1 Client host rejected: greylisted, policy says no",
    ],
)
def test_greylisting_wins_over_generic_4_7_1(text: str) -> None:
    assert classify(text).cause is Cause.GREYLISTING


@pytest.mark.parametrize(
    "text",
    [
        "452 4.5.3 Too many recipients",
        "452 too many recipients",
        "452 4.5.3 Domain policy size per transaction exceeded, please try this recipient in a "
        "separate transaction.",
        "452 4.5.3 Service unavailable, recipients per message limit reached",
        "451 4.3.0 Multiple destination domains per transaction is unsupported. Please try again.",
    ],
)
def test_forced_split_at_rcpt(text: str) -> None:
    assert classify(text, stage=Stage.RCPT).cause is Cause.FORCED_SPLIT


def test_forced_split_not_at_connect() -> None:
    assert classify("452 4.5.3 Too many recipients", stage=Stage.GREETING).cause is not (
        Cause.FORCED_SPLIT
    )


def test_gmail_scope_from_multiline_reply() -> None:
    reply = (
        "host gmail-smtp-in.l.google.com[142.251.1.26] said: 421-4.7.28 [192.0.2.1      15] "
        "Our system has detected an unusual rate of 421-4.7.28 unsolicited mail originating "
        "from your IP Netblock. To protect our 421-4.7.28 users from spam, mail sent from your "
        "IP address has been temporarily 421 4.7.28 rate limited. - gsmtp (in reply to end of "
        "DATA command)"
    )
    result = classify(reply, relay="gmail-smtp-in.l.google.com[142.251.1.26]:25")
    assert (result.cause, result.provider, result.token) == (
        Cause.REPUTATION, "gmail", "4.7.28/netblock",
    )  # fmt: skip
    assert result.detail is not None and "netblock" in result.detail


def test_gmail_4_2_1_is_rate_limit_not_mailbox() -> None:
    gmail = classify("450 4.2.1 something", relay="gmail-smtp-in.l.google.com")
    assert gmail.cause is Cause.RATE_LIMIT
    other = classify("450 4.2.1 something", relay="mx.example.org")
    assert other.cause is Cause.UNKNOWN


def test_gmail_code_collisions() -> None:
    relay = "aspmx.l.google.com"
    assert classify("421 4.7.29 x", relay=relay).detail == (
        "Gmail: rate limited because the connection does not use TLS"
    )
    assert "DKIM" in (classify("421 4.7.30 x", relay=relay).detail or "")
    assert classify("421 4.7.30 x", relay=relay).cause is Cause.AUTH_POLICY


def test_iana_fallback_detail_names_registry() -> None:
    result = classify("452 4.3.1 Whatever")
    assert result.cause is Cause.RECEIVER_UNAVAILABLE
    assert result.detail == "enhanced status code 4.3.1 (registry: Mail system full)"


def test_dsn_used_when_text_has_no_code() -> None:
    assert classify("something odd", dsn="4.4.7").cause is Cause.EXPIRED
    assert classify(None, dsn="4.4.1").cause is Cause.CONNECTION


def test_explicit_hint_beats_documented() -> None:
    result = classify(
        "450 4.2.0 <a@b.example>: Recipient address rejected: Greylisted for 120 seconds, see "
        "http://postgrey.schweikert.ch/help/b.example.html"
    )
    assert result.provider == "postgrey"
    assert result.hint == RetryHint(HintKind.EXPLICIT, 120, "for 120 seconds")


def test_documented_hint_beats_vague() -> None:
    result = classify(
        "451 192.0.2.1 is not yet authorized to deliver mail from <a@b> to <c@d>. Please try later."
    )
    assert result.hint.kind is HintKind.DOCUMENTED
    assert result.hint.seconds == 600


def test_absolute_hint_uses_line_time() -> None:
    reply = "451 4.7.1 Try again later: Fri, 29 Nov 2024 13:04:30 GMT"
    assert classify(reply, at=AT).hint.seconds == 270
    assert classify(reply, at=datetime(2024, 11, 29, 13, 4, 0, tzinfo=UTC)).hint.seconds == 30


def test_yahoo_ts03_do_not_retry() -> None:
    result = classify("421 4.7.1 [TS03] All messages from 192.0.2.1 permanently deferred")
    assert result.token == "TS03"
    assert result.hint.kind is HintKind.NONE
    assert result.detail is not None and "do not retry" in result.detail


def test_per_recipient_variants_share_classification() -> None:
    a = classify("450 4.2.1 <a@example.com>: too quickly", relay="gmail-smtp-in.l.google.com")
    b = classify("450 4.2.1 <b@example.com>: too quickly", relay="gmail-smtp-in.l.google.com")
    assert a == b


def test_different_intervals_not_conflated_by_cache() -> None:
    a = classify("451 4.7.1 <a@x.example>: Greylisted for 60 seconds")
    b = classify("451 4.7.1 <b@x.example>: Greylisted for 90 seconds")
    assert (a.hint.seconds, b.hint.seconds) == (60, 90)


# --- real deferral texts from public logs (the shared corpus: ../shared/corpus/public) ------


@pytest.mark.parametrize(
    ("text", "relay", "expected"),
    [
        # AzatotEnikeev/ParsMailLog data_out.log (Exim)
        ("SMTP error from remote mail server after RCPT TO:<a@gmx.com>: host mx01.gmx.com "
         "[212.227.17.5]: 450 4.3.2 Too many mails (mail bomb), try again in 1 hour(s) 14 "
         "minute(s) and see ( http://portal.gmx.net/serverrules ) {mx-us003}", None,
         (Cause.RATE_LIMIT, "gmx", None, HintKind.EXPLICIT, 4440)),
        ("SMTP error from remote mail server after initial connection: host "
         "mta7.am0.yahoodns.net [66.94.238.147]: 421 4.7.0 [TS02] Messages from 194.226.74.6 "
         "temporarily deferred - 4.16.56.1; see http://postmaster.yahoo.com/errors/421-ts02.html",
         None, (Cause.UNKNOWN, "yahoo", "TS02", HintKind.NONE, None)),
        ("SMTP error from remote mail server after RCPT TO:<b@motogonki.ru>: host "
         "mail.motogonki.ru [195.2.240.41]: 451 4.7.1 Greylisting in action, please come back "
         "in 00:03:00", None, (Cause.GREYLISTING, "milter-greylist", None, HintKind.EXPLICIT, 180)),
        ("SMTP error from remote mail server after DATA: host imx1.rambler.ru [81.19.78.64]: "
         "452 4.7.1 Try again later", None, (Cause.GREYLISTING, "rambler", None, HintKind.VAGUE,
                                             None)),
        ("SMTP error from remote mail server after RCPT TO:<c@rambler.ru>: host imx1.rambler.ru "
         "[81.19.78.64]: 451 4.7.1 Rate limit exceeded", None,
         (Cause.RATE_LIMIT, "rambler", None, HintKind.NONE, None)),
        ("SMTP error from remote mail server after RCPT TO:<d@okeanit.ru>: host mail1.okeanit.ru "
         "[213.85.38.11]: 450 4.7.1 <d@okeanit.ru>: Recipient address rejected: Policy "
         "Rejection- Abuse. Go away.", None, (Cause.REPUTATION, None, None, HintKind.NONE, None)),
        ("SMTP error from remote mail server after RCPT TO:<e@sigma-ktv.ru>: host "
         "mail.sigma-ktv.ru [1.2.3.4]: 451 4.3.0 <e@sigma-ktv.ru>: Temporary lookup failure",
         None, (Cause.RECEIVER_UNAVAILABLE, None, None, HintKind.NONE, None)),
        ("SMTP error from remote mail server after RCPT TO:<f@rosa-holding.ru>: host "
         "mail.rosa-holding.ru [1.2.3.4]: 452 Message for <f@rosa-holding.ru> would exceed "
         "mailbox quota", None, (Cause.MAILBOX, None, None, HintKind.NONE, None)),
        ("domain matches queue_smtp_domains, or -odqs set", None,
         (Cause.LOCAL, None, None, HintKind.NONE, None)),
        ("host lookup did not complete", None, (Cause.DNS, None, None, HintKind.NONE, None)),
        ("Operation timed out", None, (Cause.CONNECTION, None, None, HintKind.NONE, None)),
        # kdent/postfix_log_analysis (Postfix)
        ("host mail.domain.com[1.2.3.4] said: 451 DT:SPM 163 mx40,WsCowEBpR0IT9dhY3.20089S3 "
         "1708713234, please try again 15min later (in reply to end of DATA command)", None,
         (Cause.REPUTATION, "netease", "DT:SPM", HintKind.EXPLICIT, 900)),
        ("host mx-c1.talktalk.net[62.24.202.3] said: 452 Too many recipients received from the "
         "sender (in reply to RCPT TO command)", "mx-c1.talktalk.net[62.24.202.3]:25",
         (Cause.RATE_LIMIT, None, None, HintKind.NONE, None)),
        ("temporary failure", "dovecot", (Cause.LOCAL, None, None, HintKind.NONE, None)),
    ],
)  # fmt: skip
def test_real_deferrals(
    text: str,
    relay: str | None,
    expected: tuple[Cause, str | None, str | None, HintKind, int | None],
) -> None:
    r = classify(text, relay=relay)
    assert (r.cause, r.provider, r.token, r.hint.kind, r.hint.seconds) == expected
