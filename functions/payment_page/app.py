"""payment_page: serves the hosted page a reminder links to.

GET /p/{token} asks the identity question (or shows what is owed to a verified session);
GET /p/{token}/{action} shows one action's form, POST /p/{token}/{action} sends it (plain HTML
forms; "verify" answers the identity question). GET/POST /u/{token} is the reminder email's
one-click unsubscribe (recobro.unsubscribe). Thin: route with Powertools' REST resolver,
call recobro.page.site, return HTML with its headers and cookies.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from recobro import unsubscribe
from recobro.page import site
from recobro.page.response import Page, not_found

logger = Logger()
app = APIGatewayRestResolver()

MAX_FORM_BYTES = 4096


def _html(page: Page) -> Response[str]:
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


def _query() -> dict[str, str]:
    return {k: v for k, v in (app.current_event.query_string_parameters or {}).items() if len(v) <= 200}


@app.get("/p/<token>")
def show_payment_page(token: str) -> Response[str]:
    return _html(site.get(token, None, _cookie_header(), _query()))


@app.get("/p/<token>/<action>")
def show_action(token: str, action: str) -> Response[str]:
    return _html(site.get(token, action, _cookie_header(), _query()))


@app.get("/p/<token>/plan/confirm")
def confirm_plan(token: str) -> Response[str]:
    return _html(site.get(token, "plan/confirm", _cookie_header(), _query()))


@app.post("/p/<token>/<action>")
def submit_action(token: str, action: str) -> Response[str]:
    # Not a form (or an oversized one): no CSRF token, so a genuine link answers 403.
    return _html(site.post(token, action, _cookie_header(), _form() or {}))


@app.get("/u/<token>")
def show_unsubscribe(token: str) -> Response[str]:
    return _html(unsubscribe.show(token))


@app.post("/u/<token>")
def one_click_unsubscribe(token: str) -> Response[str]:
    # RFC 8058: the body is "List-Unsubscribe=One-Click" (form or multipart); the token is the credential.
    return _html(unsubscribe.confirm(token))


@app.not_found
def unknown_path(_: Exception) -> Response[str]:
    return _html(not_found())


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
