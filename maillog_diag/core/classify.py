"""Classify a deferral: why it happened, who said it, which token it carried, when to retry.

:func:`classify` takes the reason text an MTA logged for a deferral -- a remote SMTP reply
(``host mx[1.2.3.4] said: 450 4.2.0 ... (in reply to RCPT TO command)``, Exim
``SMTP error from remote mail server after RCPT TO:<a@b>: 451 ...``, Sendmail
``Deferred: 451 4.7.1 ...``) or a local description (``connect to mx[1.2.3.4]:25: Connection
refused``, ``delivery temporarily suspended: ...``, ``retry time not reached``) -- and returns a
:class:`Classification`.

Order of evidence (the first that decides wins):

1. local descriptions (no SMTP reply code in the text): queue expiry, sending-side problems,
   TLS, DNS, connection failures;
2. a provider token in the text (``[TSS04]``, ``(S775)``, ``RL000010`` ...);
3. the provider's own text rules, then plain greylisting wording, then the provider's meaning of
   the enhanced status code (provider from relay host, markers in the text, or the token);
4. generic text rules;
5. the IANA registry meaning of the enhanced status code (fallback only);
6. otherwise :attr:`Cause.UNKNOWN` -- no guessing from the basic reply code alone.

The retry hint: an explicit interval or time in the text beats a documented interval from the
knowledge base (token, then provider rule), which beats a vague "later", which beats none.

Results are cached on the reply's shape (`maillog_diag.reasons.fold` with `detailed=True`:
addresses, IPs and ids folded), so per-recipient variants of one reply are classified once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from maillog_diag.core.caseless import Caseless, ascii_lower, caseless
from maillog_diag.core.causes import Cause
from maillog_diag.core.hints import (
    NO_HINT,
    HintKind,
    RetryHint,
    extract_hint,
    scan_hint,
    strip_continuations,
)
from maillog_diag.core.knowledge import Provider, ProviderToken, knowledge_base, parse_code
from maillog_diag.core.memo import text_cache
from maillog_diag.core.reasons import folds

__all__ = [
    "Classification",
    "Stage",
    "classify",
    "classify_timeless",
    "provider_for_host",
    "stage_from_text",
]


class Stage(StrEnum):
    """The SMTP stage at which the deferral happened."""

    CONNECT = "connect"
    GREETING = "greeting"
    HELO = "helo"
    STARTTLS = "starttls"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"
    END_OF_DATA = "end_of_data"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Classification:
    """Why one deferral happened.

    ``suspended`` is true for Postfix ``delivery temporarily suspended: <reason>`` lines: the
    cause is the earlier one that the queue manager repeats for every queued recipient, so such
    a line is a repetition of an earlier event rather than a new attempt.
    """

    cause: Cause
    provider: str | None
    token: str | None
    hint: RetryHint
    detail: str | None
    suspended: bool = False


# --------------------------------------------------------------------------------------------
# Stage

_STAGE_WORDS: tuple[tuple[Stage, tuple[str, ...]], ...] = (
    (Stage.END_OF_DATA, ("end of data", "sending (?:the )?message body", "during data end")),
    (Stage.RCPT, ("in reply to rcpt to", "after (?:pipelined )?rcpt to", "sending rcpt to",
                  "during rcpt")),
    (Stage.MAIL, ("in reply to mail from", "after (?:pipelined )?mail from", "sending mail from",
                  "during mail")),
    (Stage.DATA, ("in reply to data command", r"after (?:pipelined )?data\b",
                  "sending data command", "during data")),
    (Stage.STARTTLS, ("starttls", "during tls")),
    (Stage.HELO, ("in reply to e?h[e]?lo", "after e?hlo", "after helo", "sending e?hlo",
                  "sending helo", "e?hlo handshake", "helo handshake", "during (?:ehlo|helo)")),
    (Stage.GREETING, ("initial server greeting", "refused to talk to me",
                      "(?:after|in response to) initial connection", "during greeting",
                      "no greeting")),
    (Stage.CONNECT, (r"\bconnect to\b", "connection refused", "connection timed out",
                     "no route to host", "network is unreachable", "during connection",
                     "could not connect")),
)  # fmt: skip
_STAGE_PATTERNS: tuple[tuple[Caseless, Stage], ...] = tuple(
    (caseless("|".join(words)), stage) for stage, words in _STAGE_WORDS
)


def stage_from_text(text: str) -> Stage:
    """The SMTP stage named in a Postfix, Exim or Sendmail deferral text. (Not cached:
    only `_classify_static` calls it, once per entry it fills.)"""
    lower = ascii_lower(text)
    for pattern, stage in _STAGE_PATTERNS:
        if pattern.search(text, lower):
            return stage
    return Stage.UNKNOWN


# --------------------------------------------------------------------------------------------
# Reply parsing

_REPLY_CODE = re.compile(
    r"(?:^|:|\bsaid)\s*(?P<basic>[245]\d\d)(?=[\s-]|$)[\s-]*"
    r"(?:(?P<enh>[245]\.\d{1,3}\.\d{1,3})(?![\d.]))?"
)
_LONE_ENHANCED = re.compile(r"(?:^|:)\s*(?P<enh>[245]\.\d{1,3}\.\d{1,3})(?![\d.])\s")
_SUSPENDED = re.compile(r"delivery temporarily suspended:\s*", re.IGNORECASE)
_TEXT_HOST = re.compile(
    r"(?<![\w.-])([a-z0-9][a-z0-9.-]*\.[a-z]{2,})\.?\s?\[|"
    r"\bwith ([a-z0-9][a-z0-9.-]*\.[a-z]{2,})\.?\s*$|"
    r"\bby ([a-z0-9][a-z0-9.-]*\.[a-z]{2,})\.?\s*$|"
    r"\bname=([a-z0-9][a-z0-9.-]*\.[a-z]{2,})\b",
    re.IGNORECASE,
)
_DSN = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\s*$")


@dataclass(frozen=True, slots=True)
class _Reply:
    text: str
    lower: str
    basic: int | None
    enhanced: tuple[int, int, int] | None
    ascii_lower: str | None
    """`lower` when the text is ASCII, else None: what `Caseless.search` takes."""


def _parse_reply(text: str, dsn: str | None) -> _Reply:
    basic: int | None = None
    enhanced: str | None = None
    m = _REPLY_CODE.search(text)
    if m is not None:
        basic = int(m.group("basic"))
        enhanced = m.group("enh")
    if enhanced is None:
        lone = _LONE_ENHANCED.search(text)
        if lone is not None:
            enhanced = lone.group("enh")
    if enhanced is None and dsn is not None and _DSN.match(dsn):
        enhanced = dsn.strip()
    code = parse_code(enhanced) if enhanced else None
    lower = text.lower()
    return _Reply(text, lower, basic, code, lower if text.isascii() else None)


@lru_cache(maxsize=4096)
def provider_for_host(host: str | None) -> str | None:
    """Provider id for a relay or MX host name (``gmail-smtp-in.l.google.com[1.2.3.4]:25``)."""
    if not host:
        return None
    name = host.strip().lower()
    name = name.split("[", 1)[0].strip()
    if ":" in name and name.count(":") == 1:
        name = name.split(":", 1)[0]
    name = name.rstrip(".")
    if not name:
        return None
    index = knowledge_base().host_index
    labels = name.split(".")
    for i in range(len(labels)):
        found = index.get(".".join(labels[i:]))
        if found is not None:
            return found
    return None


def _host_in_text(text: str) -> str | None:
    for m in _TEXT_HOST.finditer(text):
        for group in m.groups():
            if group:
                provider = provider_for_host(group)
                if provider is not None:
                    return provider
    return None


# --------------------------------------------------------------------------------------------
# Generic rules (our own reading of common wording). Each: pattern, cause, detail.

_Rule = tuple[Caseless, Cause, str]


def _rules(*rules: tuple[str, Cause, str]) -> tuple[_Rule, ...]:
    """Compiled case-insensitively (`caseless`: lower-case patterns, searched on the reply's
    lower-cased text; `lowered` refuses at import a pattern that would not match alike)."""
    return tuple((caseless(p), c, d) for p, c, d in rules)


# Local descriptions: texts the sending MTA wrote itself (no SMTP reply code in them).
_LOCAL_RULES = _rules(
    (
        r"retry timeout exceeded|cannot send message for|message (?:has )?expired|status=expired|"
        r"\bexpired\b.{0,40}returned to sender|delivery time expired|too long in (?:the )?queue|"
        r"envelope expired",
        Cause.EXPIRED,
        "queue lifetime reached: the message was given up",
    ),
    (
        r"have been failing for a long time|retry time not reached|defer \(-53\)",
        Cause.LOCAL,
        "retry held back by the sending MTA: the destination's hosts have been failing",
    ),
    (
        r"loops back to myself|lowest numbered mx record points to local host",
        Cause.LOCAL,
        "routing loop: the MX points back to the sending host (configuration)",
    ),
    (
        r"(?:connect to|connection with|lost connection with|conversation with)\s+\S*?"
        r"\[(?:127\.\d+\.\d+\.\d+|::1|private/[^\]]*|public/[^\]]*)\]|\bprivate/\w+",
        Cause.LOCAL,
        "a local service (content filter or transport) is not answering",
    ),
    (
        r"queue_smtp_domains|-odqs set|\bqueue_only\b",
        Cause.LOCAL,
        "queued without a delivery attempt by the sending MTA's configuration",
    ),
    (
        r"^\W*temporary failure\W*$",
        Cause.LOCAL,
        "a local delivery agent (pipe, LMTP) reported a temporary failure",
    ),
    (
        r"unknown mail transport error|mail transport unavailable|content filter|"
        r"temporary lookup failure|local configuration error|queue file write error|"
        r"insufficient system (?:storage|resources)|"
        r"has exceeded the max (?:emails|defers and failures) per hour|"
        r"routes to destination blocked|could not retrieve source address",
        Cause.LOCAL,
        "problem on the sending host (transport, content filter, local limit or config)",
    ),
    (
        r"tls is required, but|cannot start tls|tls handshake|handshake failure|"
        r"certificate verification failed|server certificate not (?:verified|trusted)|"
        r"untrusted issuer|tls library problem|ssl routines|tlsa|dane\b|starttls|"
        r"tls required but not supported",
        Cause.TLS,
        "TLS session could not be established",
    ),
    (
        r"name service error|host or domain name not found|host not found|host name lookup failure|"
        r"host lookup did not complete|"
        r"name server|dns (?:lookup )?(?:failure|error|timeout)|no (?:mx|a) record|servfail|"
        r"failure in mx lookup|no mx found|domain does not exist",
        Cause.DNS,
        "DNS lookup failed",
    ),
    (
        r"connection refused|connection timed out|timed out|lost connection|connection reset|"
        r"connection closed|closed connection|no route to host|network is unreachable|"
        r"host is unreachable|initial server greeting|broken pipe|could not connect|"
        r"unable to connect|network error on destination",
        Cause.CONNECTION,
        "no usable SMTP connection to the receiver",
    ),
)

_GREYLIST = _rules(
    (
        r"gr[ae]y-?list|not yet authori[sz]ed|come back in\b",
        Cause.GREYLISTING,
        "greylisted: the receiver defers unknown senders once on purpose",
    ),
)

# Remote replies (and anything the local rules did not settle).
_REPLY_RULES = _rules(
    (r"(?:rate limit\w*|deferred|throttled|blocked|limited) (?:due to|because of) (?:\w+ ){0,3}"
     r"(?:reputation|complaints)",
     Cause.REPUTATION, "deferred because of the sender's reputation"),
    (r"too many recipients (?:from|received)|recipients? received this hour|\brate[ -]?limit",
     Cause.RATE_LIMIT, "receiver's rate limit"),
    (r"too many recipients|separate transaction|recipients per (?:message|transaction)|"
     r"multiple destination domains|per transaction|one domain per|truncation|use prdr|"
     r"recipient limit|too many rcpt",
     Cause.FORCED_SPLIT, "receiver accepts only part of the recipients per transaction"),
    (r"over ?quota|quota exceeded|exceed\w* (?:the |its )?(?:mailbox |storage |disk )?quota|"
     r"mailbox (?:is )?full|account is full|out of storage|"
     r"insufficient storage|mailbox (?:is )?(?:temporarily )?(?:unavailable|busy|locked)|"
     r"(?:recipient|user) (?:is )?temporarily unavailable",
     Cause.MAILBOX, "recipient's mailbox cannot take mail right now"),
    (r"too (?:many|much) (?:connections|mail|messages|sessions|concurrent)|too quickly|too fast|"
     r"receiving (?:e-?)?mail at a rate|exceeded the (?:max|maximum|connection|message)|"
     r"max(?:imum)? (?:number of )?(?:messages?|connections|sessions)|throttl|excessive volume|"
     r"unexpected volume|concurrent connections|per connection|sending limit|quota for sending",
     Cause.RATE_LIMIT, "receiver's rate or connection limit"),
    (r"domain not found|(?:dns|mx|host|hostname) lookup (?:failure|error|timeout)|temporary dns|"
     r"name server|"
     r"host not found|cannot resolve|can't resolve|unresolvable|reverse dns failure",
     Cause.DNS, "receiver's DNS lookup failed (often of the sender's domain or PTR)"),
    (r"reputation|block ?list|black ?list|\bblocked\b|spamhaus|spamcop|barracudacentral|dnsbl|"
     r"\brbl\b|listed (?:on|in|at|by)|suspicious|unsolicited|\bspam|complaints|poor ip|abuse",
     Cause.REPUTATION, "receiver distrusts the sender (reputation or block list)"),
    (r"\bspf\b|\bdkim\b|\bdmarc\b|\bptr\b|reverse dns|reverse hostname|\brdns\b|forward dns|"
     r"not (?:in|on) (?:the )?(?:white|allow) ?list|whitelist|allowlist|unauthenticated|"
     r"not authenticated|authentication (?:required|failed)|tls required|requires? tls|"
     r"not using a tls|must (?:use|issue a) starttls|encryption required|"
     r"client host rejected|sender address rejected",
     Cause.AUTH_POLICY, "receiver's authentication or access policy"),
    (r"too many errors|protocol violation|syntax error|not rfc conformant|bad sequence|"
     r"command unrecognized|line too long",
     Cause.PROTOCOL, "SMTP protocol problem in the session"),
    (r"time-?out|timed out|message ended early|lost connection|connection (?:lost|dropped|reset)",
     Cause.CONNECTION, "connection timed out or broke during the transaction"),
    (r"service (?:is )?(?:currently |temporarily )?(?:not available|unavailable)|\bbusy\b|"
     r"temporar(?:y|ily) (?:local |system |server |internal )?"
     r"(?:problem|error|failure|unavailable)|"
     r"internal (?:server )?error|internal resource|system resources|resources? (?:temporarily )?"
     r"unavailable|configuration (?:problem|error)|misconfigur|temporarily rejected|"
     r"not accepting|shutting down|maintenance|overload|queue file write error|local error|"
     r"server error|system error|system problem|unable to process|try another server|"
     r"temporary lookup failure|storage exhausted",
     Cause.RECEIVER_UNAVAILABLE, "receiving system busy, unavailable or failing"),
)  # fmt: skip

# Permanent failures (a 5xx reply): why a recipient bounced. Tried before the deferral rules
# for 5xx replies only; block lists and authentication failures keep their own causes
# (`reputation`, `auth_policy`), matched by the reply rules after these.
_PERMANENT_RULES = _rules(
    (r"domain (?:does not exist|not found|unknown|doesn'?t exist)|host unknown|"
     r"null mx|does not accept mail|no such domain|unrouteable (?:mail )?domain",
     Cause.NO_SUCH_DOMAIN, "the recipient's domain does not exist or takes no mail"),
    (r"(?:rejected|refused|identified|classified|detected|considered|flagged) (?:as |being )?"
     r"(?:spam|junk|unsolicited|bulk)|spam (?:content|detected|message)|"
     r"content (?:filter|rejected|policy)|message content|virus|malware|infected",
     Cause.POLICY_REJECTED, "the receiver refused the content (spam, virus, content policy)"),
    (r"user unknown|unknown user|no such (?:user|mailbox|recipient|account|address)|"
     r"does(?: not|n'?t) exist|unknown (?:recipient|mailbox|address|local part)|"
     r"invalid (?:recipient|mailbox|address)|recipient (?:not found|unknown|invalid)|"
     r"user not found|mailbox not found|address (?:not found|unknown)|not a valid (?:mailbox|"
     r"recipient|user)|no mailbox here|unrouteable address|mailbox unavailable|"
     r"undeliverable address",
     Cause.NO_SUCH_USER, "the address does not exist at the receiver"),
    (r"(?:mailbox|account|user|recipient)(?: is| has been)? (?:disabled|suspended|inactive|"
     r"deactivated|closed|blocked|frozen)|(?:disabled|inactive|suspended|closed) "
     r"(?:mailbox|account|user)|no longer (?:active|accepting|in use|valid)",
     Cause.MAILBOX_DISABLED, "the recipient's mailbox is disabled or closed"),
    (r"relay(?:ing)? (?:access )?(?:denied|not permitted|prohibited|not allowed)|"
     r"not permitted to relay|unable to relay|we do not relay|relay not permitted|"
     r"not (?:a )?(?:gateway|local domain)",
     Cause.RELAY_DENIED, "the receiving host does not relay for this domain"),
    (r"message (?:size )?(?:exceeds|too (?:big|large))|(?:size|length) (?:limit )?exceed|"
     r"too (?:big|large) for|exceeds? (?:the )?(?:maximum|size) |message is too large",
     Cause.MESSAGE_TOO_BIG, "the message is larger than the receiver accepts"),
)  # fmt: skip

_PERMANENT_POLICY = _rules(
    (
        r"spam|content|virus|malware|policy|rejected|refused|not accepted|denied|blocked|"
        r"prohibited|not allowed|banned",
        Cause.POLICY_REJECTED,
        "refused permanently by the receiver's policy or as spam",
    ),
)

_PERMANENT_CODES: dict[tuple[int, int, int], tuple[Cause, str]] = {
    (5, 1, 1): (Cause.NO_SUCH_USER, "5.1.1 bad destination mailbox address"),
    (5, 1, 2): (Cause.NO_SUCH_DOMAIN, "5.1.2 bad destination system address"),
    (5, 1, 10): (Cause.NO_SUCH_DOMAIN, "5.1.10 recipient address has null MX"),
    (5, 2, 1): (Cause.MAILBOX_DISABLED, "5.2.1 mailbox disabled, not accepting messages"),
    (5, 2, 2): (Cause.MAILBOX, "5.2.2 mailbox full"),
    (5, 2, 3): (Cause.MESSAGE_TOO_BIG, "5.2.3 message length exceeds administrative limit"),
    (5, 3, 4): (Cause.MESSAGE_TOO_BIG, "5.3.4 message too big for system"),
    (5, 7, 1): (Cause.POLICY_REJECTED, "5.7.1 delivery not authorized, message refused"),
}
"""Enhanced status codes of permanent failures (RFC 3463 meanings), the fallback when the
reply's wording settles nothing."""

