"""payment_page: serves the hosted page a reminder links to.

GET /p/{token} asks the identity question (or shows what is owed to a verified session);
POST /p/{token}/verify takes the answer from a plain HTML form. Thin: route with Powertools'
REST resolver, call recobro.pages, return HTML with its headers and cookies.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from recobro import pages

logger = Logger()
app = APIGatewayRestResolver()

MAX_FORM_BYTES = 4096


def _html(page: pages.Page) -> Response[str]:
    headers: dict[str, str | list[str]] = dict(page.headers)
    if page.cookies:
        headers["Set-Cookie"] = list(page.cookies)
    return Response(status_code=page.status, headers=headers, body=page.html)


def _cookie_header() -> str | None:
    return app.current_event.headers.get("cookie")  # case-insensitive in Powertools v3


def _form() -> dict[str, str] | None:
    """The url-encoded form body, first value per field; None if it is not one."""
    content_type = app.current_event.headers.get("content-type") or ""
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return None
    body = app.current_event.decoded_body or ""
    if len(body) > MAX_FORM_BYTES:
        return None
    try:
        parsed = parse_qs(body, keep_blank_values=True, strict_parsing=False, max_num_fields=20)
    except ValueError:
        return None
    return {name: values[0] for name, values in parsed.items()}


@app.get("/p/<token>")
def show_payment_page(token: str) -> Response[str]:
    return _html(pages.payment_page(token, _cookie_header()))


@app.post("/p/<token>/verify")
def verify_identity(token: str) -> Response[str]:
    # Not a form (or an oversized one): no CSRF token, so a genuine link answers 403.
    return _html(pages.verify_identity(token, _cookie_header(), _form() or {}))


@app.not_found
def unknown_path(_: Exception) -> Response[str]:
    return _html(pages.not_found())


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
