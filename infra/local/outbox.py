"""Read back what the stack "sent": SES emails and SNS SMS kept by moto, as one newest-first list.

moto 5.2 exposes its models at GET /moto-api/data.json: SendRawEmail lands under
["ses"]["RawMessage"] ({id, source, destinations, raw_data}), SendEmail under ["ses"]["Message"]
({id, source, subject, body, destinations}), SMS under ["sns"]["SMS"] ({message_id, phone_number,
message}). moto keeps no send time, so an item's time is its Date header or when first seen here.
WhatsApp messages come from the Cloud API stand-in (infra/local/whatsapp_stub.py): the text is
rebuilt from the template and its parameters, the claim from biz_opaque_callback_data.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
import re
import threading
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.local.whatsapp_stub import Recorded, WhatsAppStub

URL_PATTERN = re.compile(r"https?://[^\s<>\"'\])]+")


@dataclass
class OutboxItem:
    channel: str
    id: str
    recipient: str
    subject: str | None
    text: str
    html: str | None
    links: list[str]
    claim_id: str | None
    message_id: str | None
    time: str
    sender: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("headers")
        return data


def links_in(text: str) -> list[str]:
    """The links a message shows; after each tracked click link, the payment page it leads to
    (read from the signed token, so reading the outbox records no click)."""
    found: list[str] = []
    for match in URL_PATTERN.findall(text or ""):
        url = match.rstrip(".,;:!?")
        for link in (url, *_click_target(url)):
            if link not in found:
                found.append(link)
    return found


def _click_token(url: str) -> Any:
    from recobro.optimise import tracking

    if "/t/c/" not in url:
        return None
    try:
        return tracking.verify(url.rsplit("/t/c/", 1)[1], "c")
    except RuntimeError:  # no link secret in this process: not the stack's link
        return None


def _click_target(url: str) -> list[str]:
    token = _click_token(url)
    return [token.payment_url()] if token is not None else []


def message_of(links: list[str]) -> tuple[str | None, str | None]:
    """(claim id, message id) named by the first tracked click link: how an SMS finds its claim."""
    for url in links:
        token = _click_token(url)
        if token is not None:
            return token.claim_id, token.message_id
    return None, None


def _parts(message: EmailMessage) -> tuple[str, str | None]:
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    text = text_part.get_content() if text_part is not None else ""
    html = html_part.get_content() if html_part is not None else None
    return str(text), (str(html) if html is not None else None)


class Outbox:
    """Reads moto's state on demand; remembers when each item was first seen."""

    def __init__(self, moto_url: str, whatsapp: WhatsAppStub | None = None) -> None:
        self.moto_url = moto_url.rstrip("/")
        self.whatsapp = whatsapp
        self._first_seen: dict[str, datetime] = {}
        # The order messages were first seen in: "newest first" must not follow the stack clock,
        # which demos and tests move backwards as well as forwards.
        self._arrival: dict[str, int] = {}
        self._lock = threading.Lock()

    def _seen(self, key: str) -> datetime:
        with self._lock:
            if key not in self._first_seen:
                from recobro import clock

                self._first_seen[key] = clock.now()
                self._arrival[key] = len(self._arrival)
            return self._first_seen[key]

    def _order(self, item: OutboxItem) -> int:
        key = f"{item.channel if item.channel in ('sms', 'whatsapp') else 'ses'}:{item.id}"
        with self._lock:
            return self._arrival.get(key, -1)

    def raw_state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.moto_url}/moto-api/data.json", timeout=10) as response:  # noqa: S310
            data: dict[str, Any] = json.loads(response.read())
        return data

    def items(self) -> list[OutboxItem]:
        state = self.raw_state()
        ses = state.get("ses") or {}
        sns = state.get("sns") or {}
        collected: list[tuple[datetime, int, OutboxItem]] = []
        sequence = 0
        for raw in ses.get("RawMessage") or []:
            collected.append(self._raw_entry(raw, sequence))
            sequence += 1
        for simple in ses.get("Message") or []:
            collected.append(self._simple_entry(simple, sequence))
            sequence += 1
        for sms in sns.get("SMS") or []:
            collected.append(self._sms_entry(sms, sequence))
            sequence += 1
        for recorded in self.whatsapp.recorded() if self.whatsapp else []:
            collected.append(self._whatsapp_entry(recorded, sequence))
            sequence += 1
        collected.sort(key=lambda entry: (self._order(entry[2]), entry[1]), reverse=True)
        return [item for _, _, item in collected]

    def _raw_entry(self, raw: dict[str, Any], sequence: int) -> tuple[datetime, int, OutboxItem]:
        # Parsed as bytes: a str parser reads 8bit (unencoded UTF-8) bodies back as raw-unicode-escape.
        data = str(raw.get("raw_data", "")).encode("utf-8", "surrogateescape")
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        text, html = _parts(message)
        when = self._seen(f"ses:{raw.get('id')}")
        if message["Date"]:
            with contextlib.suppress(TypeError, ValueError):
                when = parsedate_to_datetime(str(message["Date"])).astimezone(UTC)
        destinations = raw.get("destinations") or []
        recipient = str(message["To"] or (destinations[0] if destinations else ""))
        item = OutboxItem(
            channel="email",
            id=str(raw.get("id")),
            recipient=recipient,
            subject=str(message["Subject"]) if message["Subject"] is not None else None,
            text=text,
            html=html,
            links=links_in(text),
            claim_id=str(message["X-Recobro-Claim-Id"]) if message["X-Recobro-Claim-Id"] else None,
            message_id=str(message["X-Recobro-Message-Id"]) if message["X-Recobro-Message-Id"] else None,
            time=when.isoformat(),
            sender=str(message["From"] or raw.get("source") or ""),
        )
        return when, sequence, item

    def _simple_entry(self, simple: dict[str, Any], sequence: int) -> tuple[datetime, int, OutboxItem]:
        when = self._seen(f"ses:{simple.get('id')}")
        destinations = simple.get("destinations") or {}
        to = (destinations.get("ToAddresses") or [""]) if isinstance(destinations, dict) else [""]
        body = str(simple.get("body") or "")
        item = OutboxItem(
            channel="email",
            id=str(simple.get("id")),
            recipient=str(to[0]),
            subject=simple.get("subject"),
            text=body,
            html=None,
            links=links_in(body),
            claim_id=None,
            message_id=None,
            time=when.isoformat(),
            sender=simple.get("source"),
        )
        return when, sequence, item

    def _sms_entry(self, sms: dict[str, Any], sequence: int) -> tuple[datetime, int, OutboxItem]:
        when = self._seen(f"sms:{sms.get('message_id')}")
        text = str(sms.get("message") or "")
        links = links_in(text)
        claim_id, message_id = message_of(links)
        item = OutboxItem(
            channel="sms",
            id=str(sms.get("message_id")),
            recipient=str(sms.get("phone_number") or ""),
            subject=None,
            text=text,
            html=None,
            links=links,
            claim_id=claim_id,
            message_id=message_id,
            time=when.isoformat(),
        )
        return when, sequence, item

    def _whatsapp_entry(self, recorded: Recorded, sequence: int) -> tuple[datetime, int, OutboxItem]:
        from recobro.channels import whatsapp

        when = self._seen(f"whatsapp:{recorded.id}")
        text = whatsapp.preview(recorded.body)
        ids: dict[str, Any] = {}
        with contextlib.suppress(ValueError, TypeError):
            ids = json.loads(str(recorded.body.get("biz_opaque_callback_data") or "{}"))
        template = recorded.body.get("template") or {}
        item = OutboxItem(
            channel="whatsapp",
            id=recorded.id,
            recipient="+" + str(recorded.body.get("to", "")),
            subject=f"template {template.get('name')} ({(template.get('language') or {}).get('code')})"
            if template
            else None,
            text=text,
            html=None,
            links=links_in(text),
            claim_id=ids.get("claim_id") if isinstance(ids, dict) else None,
            message_id=ids.get("message_id") if isinstance(ids, dict) else None,
            time=when.isoformat(),
            sender=recorded.phone_number_id,
        )
        return when, sequence, item