# "451 4.7.1 Try again later" with nothing else is what greylisting filters send (rspamd's
# default, cPanel/ASSP "Please try again later"); other 4.7.1 texts fall through to the rules.
_BARE_TRY_LATER = re.compile(
    r"(?:^|:|said)\s*4\d\d[\s-]+4\.7\.1\s+(?:please\s+)?try again later\W*"
    r"(?:\(in reply to [^)]*\))?\s*$"
)
_BARE_TRY_LATER_DETAIL = (
    "4.7.1 with only 'try again later': the usual reply of greylisting filters (rspamd, ASSP)"
)
# Delay notices that carry no reason at all (Exchange's "400 4.4.7 Message delayed").
# Searched for from the words on (`_no_reason`): a search for `(?:^|:)\W*` would rescan
# a run of colons from every colon in it, in quadratic time.
_NO_REASON = re.compile(
    r"(?:4\d\d[\s-]++)?+(?:4\.4\.7\s++)?+message delayed\W*(?:\(in reply to [^)]*+\))?+\s*+$"
)


def _no_reason(lower: str) -> bool:
    """Whether the reply is only a delay notice: `message delayed` (with an optional
    reply code) at the end, after the start of the text or a colon and nothing but
    punctuation and spaces."""
    if "message delayed" not in lower:
        return False
    m = _NO_REASON.search(lower)
    if m is None:
        return False
    i = m.start()
    while i and not (lower[i - 1].isalnum() or lower[i - 1] == "_"):
        i -= 1
    return i == 0 or ":" in lower[i : m.start()]


_SPLIT_STAGES = frozenset({Stage.RCPT, Stage.DATA, Stage.END_OF_DATA, Stage.UNKNOWN})


# --------------------------------------------------------------------------------------------
# The core


@dataclass(frozen=True, slots=True)
class _Core:
    cause: Cause
    provider: str | None
    token: str | None
    detail: str | None
    documented: RetryHint | None = None
    do_not_retry: bool = False


def _find_token(
    reply: _Reply, providers: tuple[Provider, ...]
) -> tuple[Provider, ProviderToken] | None:
    lower, fast = reply.lower, reply.ascii_lower
    for provider in providers:
        for token in provider.tokens:
            if token.pattern.search(lower, fast):
                return provider, token
    return None


def _loose_token(text: str, provider: Provider | None) -> str | None:
    if provider is None:
        return None
    for pattern in provider.token_patterns:
        m = pattern.search(text)
        if m is not None:
            return m.group(1)
    return None


def _detect_provider(reply: _Reply, relay_provider: str | None) -> Provider | None:
    kb = knowledge_base()
    if relay_provider is not None:
        return kb.providers.get(relay_provider)
    host = _host_in_text(reply.text)
    if host is not None:
        return kb.providers.get(host)
    text, fast = reply.text, reply.ascii_lower
    for provider in kb.providers.values():
        for marker in provider.markers:
            if marker.search(text, fast):
                return provider
    return None


