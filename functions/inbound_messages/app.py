"""inbound_messages: what debtors write back by SMS or WhatsApp (docs/adr/0013-channels-and-two-way.md).

POST /inbound/sms (signed with X-Recobro-Signature), POST /inbound/whatsapp (Meta's
X-Hub-Signature-256) and GET /inbound/whatsapp (Meta's verification handshake). Thin: check the
signature, read the body into messages, hand each to recobro.inbound.service, answer 200 JSON.
A bad signature is a 401 and nothing happens.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from recobro.errors import RecobroError
from recobro.inbound import requests, service

logger = Logger()
app = APIGatewayRestResolver()

MAX_BODY_BYTES = 256_000


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


def _refused(error: RecobroError) -> Response[str]:
    logger.warning("inbound message refused", extra={"code": error.code})
    return _json(error.status, error.body())


def _raw_body() -> str | None:
    body = app.current_event.decoded_body or ""
    return None if len(body) > MAX_BODY_BYTES else body


@app.post("/inbound/sms")
def inbound_sms() -> Response[str]:
    body = _raw_body()
    if body is None:
        return _json(413, {"error": {"code": "payload_too_large", "message": "The body is too large."}})
    headers = app.current_event.headers
    try:
        requests.check_signature(
            requests.sms_secret(), body.encode(), headers.get("x-recobro-signature"), "X-Recobro-Signature"
        )
        message = requests.sms_message(body, headers.get("content-type"))
    except RecobroError as error:
        return _refused(error)
    outcome = service.handle(message)
    logger.info("inbound sms", extra={"intent": outcome.intent, "status": outcome.status, "replied": outcome.replied})
    return _json(200, {"intent": outcome.intent, "status": outcome.status, "replied": outcome.replied})


@app.post("/inbound/whatsapp")
def inbound_whatsapp() -> Response[str]:
    body = _raw_body()
    if body is None:
        return _json(413, {"error": {"code": "payload_too_large", "message": "The body is too large."}})
    try:
        requests.check_signature(
            requests.whatsapp_app_secret(),
            body.encode(),
            app.current_event.headers.get("x-hub-signature-256"),
            "X-Hub-Signature-256",
        )
        messages = requests.whatsapp_messages(body)
    except RecobroError as error:
        return _refused(error)
    outcomes = [service.handle(message) for message in messages]
    for outcome in outcomes:
        logger.info("inbound whatsapp", extra={"intent": outcome.intent, "status": outcome.status})
    return _json(200, {"received": len(outcomes), "intents": [o.intent for o in outcomes]})


@app.get("/inbound/whatsapp")
def verify_whatsapp_webhook() -> Response[str]:
    challenge = requests.verification_challenge(dict(app.current_event.query_string_parameters or {}))
    if challenge is None:
        return _json(403, {"error": {"code": "forbidden", "message": "The verify token does not match."}})
    return Response(status_code=200, content_type="text/plain", body=challenge)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    service.register_lambda_context(context)
    return app.resolve(event, context)
