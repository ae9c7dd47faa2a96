"""A recording stand-in for WhatsApp's Cloud API: POST /v{version}/{phone_number_id}/messages.

Local runtime only. It checks the bearer token, keeps every accepted request (path and JSON body)
in memory for the outbox, and answers the way the Cloud API does: a `wamid` per message, and
Meta's error shape for a wrong token or a body that is not a WhatsApp message.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from infra.local.http_server import BackgroundServer

log = logging.getLogger("infra.local.whatsapp")

_MESSAGES = re.compile(r"^/v\d+(?:\.\d+)?/([^/]+)/messages/?$")
MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Recorded:
    id: str  # the wamid we answered with
    phone_number_id: str
    body: dict[str, Any]
    sequence: int


class WhatsAppStub(BackgroundServer):
    """Start it before the handlers read WHATSAPP_API_BASE; port 0 lets the OS pick one."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.token = token
        self._recorded: list[Recorded] = []
        self._lock = threading.Lock()
        super().__init__(host, port, _make_handler(self), "whatsapp-stub")

    def record(self, phone_number_id: str, body: dict[str, Any]) -> Recorded:
        with self._lock:
            item = Recorded(f"wamid.{secrets.token_hex(12)}", phone_number_id, body, len(self._recorded))
            self._recorded.append(item)
            return item

    def recorded(self) -> list[Recorded]:
        with self._lock:
            return list(self._recorded)


def _error(message: str, code: int, kind: str = "OAuthException") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": secrets.token_hex(8)}}


def _make_handler(stub: WhatsAppStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "recobro-local-whatsapp"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("whatsapp %s", format % args)

        def _json(self, status: int, data: Any) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(min(length, MAX_BODY)) if length else b""
            match = _MESSAGES.match(self.path.split("?")[0])
            if not match:
                self._json(404, _error("Unknown path components", 2500))
                return
            if self.headers.get("Authorization") != f"Bearer {stub.token}":
                self._json(401, _error("Invalid OAuth access token.", 190))
                return
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if (
                not isinstance(body, dict)
                or body.get("messaging_product") != "whatsapp"
                or not body.get("to")
                or body.get("type") not in ("template", "text")
            ):
                self._json(400, _error("(#100) Invalid parameter", 100, "OAuthException"))
                return
            item = stub.record(match.group(1), body)
            self._json(
                200,
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                    "messages": [{"id": item.id}],
                },
            )

    return Handler
