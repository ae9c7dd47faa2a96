"""A stand-in for API Gateway (REST, v1 proxy events): one HTTP server per API in the template.

Requests are matched against the template's routes and handed to the function as the proxy
event API Gateway would build; `requestContext.resourcePath` is the route pattern exactly, as
Chalice requires. Errors the gateway itself produces use the platform's error body shape.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from infra.local.handlers import LoadedFunction, log_exception
from infra.local.http_server import BackgroundServer
from infra.local.template import STAGE, Route

log = logging.getLogger("infra.local.gateway")

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


@dataclass(frozen=True)
class CompiledRoute:
    route: Route
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    function: LoadedFunction
    literal_segments: int  # more literal segments = more specific


def compile_route(route: Route, function: LoadedFunction) -> CompiledRoute:
    names: list[str] = []
    parts: list[str] = []
    literal = 0
    for segment in route.path.strip("/").split("/") if route.path.strip("/") else []:
        greedy = re.fullmatch(r"\{(\w+)\+\}", segment)
        param = re.fullmatch(r"\{(\w+)\}", segment)
        if greedy:
            names.append(greedy.group(1))
            parts.append("(.+)")
        elif param:
            names.append(param.group(1))
            parts.append("([^/]+)")
        else:
            literal += 1
            parts.append(re.escape(segment))
    pattern = re.compile("^/" + "/".join(parts) + "/?$" if parts else "^/?$")
    return CompiledRoute(route, pattern, tuple(names), function, literal)


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


class ApiGateway(BackgroundServer):
    """One local API: routes plus the server that serves them."""

    def __init__(self, name: str, api_id: str, routes: list[CompiledRoute], host: str, port: int) -> None:
        self.name = name
        self.api_id = api_id
        self.routes = sorted(routes, key=lambda r: -r.literal_segments)
        super().__init__(host, port, _make_handler(self), f"gateway-{name}")

    def match(self, method: str, path: str) -> tuple[CompiledRoute | None, dict[str, str], bool]:
        """(route, path parameters, path matched some route)."""
        path_matched = False
        for compiled in self.routes:
            found = compiled.pattern.match(path)
            if not found:
                continue
            path_matched = True
            if compiled.route.method in (method, "ANY"):
                params = {name: unquote(value) for name, value in zip(compiled.names, found.groups(), strict=True)}
                return compiled, params, True
        return None, {}, path_matched


def build_event(
    compiled: CompiledRoute,
    method: str,
    raw_path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    path_params: dict[str, str],
    source_ip: str,
) -> dict[str, Any]:
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        single_headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    single_query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        single_query[name] = value
        multi_query.setdefault(name, []).append(value)
    text: str | None
    is_base64 = False
    if not body:
        text = None
    else:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode("ascii"), True
    now = time.time()
    request_id = str(uuid.uuid4())
    path = unquote(raw_path)
    return {
        "resource": compiled.route.path,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "body": text,
        "isBase64Encoded": is_base64,
        "requestContext": {
            "resourcePath": compiled.route.path,
            "httpMethod": method,
            "path": f"/{STAGE}{path}",
            "stage": STAGE,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "accountId": "123456789012",
            "apiId": compiled.route.api_id.lower(),
            "protocol": "HTTP/1.1",
            "identity": {"sourceIp": source_ip, "userAgent": single_headers.get("User-Agent")},
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "domainName": "localhost",
        },
    }


def _make_handler(gateway: ApiGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "recobro-local-gateway"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", gateway.name, format % args)

        def _send(self, status: int, headers: dict[str, list[str]], body: bytes) -> None:
            self.send_response(status)
            lower = {k.lower() for k in headers}
            for name, values in headers.items():
                if name.lower() in ("content-length", "connection", "transfer-encoding"):
                    continue
                for value in values:
                    self.send_header(name, value)
            if "content-type" not in lower and body:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: int, code: str, message: str) -> None:
            self._send(status, {"Content-Type": ["application/json"]}, error_body(code, message))

        def _handle(self) -> None:
            method = self.command.upper()
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self.close_connection = True
                self._error(413, "payload_too_large", "Request bodies are limited to 10 MB.")
                return
            body = self.rfile.read(length) if length else b""
            compiled, params, path_matched = gateway.match(method, split.path)
            if compiled is None:
                if path_matched:
                    self._error(405, "method_not_allowed", f"{method} is not allowed on {split.path}.")
                else:
                    self._error(404, "not_found", f"No route for {method} {split.path}.")
                return
            event = build_event(
                compiled,
                method,
                split.path,
                split.query,
                list(self.headers.items()),
                body,
                params,
                self.client_address[0],
            )
            try:
                result = compiled.function.invoke(event)
                status, headers, payload = _shape_response(result)
            except Exception:
                log_exception(f"{compiled.function.spec.logical_id} failed on {method} {compiled.route.path}")
                self._error(502, "internal_error", "The function failed; see .local/logs/handlers.log.")
                return
            self._send(status, headers, payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle

    return Handler


def _shape_response(result: Any) -> tuple[int, dict[str, list[str]], bytes]:
    if not isinstance(result, dict) or "statusCode" not in result:
        raise ValueError("the handler did not return an API Gateway proxy response")
    headers: dict[str, list[str]] = {}
    for name, value in (result.get("headers") or {}).items():
        headers[name] = [str(value)]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = [str(v) for v in values]
    raw = result.get("body")
    if raw is None:
        payload = b""
    elif result.get("isBase64Encoded"):
        payload = base64.b64decode(raw)
    else:
        payload = str(raw).encode("utf-8")
    return int(result["statusCode"]), headers, payload
