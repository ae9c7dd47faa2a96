"""stripe_webhook: POST /stripe/webhook. Verify, store the event id once, enqueue, answer 200.

Thin: Powertools' REST resolver routes; recobro.payments.webhook does the work. A bad or missing
signature is a 400 with the standard error body and nothing stored.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from recobro.errors import RecobroError
from recobro.payments import webhook

logger = Logger()
app = APIGatewayRestResolver()

MAX_BODY_BYTES = 512_000


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


@app.post("/stripe/webhook")
def stripe_webhook() -> Response[str]:
    payload = app.current_event.decoded_body or ""
    if len(payload) > MAX_BODY_BYTES:
        return _json(413, {"error": {"code": "payload_too_large", "message": "The body is too large."}})
    try:
        outcome = webhook.receive(payload, app.current_event.headers.get("stripe-signature"))
    except RecobroError as error:
        logger.warning("stripe webhook refused", extra={"code": error.code})
        return _json(error.status, error.body())
    return _json(200, outcome)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
