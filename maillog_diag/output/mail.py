"""The daily report as one mail: a multipart/alternative message with the plain text and
the HTML, built with the standard library's `email` package (RFC 5322 headers, RFC 2046
multipart/alternative: the plain part first, the richer part last, as mail clients prefer
the last part they can show)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

SUBJECT_CHARS = 200
"""The summary line is cut to this length in the Subject (the body has it whole)."""


def daily_message(
    to: str, subject: str, text: str, html: str, *, sender: str | None = None
) -> EmailMessage:
    """One message to `to` with `text` and `html` as alternatives. Without `sender` the
    From header is left to sendmail (`-t` takes the recipients from To)."""
    msg = EmailMessage()
    msg["To"] = to
    if sender:
        msg["From"] = sender
    msg["Subject"] = " ".join(subject.split())[:SUBJECT_CHARS]
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid("maillog-diag")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg
