"""The deferral-cause taxonomy.

The string values of :class:`Cause` are a JSON contract: reports and machine-readable output
carry them verbatim, so they must never be renamed. :data:`CAUSE_INFO` holds, per cause, a
one-line explanation and what the sending side can do about it, for documentation and reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = ["CAUSE_INFO", "Cause", "CauseInfo"]


class Cause(StrEnum):
    """Why a delivery attempt was deferred or failed (stable lowercase ids).

    The last six are permanent failures (a 5xx reply: the recipient bounced): they explain
    why mail ended bounced, where the others explain why it waited."""

    GREYLISTING = "greylisting"
    RATE_LIMIT = "rate_limit"
    REPUTATION = "reputation"
    AUTH_POLICY = "auth_policy"
    FORCED_SPLIT = "forced_split"
    MAILBOX = "mailbox"
    RECEIVER_UNAVAILABLE = "receiver_unavailable"
    PROTOCOL = "protocol"
    CONNECTION = "connection"
    DNS = "dns"
    TLS = "tls"
    LOCAL = "local"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    NO_SUCH_USER = "no_such_user"
    MAILBOX_DISABLED = "mailbox_disabled"
    NO_SUCH_DOMAIN = "no_such_domain"
    RELAY_DENIED = "relay_denied"
    MESSAGE_TOO_BIG = "message_too_big"
    POLICY_REJECTED = "policy_rejected"


@dataclass(frozen=True, slots=True)
class CauseInfo:
    """Human-facing description of one :class:`Cause`."""

    title: str
    explanation: str
    sender_action: str


CAUSE_INFO: Mapping[Cause, CauseInfo] = MappingProxyType(
    {
        Cause.GREYLISTING: CauseInfo(
            "Greylisting",
            "The receiver turns away senders it has not seen before on purpose, and accepts the "
            "same message when it is offered again after a waiting period.",
            "Nothing to fix: let the queue retry. Keep the retry from the same IP address, and do "
            "not retry faster than the receiver's waiting period (often 5-10 minutes).",
        ),
        Cause.RATE_LIMIT: CauseInfo(
            "Rate limit",
            "The receiver throttles how fast, how much or over how many connections it accepts "
            "mail from the sending host or for one recipient.",
            "Send more slowly to that destination: fewer parallel connections, fewer messages per "
            "connection, and spread bulk sends over time.",
        ),
        Cause.REPUTATION: CauseInfo(
            "Sender reputation / block list",
            "The receiver distrusts the sending IP address, network, domain or content (spam "
            "complaints, block lists, unusual volume of unwanted mail) and defers it.",
            "Check block lists and the receiver's postmaster tools, reduce complaints (clean "
            "lists, honour unsubscribes), warm up new IP addresses gradually.",
        ),
        Cause.AUTH_POLICY: CauseInfo(
            "Authentication / policy",
            "The receiver requires something the sender does not provide: SPF, DKIM or DMARC "
            "passing, matching reverse DNS (PTR), TLS, or being on the receiver's allow list.",
            "Fix the sender's DNS and signing (SPF, DKIM, DMARC, PTR), enable TLS, or ask the "
            "receiver to allow the sending IP; retrying alone rarely helps.",
        ),
        Cause.FORCED_SPLIT: CauseInfo(
            "Forced split",
            "The receiver accepted only part of a multi-recipient transaction (too many "
            "recipients, one domain per transaction) and asks for the rest to be sent separately.",
            "Nothing is broken: the MTA sends the remaining recipients again, in a new "
            "transaction at once or only at its next scheduled retry, depending on the MTA. "
            "Lowering the recipients-per-message limit for that destination avoids the delay.",
        ),
        Cause.MAILBOX: CauseInfo(
            "Recipient mailbox",
            "The recipient's mailbox cannot take mail right now: it is full, over quota, or "
            "temporarily unavailable.",
            "Nothing to fix on the sending side; tell the recipient by another channel if it "
            "persists.",
        ),
        Cause.RECEIVER_UNAVAILABLE: CauseInfo(
            "Receiver unavailable",
            "The receiving mail system is busy, overloaded, misconfigured or had an internal "
            "error.",
            "Wait and let the queue retry; if it lasts for hours, contact the receiving domain's "
            "postmaster.",
        ),
        Cause.PROTOCOL: CauseInfo(
            "SMTP protocol problem",
            "The SMTP conversation itself went wrong: too many errors in one session, a protocol "
            "violation, or a reply the other side could not understand.",
            "Look at the earlier replies of the same session (often rejected recipients) and at "
            "software that rewrites SMTP on the way (firewalls, proxies).",
        ),
        Cause.CONNECTION: CauseInfo(
            "Connection failure",
            "No usable SMTP connection: the receiver refused it, did not answer, timed out, or "
            "dropped it before the transaction finished.",
            "Check outbound port 25 from the sending host (firewall, provider blocking) and "
            "whether the receiver's MX hosts are reachable from elsewhere.",
        ),
        Cause.DNS: CauseInfo(
            "DNS failure",
            "A DNS lookup failed temporarily: ours for the receiver's MX or address records, or "
            "the receiver's for the sender's domain, PTR or authentication records.",
            "Check the sending host's resolver, and the DNS of the domain involved (the receiver's "
            "MX records, or our own SPF/DKIM/DMARC/PTR zones).",
        ),
        Cause.TLS: CauseInfo(
            "TLS failure",
            "The TLS session could not be set up: handshake failure, certificate verification "
            "failure, or TLS required by our own policy but not offered by the receiver.",
            "Check the sending host's TLS policy and CA store, and the receiver's certificate and "
            "STARTTLS support.",
        ),
        Cause.LOCAL: CauseInfo(
            "Sending side",
            "The delay comes from the sending host itself: its own rate limits, a content filter "
            "or local transport that is down, routing or configuration problems, or retries held "
            "back because the destination is marked as failing.",
            "Look at the sending host: content filter and transport services, local limits, and "
            "routing configuration; for held-back retries, see the earlier failure.",
        ),
        Cause.EXPIRED: CauseInfo(
            "Queue lifetime expired",
            "The message stayed in the queue longer than the maximum queue lifetime and was "
            "given up on.",
            "Find the cause of the earlier deferrals for this message; raise the queue lifetime "
            "only if delays of that length are expected.",
        ),
        Cause.UNKNOWN: CauseInfo(
            "Unknown",
            "The reply does not say why, or says it in a way this tool does not recognise.",
            "Read the reply text itself; if it is a common one, it may deserve a rule.",
        ),
        Cause.NO_SUCH_USER: CauseInfo(
            "No such recipient",
            "The receiver says the address does not exist there (user unknown, no such "
            "mailbox): a permanent failure, the message bounced.",
            "Correct or remove the address; a list with many of these needs cleaning, or the "
            "receivers will start to distrust the sender.",
        ),
        Cause.MAILBOX_DISABLED: CauseInfo(
            "Mailbox disabled",
            "The address exists but its mailbox is disabled, suspended or no longer accepting "
            "mail: a permanent failure.",
            "Stop sending to it and reach the recipient another way.",
        ),
        Cause.NO_SUCH_DOMAIN: CauseInfo(
            "No such domain",
            "The recipient's domain does not exist or does not accept mail (no MX or address "
            "records, a null MX): a permanent failure.",
            "Check the address for a typing error in the domain; remove it if the domain is gone.",
        ),
        Cause.RELAY_DENIED: CauseInfo(
            "Relay denied",
            "The receiving host refuses to relay for that domain: it is not the domain's mail "
            "server, or it does not accept the sender as a client.",
            "Check the MX records of the destination and any smarthost or transport map that "
            "sends this domain to a fixed host.",
        ),
        Cause.MESSAGE_TOO_BIG: CauseInfo(
            "Message too big",
            "The message is larger than the receiver accepts.",
            "Send large files another way (a link), or ask the receiver to raise the limit.",
        ),
        Cause.POLICY_REJECTED: CauseInfo(
            "Rejected by policy or as spam",
            "The receiver refused the message permanently by its policy: content judged as "
            "spam or dangerous, a sender or recipient it does not accept.",
            "Read the reply for the rule that fired; check the content and the sender's "
            "reputation and authentication, and contact the receiver's postmaster if needed.",
        ),
    }
)