def _documented(seconds: int | None, text: str | None) -> RetryHint | None:
    if seconds is None:
        return None
    return RetryHint(HintKind.DOCUMENTED, seconds, text)


def _apply(rules: tuple[_Rule, ...], reply: _Reply) -> tuple[Cause, str] | None:
    lower, fast = reply.lower, reply.ascii_lower
    for pattern, cause, detail in rules:
        if pattern.search(lower, fast):
            return cause, detail
    return None


def _core(text: str, dsn: str | None, relay_provider: str | None, stage: Stage) -> _Core:
    m = _SUSPENDED.search(text)
    if m is not None:
        inner = _core(text[m.end() :], dsn, relay_provider, stage)
        if inner.cause is Cause.UNKNOWN:
            return _Core(Cause.LOCAL, inner.provider, inner.token,
                         "delivery temporarily suspended after an earlier failure")  # fmt: skip
        return inner

    reply = _parse_reply(strip_continuations(text), dsn)
    lower = reply.lower
    remote = reply.basic is not None

    if not remote:
        local = _apply(_LOCAL_RULES, reply)
        if local is not None:
            found_provider = _detect_provider(reply, relay_provider)
            pid = found_provider.id if found_provider is not None else None
            return _Core(local[0], pid, None, local[1])

    kb = knowledge_base()
    provider = _detect_provider(reply, relay_provider)
    ordered = tuple(kb.providers.values())
    if provider is not None:
        ordered = (provider, *(p for p in ordered if p is not provider))
    found = _find_token(reply, ordered)
    token_name: str | None = None
    token_doc: RetryHint | None = None
    if found is not None:
        token_provider, token = found
        if provider is None or provider is not token_provider and not provider.tokens:
            provider = token_provider
        token_name = token.token
        token_doc = _documented(token.documented_retry_seconds, token.documented_retry_text)
        if token.cause is not None:
            note = " (do not retry)" if token.do_not_retry else ""
            detail = f"{token_provider.label}: {token.meaning}{note}"
            return _Core(
                token.cause, provider.id, token_name, detail, token_doc, token.do_not_retry
            )
    if token_name is None:
        token_name = _loose_token(reply.text, provider)
    pid = provider.id if provider is not None else None

    if provider is not None:
        for rule in provider.rules:
            if rule.code is not None and not rule.code.matches(reply.enhanced):
                continue
            if rule.pattern is not None and not rule.pattern.search(lower, reply.ascii_lower):
                continue
            doc = token_doc or _documented(
                rule.documented_retry_seconds, rule.documented_retry_text
            )
            return _Core(rule.cause, pid, rule.token or token_name, rule.detail, doc)

    grey = _apply(_GREYLIST, reply)
    if grey is not None:
        return _Core(grey[0], pid, token_name, grey[1], token_doc)

    if provider is not None:
        for code in provider.codes:
            if code.matches(reply.enhanced):
                return _Core(code.cause, pid, token_name, code.detail, token_doc)

    if reply.enhanced == (4, 7, 1) and _BARE_TRY_LATER.search(lower):
        return _Core(Cause.GREYLISTING, pid, token_name, _BARE_TRY_LATER_DETAIL, token_doc)
    if _no_reason(lower):
        return _Core(
            Cause.UNKNOWN, pid, token_name, "a delay notice that does not say why", token_doc
        )

    permanent = _is_permanent(reply)
    if permanent:
        found_rule = _apply(_PERMANENT_RULES, reply)
        if found_rule is not None:
            return _Core(found_rule[0], pid, token_name, found_rule[1], token_doc)

    fast = reply.ascii_lower
    for pattern, cause, detail in _REPLY_RULES:
        if pattern.search(lower, fast):
            if cause is Cause.FORCED_SPLIT and stage not in _SPLIT_STAGES:
                continue
            if permanent and cause in _TEMPORARY_ONLY:
                continue
            return _Core(cause, pid, token_name, detail, token_doc)

    if permanent:
        coded = _PERMANENT_CODES.get(reply.enhanced) if reply.enhanced is not None else None
        if coded is not None:
            return _Core(coded[0], pid, token_name, f"enhanced status code {coded[1]}", token_doc)
        found_rule = _apply(_PERMANENT_POLICY, reply)
        if found_rule is not None:
            return _Core(found_rule[0], pid, token_name, found_rule[1], token_doc)

    if reply.enhanced is not None:
        code_text = ".".join(str(x) for x in reply.enhanced)
        meaning = kb.enhanced_codes.get(code_text)
        if meaning is not None and meaning.cause is not Cause.UNKNOWN:
            if not (meaning.cause is Cause.FORCED_SPLIT and stage not in _SPLIT_STAGES):
                detail = f"enhanced status code {code_text} (registry: {meaning.registry})"
                return _Core(meaning.cause, pid, token_name, detail, token_doc)

    if not remote:
        local = _apply(_LOCAL_RULES, reply)
        if local is not None:
            return _Core(local[0], pid, token_name, local[1], token_doc)
    return _Core(Cause.UNKNOWN, pid, token_name, None, token_doc)


