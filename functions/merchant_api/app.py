"""merchant_api: the public merchant API as a Chalice app (handler: app.app).

Thin: every view is registered through `operation(...)`, which declares it in the API contract
(so the OpenAPI document lists it), authenticates the key, decodes and validates the body and
query with the operation's models, applies Idempotency-Key to POSTs, and turns domain errors
into their 4xx bodies. Views only call recobro and return the response body.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from chalice.app import Chalice, Request, Response
from recobro.api.body import decode_json
from recobro.api.contract import Operation, declare
from recobro.api.openapi import document
from recobro.api.query import parse_query
from recobro.auth import authenticate
from recobro.claims import schemas, service
from recobro.claims.views import ClaimOut
from recobro.errors import RecobroError
from recobro.idempotency import register_lambda_context, run_once

app = Chalice(app_name="recobro-merchant-api")
logger = Logger()  # service name differs from the app name, or Chalice logs every line twice

JSON_HEADERS: dict[str, str | list[str]] = {"Content-Type": "application/json", "Cache-Control": "no-store"}


def _json(status: int, body: Any) -> Response:
    return Response(body=body, status_code=status, headers=JSON_HEADERS)


# Chalice answers some requests itself (415, 405) with its own body shape; keep ours everywhere.
_CHALICE_CODES = {"UnsupportedMediaType": "unsupported_media_type", "MethodNotAllowedError": "method_not_allowed"}


@app.middleware("http")
def chalice_errors_in_our_shape(event: Any, get_response: Any) -> Response:
    response: Response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code = _CHALICE_CODES.get(str(body["Code"]), "internal_error" if response.status_code >= 500 else "bad_request")
        response.body = {"error": {"code": code, "message": str(body.get("Message", ""))}}
        response.headers.update(JSON_HEADERS)
    return response


@dataclass(frozen=True)
class Call:
    """What a view gets: the authenticated merchant and the validated parts of the request."""

    merchant_id: str
    path: dict[str, str]
    body: Any = None
    query: Any = None


View = Callable[[Call], Any]


def _request() -> Request:
    request = app.current_request
    assert request is not None  # Chalice sets it before any view runs
    return request


def operation(op: Operation) -> Callable[[View], View]:
    """Declare `op` in the contract and serve it with `view`."""
    declare(op)

    def register(view: View) -> View:
        content_types = ["application/json"]

        @functools.wraps(view)
        def chalice_view(**path: str) -> Response:
            try:
                return _serve(op, view, path)
            except RecobroError as exc:
                return _json(exc.status, exc.body())
            except Exception:
                logger.exception("unhandled error", extra={"operation": op.operation_id})
                return _json(500, {"error": {"code": "internal_error", "message": "Something went wrong on our side."}})

        app.route(op.path, methods=[op.method], content_types=content_types)(chalice_view)
        return view

    return register


def _serve(op: Operation, view: View, path: dict[str, str]) -> Response:
    request = _request()
    merchant_id = "" if op.public else authenticate(request.headers.get("authorization"))
    query = parse_query(op.query, request.query_params or {}) if op.query else None
    if op.request is None:
        return _json(op.status, view(Call(merchant_id, path, None, query)))
    raw = decode_json(request.raw_body, request.headers.get("content-type"))
    body = schemas.parse(op.request, raw)

    def respond() -> dict[str, Any]:
        return {"status": op.status, "body": view(Call(merchant_id, path, body, query))}

    if op.method != "POST":
        result = respond()
    else:
        register_lambda_context(app.lambda_context)
        key = request.headers.get("idempotency-key")
        scope = ":".join([op.operation_id, *(f"{k}={v}" for k, v in sorted(path.items()))])
        result = run_once(merchant_id, scope, key, raw, respond)
    return _json(int(result["status"]), result["body"])


# ---------------------------------------------------------------- claims


@operation(
    Operation(
        "createClaim",
        "POST",
        "/v1/claims",
        "Create a claim: an unpaid order with its installments and debtor",
        "claims",
        status=201,
        request=schemas.ClaimCreate,
        response=ClaimOut,
        errors=(400, 401, 409),
    )
)
def create_claim(call: Call) -> dict[str, Any]:
    claim, debtor = service.create_claim(call.merchant_id, call.body)
    logger.info("claim created", extra={"merchant_id": call.merchant_id, "claim_id": claim.claim_id})
    return service.claim_view(claim, debtor)


@operation(Operation("getClaim", "GET", "/v1/claims/{claim_id}", "Retrieve a claim", "claims", response=ClaimOut))
def get_claim(call: Call) -> dict[str, Any]:
    claim = service.get_claim(call.merchant_id, call.path["claim_id"])
    return service.claim_view(claim, service.get_debtor(call.merchant_id, claim.debtor_id))


# ---------------------------------------------------------------- API keys and settings


# ---------------------------------------------------------------- webhooks


# ---------------------------------------------------------------- the document itself


@operation(
    Operation(
        "getOpenApi",
        "GET",
        "/v1/openapi.json",
        "This API's OpenAPI 3.1 document",
        "meta",
        public=True,
        errors=(),
    )
)
def get_openapi(call: Call) -> dict[str, Any]:
    return document()
