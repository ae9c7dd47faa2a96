"""Inbound webhooks as they arrive: signatures checked, bodies read into InboundMessage.

SMS (POST /inbound/sms) accepts two shapes, signed by whatever forwards them to us with
`X-Recobro-Signature: sha256=<hex HMAC-SHA256 of the raw body>` under INBOUND_SMS_SECRET:
- JSON as AWS End User Messaging publishes inbound SMS: {"originationNumber", "messageBody",
  "inboundMessageId", ...} (or the short {"from", "text", "id"});
- a form like Twilio's: From, Body, MessageSid.
WhatsApp (POST /inbound/whatsapp) is the Cloud API webhook, signed by Meta in X-Hub-Signature-256
with the app secret; GET /inbound/whatsapp answers Meta's verification handshake.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from recobro.errors import RecobroError, ValidationFailed
from recobro.secret_store import read_secret

MAX_TEXT = 1600


class InvalidSignature(RecobroError):
    status = 401
    code = "invalid_signature"


@dataclass(frozen=True)
class InboundMessage:
    channel: str  # sms | whatsapp
    sender: str  # as received: "+34600111222" or WhatsApp's "34600111222"
    text: str
    provider_id: str | None  # the provider's message id: a redelivery is handled once


@functools.lru_cache(maxsize=1)
def sms_secret() -> str:
    return read_secret("INBOUND_SMS_SECRET", "INBOUND_SMS_SECRET_PARAMETER")


@functools.lru_cache(maxsize=1)
def whatsapp_app_secret() -> str:
    return read_secret("WHATSAPP_APP_SECRET", "WHATSAPP_APP_SECRET_PARAMETER")


@functools.lru_cache(maxsize=1)
def whatsapp_verify_token() -> str:
    return read_secret("WHATSAPP_VERIFY_TOKEN", "WHATSAPP_VERIFY_TOKEN_PARAMETER")


def reset() -> None:
    sms_secret.cache_clear()
    whatsapp_app_secret.cache_clear()
    whatsapp_verify_token.cache_clear()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check_signature(secret: str, body: bytes, header: str | None, header_name: str) -> None:
    if not header:
        raise InvalidSignature(f"The {header_name} header is missing.")
    if not hmac.compare_digest(header.strip().encode(), signature(secret, body).encode()):
        raise InvalidSignature(f"The {header_name} header does not match this body.")


def _text(value: Any) -> str:
    return str(value)[:MAX_TEXT] if isinstance(value, str) else ""


def sms_message(body: str, content_type: str | None) -> InboundMessage:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True, max_num_fields=50).items()}
        sender, text, provider_id = form.get("From"), form.get("Body"), form.get("MessageSid")
    else:
        try:
            data = json.loads(body)
        except ValueError:
            raise ValidationFailed("The body is neither JSON nor a form.") from None
        if not isinstance(data, dict):
            raise ValidationFailed("The body must be a JSON object.")
        sender = data.get("originationNumber", data.get("from"))
        text = data.get("messageBody", data.get("text"))
        provider_id = data.get("inboundMessageId", data.get("id"))
    if not isinstance(sender, str) or not sender.strip():
        raise ValidationFailed("The sender's number is missing.", field="from")
    if not isinstance(text, str):
        raise ValidationFailed("The message text is missing.", field="text")
    return InboundMessage("sms", sender.strip(), _text(text), str(provider_id) if provider_id else None)


def _whatsapp_text(message: dict[str, Any]) -> str | None:
    kind = message.get("type")
    if kind == "text":
        return _text((message.get("text") or {}).get("body"))
    if kind == "button":  # a quick-reply button on a template
        return _text((message.get("button") or {}).get("text"))
    if kind == "interactive":
        interactive = message.get("interactive") or {}
        reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
        return _text(reply.get("title"))
    return None  # images, audio, locations...: nothing to read


def whatsapp_messages(body: str) -> list[InboundMessage]:
    """Every debtor message in one Cloud API webhook (delivery statuses are skipped)."""
    try:
        data = json.loads(body)
    except ValueError:
        raise ValidationFailed("The body is not JSON.") from None
    if not isinstance(data, dict) or data.get("object") != "whatsapp_business_account":
        raise ValidationFailed("Not a WhatsApp Business Account webhook.")
    found: list[InboundMessage] = []
    for entry in data.get("entry") or []:
        for change in (entry or {}).get("changes") or []:
            value = (change or {}).get("value") or {}
            if (change or {}).get("field") != "messages":
                continue
            for message in value.get("messages") or []:
                if not isinstance(message, dict) or not isinstance(message.get("from"), str):
                    continue
                text = _whatsapp_text(message)
                if text is None:
                    text = f"[{message.get('type')}]"
                found.append(InboundMessage("whatsapp", message["from"], text, message.get("id")))
    return found


def verification_challenge(query: dict[str, str]) -> str | None:
    """Meta's GET handshake: the challenge to echo when the verify token matches, else None."""
    if query.get("hub.mode") != "subscribe":
        return None
    token = query.get("hub.verify_token") or ""
    if not hmac.compare_digest(token.encode(), whatsapp_verify_token().encode()):
        return None
    challenge = query.get("hub.challenge") or ""
    return challenge if challenge.isascii() and len(challenge) <= 200 else None