def _is_permanent(reply: _Reply) -> bool:
    """Whether a reply is a permanent failure: a 5xx code or a 5.x.x enhanced code."""
    if reply.basic is not None:
        return 500 <= reply.basic < 600
    return reply.enhanced is not None and reply.enhanced[0] == 5


_TEMPORARY_ONLY = frozenset({Cause.RECEIVER_UNAVAILABLE, Cause.MAILBOX, Cause.CONNECTION})
"""Reply-rule causes that describe a wait, not a refusal: a 5xx that matches only their
wording ("mailbox unavailable", "timed out") is read by the permanent rules instead."""


STATIC_CACHE = 1024
"""Entries of `_classify_static`. It sits behind `_timeless_shape` (`TIMELESS_CACHE`, which
holds the whole classification): it is filled when that one misses and read again only
for replies that name a moment ("try again after 14:00", classified per line). As large as
`_timeless_shape`, it held 2 MiB more on the 5M-line bench log, with no hit."""


def _shape(reply: str) -> str:
    """The reply with addresses, IPs and ids folded (host names and intervals kept): replies
    that differ only there classify alike, so everything below is cached on this."""
    return folds(reply)[1]


@text_cache(STATIC_CACHE)
def _classify_static(
    shape: str, dsn: str | None, relay_provider: str | None, stage: Stage | None
) -> tuple[_Core, Stage, bool]:
    """The time-independent part of a classification. Keyed on the relay's provider, not
    the relay: that is all of the relay a classification depends on, and one provider's
    many MX hosts then share an entry."""
    resolved = stage if stage is not None else stage_from_text(shape)
    suspended = _SUSPENDED.search(shape) is not None
    return _core(shape, dsn, relay_provider, resolved), resolved, suspended


