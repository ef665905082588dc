"""MTA-specific advice: which setting of the MTA that sent the mail makes its retries match
what a receiver asked for. The one core module (with the provider knowledge base) that
names MTAs: each MTA's retry schedule is set in its own way.
"""

from __future__ import annotations

from maillog_diag.core.analysis import DestinationStats, median

POSTFIX_BACKOFF = "minimal_backoff_time"

OPENSMTPD_SCHEDULE = (
    "OpenSMTPD's retry schedule is built in: retry n comes 400s x n^2 after the mail "
    "arrived (6m40s, 26m40s, 1h, ...), and smtpd.conf cannot change it; it sets only how "
    "long retries go on (`queue ttl`, default 4d, or an action's `ttl`) and when the "
    "sender is warned (`bounce warn-interval`)"
)
"""What OpenSMTPD can and cannot set (smtpd.conf(5) and its scheduler, 6.x/7.x)."""


def schedule_suggestion(d: DestinationStats) -> str | None:
    """A concrete, MTA-specific change when the retry pattern against the hints is consistent.

    Needs at least three compared deferrals, and 60% of them early (or late, with a median
    avoidable delay of a minute or more). The numbers it is based on are in the text.
    """
    s = d.schedule
    n = s.compared
    if n < 3:
        return None
    hint = round(median(s.hints) or 0)  # as every report rounds the same figure
    mta = min(d.mtas.items(), key=lambda kv: (-kv[1], kv[0]))[0] if d.mtas else "postfix"
    if s.early / n >= 0.6:
        gap = int(median(s.early_gaps) or 0)
        basis = (
            f"{s.early} of {n} retries came before the {hint}s the receiver asked for "
            f"(median {gap}s after the deferral; {s.wasted} deferred again)"
        )
        if mta == "exim":
            return f"{basis}. Add an Exim retry rule for it: `{d.domain}  *  F,4h,{hint}s`."
        if mta == "sendmail":
            return (
                f"{basis}. Run Sendmail's queue for it no more often than every {hint}s "
                f"(a queue group with Interval={hint}s, or -q{hint}s)."
            )
        if mta == "opensmtpd":
            return (
                f"{basis}. {OPENSMTPD_SCHEDULE}. Its early retries follow a delivery that "
                f"succeeded to the same domain (the waiting mail is retried at once): "
                f"nothing in smtpd.conf spaces them out."
            )
        return (
            f"{basis}. Raise Postfix's {POSTFIX_BACKOFF} to at least {hint}s "
            f"(postconf -e '{POSTFIX_BACKOFF} = {hint}s')."
        )
    late_avoidable = s.avoidable_seconds / s.late if s.late else 0.0
    if s.late / n >= 0.6 and late_avoidable >= 60:
        gap = int(median(s.late_gaps) or 0)
        basis = (
            f"{s.late} of {n} retries came after the {hint}s the receiver asked for "
            f"(median {gap}s after the deferral; {int(s.avoidable_seconds)}s avoidable in all)"
        )
        if mta == "exim":
            return f"{basis}. Add an Exim retry rule for it: `{d.domain}  *  F,4h,{hint}s`."
        if mta == "sendmail":
            return f"{basis}. Run Sendmail's queue every {hint}s (-q{hint}s)."
        if mta == "opensmtpd":
            return (
                f"{basis}. {OPENSMTPD_SCHEDULE}. To retry after about {hint}s, reschedule "
                f"by hand: `smtpctl schedule <message id>` (or `smtpctl schedule all`) "
                f"{hint}s after such a deferral."
            )
        return (
            f"{basis}. Lower Postfix's {POSTFIX_BACKOFF} and queue_run_delay to about {hint}s "
            f"(defaults 300s each; the backoff then doubles up to maximal_backoff_time)."
        )
    return None
