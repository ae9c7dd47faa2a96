"""merchant_api: the public merchant API as a Chalice app (handler: app.app).

Thin: authenticate, decode, call recobro, shape the response. Every RecobroError becomes its
4xx body; anything else is logged (no PII) and answered with a generic 500 body.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from chalice.app import Chalice, Request, Response
from recobro.api.body import decode_json
from recobro.auth import authenticate
from recobro.claims import schemas, service
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


def api_view(view: Callable[..., Response]) -> Callable[..., Response]:
    """Turn domain errors into their 4xx bodies; anything unexpected into a bare 500."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return view(*args, **kwargs)
        except RecobroError as exc:
            return _json(exc.status, exc.body())
        except Exception:
            logger.exception("unhandled error", extra={"path": _request().path})
            return _json(500, {"error": {"code": "internal_error", "message": "Something went wrong on our side."}})

    return wrapper


def _request() -> Request:
    request = app.current_request
    assert request is not None  # Chalice sets it before any view runs
    return request


def _merchant() -> str:
    return authenticate(_request().headers.get("authorization"))


@app.route("/v1/claims", methods=["POST"], content_types=["application/json"])
@api_view
def create_claim() -> Response:
    merchant_id = _merchant()
    request = _request()
    body = decode_json(request.raw_body, request.headers.get("content-type"))

    def create() -> dict[str, Any]:
        claim, debtor = service.create_claim(merchant_id, schemas.parse(schemas.ClaimCreate, body))
        logger.info("claim created", extra={"merchant_id": merchant_id, "claim_id": claim.claim_id})
        return {"status": 201, "body": service.claim_view(claim, debtor)}

    register_lambda_context(app.lambda_context)
    result = run_once(merchant_id, "claims.create", request.headers.get("idempotency-key"), body, create)
    return _json(result["status"], result["body"])


@app.route("/v1/claims/{claim_id}", methods=["GET"])
@api_view
def get_claim(claim_id: str) -> Response:
    merchant_id = _merchant()
    claim = service.get_claim(merchant_id, claim_id)
    debtor = service.get_debtor(merchant_id, claim.debtor_id)
    return _json(200, service.claim_view(claim, debtor))
