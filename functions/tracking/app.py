"""tracking: the open pixel and the click redirect of reminders.

GET /t/o/{token}.gif answers a 1x1 transparent GIF and records an open; GET /t/c/{token} records
a click and redirects (302) to the claim's payment page, rebuilt from the signed token. Anything
that does not verify gets a plain 404 and records nothing. Thin: route with Powertools' REST
resolver, call recobro.optimise.tracking. The API serves every type as binary (*/*), so the
GIF's bytes reach mail clients whatever Accept header they send.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from recobro.optimise import tracking

logger = Logger()
app = APIGatewayRestResolver()

NO_STORE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}


def _not_found() -> Response[str]:
    return Response(status_code=404, content_type="text/plain; charset=utf-8", body="Not found\n", headers=NO_STORE)


@app.get("/t/o/<token>")
def open_pixel(token: str) -> Response[bytes] | Response[str]:
    if not token.endswith(".gif") or not tracking.open_pixel(token.removesuffix(".gif")):
        return _not_found()
    return Response(status_code=200, content_type="image/gif", body=tracking.PIXEL_GIF, headers=NO_STORE)


@app.get("/t/c/<token>")
def click(token: str) -> Response[str]:
    location = tracking.click(token)
    if location is None:
        return _not_found()
    return Response(status_code=302, body="", headers={**NO_STORE, "Location": location})


@app.not_found
def unknown_path(_: Exception) -> Response[str]:
    return _not_found()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
