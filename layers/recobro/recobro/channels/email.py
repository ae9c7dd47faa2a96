"""Email through SES SendRawEmail: a multipart text + HTML MIME message.

Raw MIME (rather than SES's simple form) lets us add our own headers: the claim and message
ids for tracing, and List-Unsubscribe with List-Unsubscribe-Post (RFC 8058 one-click: the mail
client POSTs `List-Unsubscribe=One-Click` to the https link; recobro.unsubscribe answers it).
The built-in reminder email is rendered here too, once for the sender and the template preview.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any

import boto3

from recobro import config
from recobro.rendering import render


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    from_name: str
    headers: dict[str, str] = field(default_factory=dict)


def unsubscribe_headers(url: str) -> dict[str, str]:
    """The one-click unsubscribe headers for a reminder (the url from recobro.unsubscribe.url)."""
    if not url.startswith(("https://", "http://")):
        raise ValueError("List-Unsubscribe needs an http(s) URL for one-click")
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def render_reminder(locale: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Our built-in reminder email as (subject, text, HTML). The template preview renders it with
    sample facts, so a context without `upcoming`, `offer` or a pixel is an overdue reminder."""
    full = {"upcoming": False, "offer": None, **context}
    return (
        render("email/reminder.subject.txt.j2", locale, **full).strip(),
        render("email/reminder.txt.j2", locale, **full),
        render("email/reminder.html.j2", locale, **full),
    )


@functools.lru_cache(maxsize=1)
def _ses() -> Any:
    return boto3.client("ses")


def to_mime(email: Email, from_address: str) -> bytes:
    message = EmailMessage()
    message["From"] = formataddr((email.from_name, from_address))
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Message-ID"] = make_msgid(domain=from_address.split("@")[-1])
    for name, value in email.headers.items():
        message[name] = value
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message.as_bytes()


def send(email: Email) -> str:
    """Send and return SES's message id."""
    source = config.ses_from_address()
    response = _ses().send_raw_email(
        Source=source, Destinations=[email.to], RawMessage={"Data": to_mime(email, source)}
    )
    return str(response["MessageId"])