def classify_timeless(
    reply: str, dsn: str | None = None, relay: str | None = None, stage: Stage | None = None
) -> Classification | None:
    """`classify` of a non-empty reply whose classification does not depend on the time of
    the line (all but an absolute "try again after 14:00"), cached on the reply's shape: a
    log repeats a few thousand replies over and over, and far more that differ only in the
    recipient's address or an id (a very long reply is computed, not kept: `text_cache`).
    None when the time is needed (call `classify`)."""
    return _timeless_shape(_shape(reply), dsn, provider_for_host(relay), stage)


TIMELESS_CACHE = 2048
"""Entries of `_timeless_shape`. Postfix names the receiving host in each reply ("host
mx1.example.net[...] said:"), so a log of many destinations has as many shapes of one
reply, each entry about 500 bytes. On the 5M-line bench log (6,145 shapes in 333,304
calls) 8,192 entries held 3 MiB and missed 6,145 times; 2,048 hold 1 MiB and miss 7,491
times (a classification costs tens of microseconds). The 1M-line log has 2,051 shapes."""


@text_cache(TIMELESS_CACHE)
def _timeless_shape(
    shape: str, dsn: str | None, relay_provider: str | None, stage: Stage | None
) -> Classification | None:
    """Cached on the relay's provider (see `_classify_static`)."""
    explicit, _ = scan_hint(shape)
    if explicit is not None and explicit.when is not None:
        return None
    return _classify_shape(shape, dsn, relay_provider, stage, None)


def classify(
    reply: str | None,
    *,
    dsn: str | None = None,
    relay: str | None = None,
    stage: Stage | None = None,
    at: datetime | None = None,
) -> Classification:
    """Classify one deferral reason text; see the module documentation for the rules."""
    if not reply:
        if dsn:
            core, _, _ = _classify_static("", dsn, provider_for_host(relay), stage)
            return Classification(core.cause, core.provider, core.token, NO_HINT, core.detail)
        return Classification(Cause.UNKNOWN, provider_for_host(relay), None, NO_HINT, None)
    return _classify_shape(_shape(reply), dsn, provider_for_host(relay), stage, at)


def _classify_shape(
    shape: str,
    dsn: str | None,
    relay_provider: str | None,
    stage: Stage | None,
    at: datetime | None,
) -> Classification:
    """`classify` of a non-empty reply, from its shape (`_shape`) and the relay's provider:
    all it depends on."""
    core, _, suspended = _classify_static(shape, dsn, relay_provider, stage)
    text_hint = extract_hint(shape, at)
    if text_hint.kind is HintKind.EXPLICIT:
        hint = text_hint
    elif core.documented is not None:
        hint = core.documented
    elif core.do_not_retry:
        hint = NO_HINT
    else:
        hint = text_hint
    return Classification(core.cause, core.provider, core.token, hint, core.detail, suspended)
