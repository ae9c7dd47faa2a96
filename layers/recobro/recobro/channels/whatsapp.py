"""WhatsApp through Meta's Cloud API: the message JSON, and one POST to send it.

Reminders are template messages (the only kind a business may start a conversation with): the
template is approved by Meta under TEMPLATE_PREFIX + kind, per language, with the text of
templates/whatsapp/<kind>.<lang>.txt.j2 and *named* parameters ({{debtor_first_name}}), so the
file we render for previews and the template Meta holds are the same text. Replies to a
debtor's message (inside WhatsApp's 24-hour customer-service window) are plain text messages.

POST {WHATSAPP_API_BASE}/v{WHATSAPP_API_VERSION}/{WHATSAPP_PHONE_NUMBER_ID}/messages with
`Authorization: Bearer <token>`; the token is WHATSAPP_ACCESS_TOKEN locally or the SSM
SecureString named by WHATSAPP_ACCESS_TOKEN_PARAMETER in AWS. Locally the base URL points at a
recording stand-in (infra/local/whatsapp_stub.py).
"""

from __future__ import annotations

import functools
import json
import os
import urllib.error
import urllib.request
from typing import Any

from recobro.channels import texts
from recobro.rendering import language_for
from recobro.secret_store import read_secret

DEFAULT_API_BASE = "https://graph.facebook.com"
DEFAULT_API_VERSION = "21.0"
TEMPLATE_PREFIX = "recobro_"
TIMEOUT_SECONDS = 10
# Meta's language codes for our catalogues.
LANGUAGE_CODES = {"es": "es", "en": "en", "pt-BR": "pt_BR"}


class WhatsAppError(RuntimeError):
    """The Cloud API refused or could not be reached; `status` is the HTTP status (0: no answer)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"WhatsApp Cloud API {status or 'unreachable'}: {message}")
        self.status = status


def api_base() -> str:
    return os.environ.get("WHATSAPP_API_BASE", DEFAULT_API_BASE).rstrip("/")


def api_version() -> str:
    return os.environ.get("WHATSAPP_API_VERSION", DEFAULT_API_VERSION).lstrip("v")


def phone_number_id() -> str:
    return os.environ.get("WHATSAPP_PHONE_NUMBER_ID", "")


@functools.lru_cache(maxsize=1)
def _token() -> str:
    return read_secret("WHATSAPP_ACCESS_TOKEN", "WHATSAPP_ACCESS_TOKEN_PARAMETER")


def messages_url() -> str:
    return f"{api_base()}/v{api_version()}/{phone_number_id()}/messages"


def wa_id(phone: str) -> str:
    """WhatsApp addresses people by their number's digits, without the +."""
    return "".join(c for c in phone if c.isdigit())


def language_code(locale: str) -> str:
    return LANGUAGE_CODES[language_for(locale)]


def template_message(
    to: str, template_name: str, locale: str, parameters: dict[str, str], callback_data: str | None = None
) -> dict[str, Any]:
    """A template message with named body parameters, in the order given."""
    message: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": wa_id(to),
        "type": "template",
        "template": {
            "name": template_name,
            "language": {"policy": "deterministic", "code": language_code(locale)},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "parameter_name": name, "text": value} for name, value in parameters.items()
                    ],
                }
            ],
        },
    }
    if callback_data:
        message["biz_opaque_callback_data"] = callback_data[:512]
    return message


def callback_data(claim_id: str, message_id: str) -> str:
    """What WhatsApp echoes back in status webhooks (and the local outbox reads)."""
    return json.dumps({"claim_id": claim_id, "message_id": message_id}, separators=(",", ":"))


def reminder_message(
    to: str, locale: str, variables: dict[str, str], kind: str = "reminder", callback: str | None = None
) -> dict[str, Any]:
    """The template message for one of our texts (templates/whatsapp/<kind>.<lang>.txt.j2)."""
    source = texts.builtin_source("whatsapp", kind, language_for(locale))
    parameters = {name: variables[name] for name in texts.variables_used(source)}
    return template_message(to, TEMPLATE_PREFIX + kind, locale, parameters, callback)


def text_message(to: str, body: str, reply_to: str | None = None) -> dict[str, Any]:
    """A free-form text, allowed only within 24 hours of the debtor's last message to us."""
    message: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": wa_id(to),
        "type": "text",
        "text": {"preview_url": True, "body": body[:4096]},
    }
    if reply_to:
        message["context"] = {"message_id": reply_to}
    return message


def preview(message: dict[str, Any]) -> str:
    """The text the debtor reads, rebuilt from a message we built (outbox, decision log)."""
    if message.get("type") == "text":
        return str(message.get("text", {}).get("body", ""))
    template = message.get("template") or {}
    name = str(template.get("name", ""))
    code = str((template.get("language") or {}).get("code", "en"))
    language = next((lang for lang, meta in LANGUAGE_CODES.items() if meta == code), "en")
    values = {
        str(p.get("parameter_name")): str(p.get("text", ""))
        for component in template.get("components") or []
        if component.get("type") == "body"
        for p in component.get("parameters") or []
    }
    if not name.startswith(TEMPLATE_PREFIX):
        return f"[{name}] " + " | ".join(values.values())
    try:
        source = texts.builtin_source("whatsapp", name.removeprefix(TEMPLATE_PREFIX), language)
        return texts.render_source(source, values)
    except (OSError, texts.TemplateInvalid):
        return f"[{name}] " + " | ".join(values.values())


def send(message: dict[str, Any]) -> str:
    """POST one message; returns WhatsApp's message id (wamid...)."""
    request = urllib.request.Request(  # noqa: S310 - https in production, the local stand-in otherwise
        messages_url(),
        data=json.dumps(message).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {_token()}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            reply = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read() or b"{}").get("error", {}).get("message", "")
        except ValueError:
            detail = ""
        raise WhatsAppError(error.code, str(detail) or error.reason) from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise WhatsAppError(0, type(error).__name__) from None
    messages = reply.get("messages") or []
    if not messages or not isinstance(messages[0], dict) or "id" not in messages[0]:
        raise WhatsAppError(200, "no message id in the answer")
    return str(messages[0]["id"])


def reset() -> None:
    """Forget the cached token (tests that change the environment)."""
    _token.cache_clear()
