"""The local control surface (DESIGN.md): outbox, schedule firing, time travel, drain, health.

Local runtime only, never deployed. Demos, tests and scripted checks drive the stack through it.
"""

from __future__ import annotations

import html
import json
import logging
import re
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from infra.local.handlers import log_exception
from infra.local.http_server import BackgroundServer
from infra.local.outbox import URL_PATTERN, OutboxItem

log = logging.getLogger("infra.local.control")


class ControlBackend(Protocol):
    def outbox_items(self) -> list[OutboxItem]: ...

    def fire(self, logical_id: str) -> Any: ...

    def drain(self, timeout: float) -> tuple[bool, dict[str, Any]]: ...

    def health(self) -> dict[str, Any]: ...


def _clock_now() -> datetime:
    from recobro import clock

    return clock.now()


def _travel_to(moment: datetime) -> None:
    from recobro import clock

    clock.travel_to(moment)


def parse_instant(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("'now' must be an ISO-8601 string")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    if moment.tzinfo is None:
        raise ValueError("'now' needs a timezone, e.g. 2026-10-01T09:00:00Z")
    return moment


def _linkify(text: str) -> str:
    out, last = [], 0
    for match in URL_PATTERN.finditer(text):
        url = match.group(0).rstrip(".,;:!?")
        out.append(html.escape(text[last : match.start()]))
        out.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
        last = match.start() + len(url)
    out.append(html.escape(text[last:]))
    return "".join(out)


def render_outbox(items: list[OutboxItem]) -> str:
    rows = []
    for item in items:
        fallback = {"sms": "SMS", "whatsapp": "WhatsApp"}.get(item.channel, "(no subject)")
        title = html.escape(item.subject or fallback)
        extra = f" · claim <code>{html.escape(item.claim_id)}</code>" if item.claim_id else ""
        html_link = f' · <a href="/outbox/{html.escape(item.id)}.html">view HTML</a>' if item.html else ""
        rows.append(
            f"<article><h2>{title}</h2>"
            f"<p class=meta>{html.escape(item.channel)} to <strong>{html.escape(item.recipient)}</strong>"
            f" · {html.escape(item.time)}{extra}{html_link}</p>"
            f"<pre>{_linkify(item.text)}</pre></article>"
        )
    body = "\n".join(rows) or "<p>Nothing sent yet. Fire the reminder planner or wait for its schedule.</p>"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        "<title>Recobro local outbox</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#222}"
        "article{border:1px solid #ccc;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}"
        "h2{font-size:1.1rem;margin:.3rem 0}.meta{color:#555;font-size:.9rem}"
        "pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f7;padding:.5rem}"
        "</style></head><body>"
        f"<h1>Outbox <small>({len(items)} sent, newest first)</small></h1>"
        "<p><a href=/outbox.json>JSON</a></p>"
        f"{body}</body></html>"
    )


class ControlServer(BackgroundServer):
    def __init__(self, backend: ControlBackend, host: str, port: int) -> None:
        self.backend = backend
        super().__init__(host, port, _make_handler(backend), "control")


_FIRE = re.compile(r"^/schedules/([A-Za-z0-9]+)/fire/?$")
_HTML_PART = re.compile(r"^/outbox/([^/]+)\.html$")


def _make_handler(backend: ControlBackend) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "recobro-local-control"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("control %s", format % args)

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: Any) -> None:
            self._send(status, json.dumps(data, default=str).encode(), "application/json")

        def _error(self, status: int, code: str, message: str) -> None:
            self._json(status, {"error": {"code": code, "message": message}})

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            try:
                if path in ("/", "/outbox", "/outbox/"):
                    self._send(200, render_outbox(backend.outbox_items()).encode(), "text/html; charset=utf-8")
                elif path == "/outbox.json":
                    self._json(200, [item.as_json() for item in backend.outbox_items()])
                elif match := _HTML_PART.match(path):
                    found = [i for i in backend.outbox_items() if i.id == match.group(1) and i.html]
                    if not found:
                        self._error(404, "not_found", "No such message.")
                    else:
                        self._send(200, str(found[0].html).encode(), "text/html; charset=utf-8")
                elif path == "/clock":
                    self._json(200, {"now": _clock_now().isoformat()})
                elif path == "/health":
                    self._json(200, backend.health())
                else:
                    self._error(404, "not_found", f"No control route GET {path}.")
            except Exception:
                log_exception(f"control GET {path}")
                self._error(500, "internal_error", "The control server failed; see .local/logs/handlers.log.")

        def do_POST(self) -> None:
            split = urlsplit(self.path)
            path = split.path
            body = self._body()
            try:
                if match := _FIRE.match(path):
                    try:
                        result = backend.fire(match.group(1))
                    except KeyError as exc:
                        self._error(404, "not_found", str(exc.args[0]) if exc.args else "No such schedule.")
                        return
                    self._json(200, {"schedule": match.group(1), "result": result})
                elif path == "/clock":
                    try:
                        data = json.loads(body or b"{}")
                        moment = parse_instant(data.get("now") if isinstance(data, dict) else None)
                    except ValueError as exc:
                        self._error(400, "validation_error", str(exc))
                        return
                    _travel_to(moment)
                    self._json(200, {"now": _clock_now().isoformat()})
                elif path == "/drain":
                    query = parse_qs(split.query)
                    try:
                        timeout = float(query.get("timeout", ["60"])[0])
                    except ValueError:
                        self._error(400, "validation_error", "timeout must be a number of seconds")
                        return
                    drained, queues = backend.drain(max(0.0, min(timeout, 600.0)))
                    if drained:
                        self._json(200, {"drained": True})
                    else:
                        self._json(504, {"drained": False, "queues": queues})
                else:
                    self._error(404, "not_found", f"No control route POST {path}.")
            except Exception:
                log_exception(f"control POST {path}")
                self._error(500, "internal_error", "The control action failed; see .local/logs/handlers.log.")

    return Handler
