"""payment_page: serves the hosted page a reminder links to (GET /p/{token}).

Thin: route with Powertools' REST resolver, call recobro.pages, return HTML with its headers.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from recobro import pages

logger = Logger()
app = APIGatewayRestResolver()


def _html(page: pages.Page) -> Response[str]:
    return Response(status_code=page.status, headers=page.headers, body=page.html)


@app.get("/p/<token>")
def show_payment_page(token: str) -> Response[str]:
    return _html(pages.payment_page(token))


@app.not_found
def unknown_path(_: Exception) -> Response[str]:
    return _html(pages.not_found())


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
