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
from recobro.claims import actions, bulk, debtors, ledger, listing, schemas, service, timeline
from recobro.claims.bulk import BulkClaimsIn, BulkClaimsOut
from recobro.claims.debtors import DebtorOut, DebtorUpdate, OptOutIn
from recobro.claims.listing import ClaimList, ClaimListQuery
from recobro.claims.payment_schemas import (
    ActionOptionalReason,
    ActionWithReason,
    LedgerList,
    PaymentIn,
    PaymentOut,
    RefundIn,
    RefundOut,
)
from recobro.claims.timeline import Timeline
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


@dataclass(frozen=True)
class Answer:
    """A view's body sent with one of its operation's other_statuses (201 created / 200 replaced)."""

    status: int
    body: Any


View = Callable[[Call], Any]


def _request() -> Request:
    request = app.current_request
    assert request is not None  # Chalice sets it before any view runs
    return request


def operation(op: Operation) -> Callable[[View], View]:
    """Declare `op` in the contract and serve it with `view`."""
    declare(op)

    def register(view: View) -> View:
        # Chalice would refuse other media types itself; decode_json does it in our error shape,
        # and only for operations that take a body (a GET with any Content-Type is fine).
        content_types = ["*/*"]

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


def _status_and_body(op: Operation, result: Any) -> tuple[int, Any]:
    if isinstance(result, Answer):
        if result.status != op.status and result.status not in op.other_statuses:
            raise ValueError(f"{op.operation_id} does not declare status {result.status}")
        return result.status, result.body
    return op.status, result


def _serve(op: Operation, view: View, path: dict[str, str]) -> Response:
    request = _request()
    merchant_id = "" if op.public else authenticate(request.headers.get("authorization"))
    query = parse_query(op.query, request.query_params or {}) if op.query else None
    if op.request is None:
        return _json(*_status_and_body(op, view(Call(merchant_id, path, None, query))))
    nothing_required = not any(field.is_required() for field in op.request.model_fields.values())
    if nothing_required and not (request.raw_body or b"").strip():
        raw: Any = {}  # e.g. POST .../resume with no body
    else:
        raw = decode_json(request.raw_body, request.headers.get("content-type"))
    body = schemas.parse(op.request, raw)

    def respond() -> dict[str, Any]:
        status, answer = _status_and_body(op, view(Call(merchant_id, path, body, query)))
        return {"status": status, "body": answer}

    if op.method != "POST":
        result = respond()
    else:
        register_lambda_context(app.lambda_context)
        key = request.headers.get("idempotency-key")
        scope = ":".join([op.operation_id, *(f"{k}={v}" for k, v in sorted(path.items()))])
        result = run_once(merchant_id, scope, key, raw, respond)
    return _json(int(result["status"]), result["body"])


# ---------------------------------------------------------------- claims

CLAIM_EXAMPLE: dict[str, Any] = {
    "external_id": "order-10023",
    "currency": "EUR",
    "description": "Zapatillas Runner X",
    "debtor": {
        "external_id": "cust-77",
        "name": "Lucía Pérez",
        "email": "lucia@example.com",
        "phone": "+34600111222",
        "locale": "es-ES",
        "timezone": "Europe/Madrid",
        "date_of_birth": "1990-04-12",
        "postal_code": "28013",
    },
    "installments": [
        {"number": 1, "due_date": "2026-10-01", "amount": 2500},
        {"number": 2, "due_date": "2026-11-01", "amount": 2500},
    ],
    "metadata": {"channel": "web"},
}


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
        example=CLAIM_EXAMPLE,
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


@operation(
    Operation(
        "listClaims",
        "GET",
        "/v1/claims",
        "List claims, newest first, with filters and cursor pagination",
        "claims",
        query=ClaimListQuery,
        response=ClaimList,
        errors=(400, 401, 404),
    )
)
def list_claims(call: Call) -> dict[str, Any]:
    return listing.list_claims(call.merchant_id, call.query)


@operation(
    Operation(
        "createClaimsInBulk",
        "POST",
        "/v1/claims/bulk",
        "Create up to 500 claims; each item gets its own result",
        "claims",
        request=BulkClaimsIn,
        response=BulkClaimsOut,
        errors=(400, 401),
        example={"claims": [CLAIM_EXAMPLE]},
    )
)
def create_claims_in_bulk(call: Call) -> dict[str, Any]:
    return bulk.create_many(call.merchant_id, call.body)


def _claim_action(action: str, summary: str, operation_id: str, reason_required: bool) -> None:
    request = ActionWithReason if reason_required else ActionOptionalReason
    example = {"reason": "customer asked for a week to pay"} if reason_required else {}

    @operation(
        Operation(
            operation_id,
            "POST",
            f"/v1/claims/{{claim_id}}/{action.replace('_', '-')}",
            summary,
            "claims",
            request=request,
            example=example,
            response=ClaimOut,
            errors=(400, 401, 404, 409),
        )
    )
    def view(call: Call) -> dict[str, Any]:
        claim = actions.act(call.merchant_id, call.path["claim_id"], action, call.body.reason)
        return service.claim_view(claim, service.get_debtor(call.merchant_id, claim.debtor_id))

    view.__name__ = operation_id


_claim_action("pause", "Pause collection of a claim, with a reason", "pauseClaim", True)
_claim_action("resume", "Resume collection of a paused claim", "resumeClaim", False)
_claim_action("cancel", "Cancel a claim: it no longer represents a debt", "cancelClaim", True)
_claim_action("write_off", "Write a claim off: stop collecting, keep accepting payments", "writeOffClaim", True)


@operation(
    Operation(
        "getClaimTimeline",
        "GET",
        "/v1/claims/{claim_id}/timeline",
        "Everything that happened to a claim, in order",
        "claims",
        response=Timeline,
    )
)
def get_claim_timeline(call: Call) -> dict[str, Any]:
    return timeline.claim_timeline(call.merchant_id, call.path["claim_id"])


@operation(
    Operation(
        "recordPayment",
        "POST",
        "/v1/claims/{claim_id}/payments",
        "Record a payment made elsewhere; allocated to the oldest open installment first",
        "payments",
        status=201,
        request=PaymentIn,
        response=PaymentOut,
        errors=(400, 401, 404, 409),
        description="Idempotent per external_reference: the same reference and amount return the first result.",
        example={
            "amount": 2500,
            "currency": "EUR",
            "external_reference": "bank-transfer-8812",
            "paid_at": "2026-11-20T10:00:00Z",
        },
    )
)
def record_payment(call: Call) -> dict[str, Any]:
    return ledger.record_payment(call.merchant_id, call.path["claim_id"], call.body)


@operation(
    Operation(
        "listPayments",
        "GET",
        "/v1/claims/{claim_id}/payments",
        "The claim's ledger: payments made elsewhere and refunds, oldest first",
        "payments",
        response=LedgerList,
    )
)
def list_payments(call: Call) -> dict[str, Any]:
    return {"object": "list", "data": ledger.ledger(call.merchant_id, call.path["claim_id"])}


@operation(
    Operation(
        "recordRefund",
        "POST",
        "/v1/claims/{claim_id}/refunds",
        "Record a refund of a payment; takes back credit first, then the newest installments",
        "payments",
        status=201,
        request=RefundIn,
        response=RefundOut,
        errors=(400, 401, 404, 409),
        example={
            "payment_reference": "bank-transfer-8812",
            "amount": 500,
            "external_reference": "refund-8812-1",
            "reason": "returned item",
        },
    )
)
def record_refund(call: Call) -> dict[str, Any]:
    return ledger.record_refund(call.merchant_id, call.path["claim_id"], call.body)


@operation(
    Operation(
        "updateClaimDebtor",
        "PATCH",
        "/v1/claims/{claim_id}/debtor",
        "Correct the contact data of a claim's debtor",
        "debtors",
        request=DebtorUpdate,
        response=DebtorOut,
        example={"email": "lucia.perez@example.com", "locale": "es-ES"},
    )
)
def update_claim_debtor(call: Call) -> dict[str, Any]:
    return debtors.debtor_view(debtors.update_claim_debtor(call.merchant_id, call.path["claim_id"], call.body))


# ---------------------------------------------------------------- debtors


@operation(Operation("getDebtor", "GET", "/v1/debtors/{debtor_id}", "Retrieve a debtor", "debtors", response=DebtorOut))
def get_debtor(call: Call) -> dict[str, Any]:
    return debtors.debtor_view(service.get_debtor(call.merchant_id, call.path["debtor_id"]))


@operation(
    Operation(
        "updateDebtor",
        "PATCH",
        "/v1/debtors/{debtor_id}",
        "Update a debtor's contact data, language or timezone",
        "debtors",
        request=DebtorUpdate,
        response=DebtorOut,
        example={"phone": "+34600111333", "timezone": "Europe/Madrid"},
    )
)
def update_debtor(call: Call) -> dict[str, Any]:
    return debtors.debtor_view(debtors.update_debtor(call.merchant_id, call.path["debtor_id"], call.body))


@operation(
    Operation(
        "optOutDebtor",
        "POST",
        "/v1/debtors/{debtor_id}/opt-outs",
        "Record that a debtor opted out of a channel",
        "debtors",
        request=OptOutIn,
        response=DebtorOut,
        example={"channel": "sms", "reason": "asked by phone"},
    )
)
def opt_out_debtor(call: Call) -> dict[str, Any]:
    return debtors.debtor_view(debtors.opt_out(call.merchant_id, call.path["debtor_id"], call.body))


@operation(
    Operation(
        "optInDebtor",
        "DELETE",
        "/v1/debtors/{debtor_id}/opt-outs/{channel}",
        "Remove an opt-out the debtor asked to undo",
        "debtors",
        response=DebtorOut,
        errors=(400, 401, 404, 409),
    )
)
def opt_in_debtor(call: Call) -> dict[str, Any]:
    return debtors.debtor_view(debtors.opt_in(call.merchant_id, call.path["debtor_id"], call.path["channel"]))


# ---------------------------------------------------------------- API keys and settings

from recobro import auth, settings  # noqa: E402 - kept with the views that use them


@operation(
    Operation(
        "listApiKeys",
        "GET",
        "/v1/api_keys",
        "List your API keys (never their secrets), newest first",
        "api_keys",
        response=auth.ApiKeyList,
        errors=(401,),
    )
)
def list_api_keys(call: Call) -> dict[str, Any]:
    return auth.list_keys(call.merchant_id)


@operation(
    Operation(
        "createApiKey",
        "POST",
        "/v1/api_keys",
        "Create an API key; its secret is shown in this response only",
        "api_keys",
        status=201,
        request=auth.ApiKeyCreate,
        example={"description": "CI deploys"},
        response=auth.ApiKeyCreated,
        errors=(400, 401, 409),
    )
)
def create_api_key(call: Call) -> dict[str, Any]:
    created = auth.create_key(call.merchant_id, call.body)
    logger.info("api key created", extra={"merchant_id": call.merchant_id, "key_id": created["id"]})
    return created


@operation(
    Operation(
        "rollApiKey",
        "POST",
        "/v1/api_keys/{key_id}/roll",
        "Replace a key: a new key now, the old one working for expires_in_hours more",
        "api_keys",
        status=201,
        request=auth.ApiKeyRoll,
        example={"expires_in_hours": 24},
        response=auth.ApiKeyRolled,
        errors=(400, 401, 404, 409),
    )
)
def roll_api_key(call: Call) -> dict[str, Any]:
    rolled = auth.roll_key(call.merchant_id, call.path["key_id"], call.body)
    logger.info("api key rolled", extra={"merchant_id": call.merchant_id, "key_id": call.path["key_id"]})
    return rolled


@operation(
    Operation(
        "revokeApiKey",
        "POST",
        "/v1/api_keys/{key_id}/revoke",
        "Revoke a key: it fails from the next request on",
        "api_keys",
        request=auth.ApiKeyRevoke,
        example={},
        response=auth.ApiKeyOut,
        errors=(400, 401, 404, 409),
        extra_responses={409: "This is the merchant's last key that does not expire."},
    )
)
def revoke_api_key(call: Call) -> dict[str, Any]:
    revoked = auth.revoke_key(call.merchant_id, call.path["key_id"])
    logger.info("api key revoked", extra={"merchant_id": call.merchant_id, "key_id": call.path["key_id"]})
    return revoked


@operation(
    Operation(
        "getSettings",
        "GET",
        "/v1/settings",
        "Your branding and collection settings, defaults filled in",
        "settings",
        response=settings.MerchantSettings,
        errors=(401, 404),
    )
)
def get_settings(call: Call) -> dict[str, Any]:
    return settings.get_settings(call.merchant_id)


@operation(
    Operation(
        "updateSettings",
        "PATCH",
        "/v1/settings",
        "Change some settings; fields left out keep their values, null clears an optional one",
        "settings",
        request=settings.SettingsPatch,
        example={"brand_color": "#0F766E", "plan_rules": {"max_installments": 12}},
        response=settings.MerchantSettings,
        errors=(400, 401, 404, 409),
    )
)
def update_settings(call: Call) -> dict[str, Any]:
    return settings.update_settings(call.merchant_id, call.body)


# ---------------------------------------------------------------- funnel

from recobro import funnel  # noqa: E402 - kept with the view that uses it


@operation(
    Operation(
        "getFunnel",
        "GET",
        "/v1/funnel",
        "How many debtors reached each step of the payment page, per UTC day",
        "funnel",
        query=funnel.FunnelQuery,
        response=funnel.FunnelOut,
        errors=(400, 401),
    )
)
def get_funnel(call: Call) -> dict[str, Any]:
    return funnel.funnel_view(call.merchant_id, call.query)


# ---------------------------------------------------------------- webhooks

from recobro.webhooks import schemas as wh  # noqa: E402 - kept with the views that use them
from recobro.webhooks import service as webhooks  # noqa: E402


@operation(
    Operation(
        "createWebhookEndpoint",
        "POST",
        "/v1/webhook_endpoints",
        "Register a webhook endpoint; its signing secret is shown in this response only",
        "webhooks",
        status=201,
        request=wh.WebhookEndpointCreate,
        response=wh.WebhookEndpointCreated,
        errors=(400, 401, 409),
        example={
            "url": "https://example.com/hooks/recobro",
            "enabled_events": ["claim.created", "claim.paid", "payment.succeeded"],
            "description": "Order system",
        },
    )
)
def create_webhook_endpoint(call: Call) -> dict[str, Any]:
    created = webhooks.create_endpoint(call.merchant_id, call.body)
    logger.info("webhook endpoint created", extra={"merchant_id": call.merchant_id, "endpoint_id": created["id"]})
    return created


@operation(
    Operation(
        "listWebhookEndpoints",
        "GET",
        "/v1/webhook_endpoints",
        "List your webhook endpoints (never their secrets), newest first",
        "webhooks",
        response=wh.WebhookEndpointList,
        errors=(401,),
    )
)
def list_webhook_endpoints(call: Call) -> dict[str, Any]:
    return webhooks.list_endpoints(call.merchant_id)


@operation(
    Operation(
        "getWebhookEndpoint",
        "GET",
        "/v1/webhook_endpoints/{endpoint_id}",
        "Retrieve a webhook endpoint (without its secret)",
        "webhooks",
        response=wh.WebhookEndpointOut,
    )
)
def get_webhook_endpoint(call: Call) -> dict[str, Any]:
    return webhooks.endpoint_view(webhooks.get_endpoint(call.merchant_id, call.path["endpoint_id"]))


@operation(
    Operation(
        "deleteWebhookEndpoint",
        "DELETE",
        "/v1/webhook_endpoints/{endpoint_id}",
        "Delete a webhook endpoint; deliveries still pending for it stop",
        "webhooks",
        response=wh.WebhookEndpointDeleted,
    )
)
def delete_webhook_endpoint(call: Call) -> dict[str, Any]:
    return webhooks.delete_endpoint(call.merchant_id, call.path["endpoint_id"])


@operation(
    Operation(
        "pingWebhookEndpoint",
        "POST",
        "/v1/webhook_endpoints/{endpoint_id}/ping",
        "Send a signed `ping` event to the endpoint now (one attempt)",
        "webhooks",
        status=202,
        response=wh.WebhookDeliveryOut,
    )
)
def ping_webhook_endpoint(call: Call) -> dict[str, Any]:
    return webhooks.ping(call.merchant_id, call.path["endpoint_id"])


@operation(
    Operation(
        "listWebhookDeliveries",
        "GET",
        "/v1/webhook_endpoints/{endpoint_id}/deliveries",
        "List an endpoint's deliveries with their attempts, newest first",
        "webhooks",
        query=wh.ListQuery,
        response=wh.WebhookDeliveryList,
    )
)
def list_webhook_deliveries(call: Call) -> dict[str, Any]:
    return webhooks.list_deliveries(call.merchant_id, call.path["endpoint_id"], call.query)


@operation(
    Operation(
        "redeliverWebhook",
        "POST",
        "/v1/webhook_deliveries/{delivery_id}/redeliver",
        "Send a delivery's event again, as a new delivery (one attempt)",
        "webhooks",
        status=202,
        response=wh.WebhookDeliveryOut,
        errors=(400, 401, 404, 409),
    )
)
def redeliver_webhook(call: Call) -> dict[str, Any]:
    return webhooks.redeliver(call.merchant_id, call.path["delivery_id"])


# ---------------------------------------------------------------- strategies

from recobro.strategies import api as strategies  # noqa: E402 - kept with the views that use them
from recobro.strategies.store import AssignmentsIn, MigrateIn  # noqa: E402

STRATEGY_EXAMPLE_YAML = """name: gentle
description: A reminder before the due date, then email and SMS.
steps:
  - day: -3
    channel: email
    early_payment_offer: {discount_percent: 2}
    variants:
      - {template: reminder, control: true}
  - day: 3
    channel: sms
    conditions:
      channel_available: {eq: sms}
      amount_due: {gte: 2000}
    variants:
      - {template: reminder, control: true}
"""


@operation(
    Operation(
        "putStrategy",
        "PUT",
        "/v1/strategies/{name}",
        "Save a strategy as code; a new version only if the YAML changed",
        "strategies",
        request=strategies.StrategyIn,
        response=strategies.StrategyOut,
        errors=(400, 401),
        description="The body carries the YAML as a JSON string. A 400 names the line and column of the first "
        "problem (`error.line`, `error.column`) and lists every problem in `error.errors`. Saved versions never "
        "change; the document's `name` must equal the one in the path.",
        example={"yaml": STRATEGY_EXAMPLE_YAML.replace("name: gentle", "name: example")},
    )
)
def put_strategy(call: Call) -> dict[str, Any]:
    saved = strategies.put_strategy(call.merchant_id, call.path["name"], call.body)
    logger.info("strategy saved", extra={"merchant_id": call.merchant_id, "version": saved["version"]})
    return saved


@operation(
    Operation(
        "getStrategy",
        "GET",
        "/v1/strategies/{name}",
        "A strategy's latest version, or the one asked for with ?version=",
        "strategies",
        query=strategies.VersionQuery,
        response=strategies.StrategyOut,
    )
)
def get_strategy(call: Call) -> dict[str, Any]:
    return strategies.get_strategy(call.merchant_id, call.path["name"], call.query)


@operation(
    Operation(
        "listStrategyVersions",
        "GET",
        "/v1/strategies/{name}/versions",
        "A strategy's versions, newest first",
        "strategies",
        query=strategies.VersionsQuery,
        response=strategies.VersionList,
    )
)
def list_strategy_versions(call: Call) -> dict[str, Any]:
    return strategies.list_versions(call.merchant_id, call.path["name"], call.query)


@operation(
    Operation(
        "simulateStrategy",
        "POST",
        "/v1/strategies/{name}/simulate",
        "What a strategy would send to your newest claims, or to a generated sample, and what guardrails hold back",
        "strategies",
        request=strategies.SimulateIn,
        response=strategies.SimulationOut,
        example={"claims": 20},
    )
)
def simulate_strategy(call: Call) -> dict[str, Any]:
    return strategies.simulate_strategy(call.merchant_id, call.path["name"], call.body)


@operation(
    Operation(
        "migrateStrategyClaims",
        "POST",
        "/v1/strategies/{name}/migrate",
        "Move claims to a version of this strategy (the latest by default)",
        "strategies",
        request=MigrateIn,
        response=strategies.MigrationOut,
        example={"claim_ids": ["clm_0123456789abcdef"]},
    )
)
def migrate_strategy_claims(call: Call) -> dict[str, Any]:
    return strategies.migrate(call.merchant_id, call.path["name"], call.body)


@operation(
    Operation(
        "getStrategyAssignments",
        "GET",
        "/v1/strategy_assignments",
        "Which strategy new claims of each segment enrol under",
        "strategies",
        response=strategies.AssignmentsOut,
        errors=(401,),
    )
)
def get_strategy_assignments(call: Call) -> dict[str, Any]:
    return strategies.get_assignments(call.merchant_id)


@operation(
    Operation(
        "putStrategyAssignments",
        "PUT",
        "/v1/strategy_assignments",
        "Replace the assignment rules: segment -> strategy, and the strategy for every other segment",
        "strategies",
        request=AssignmentsIn,
        response=strategies.AssignmentsOut,
        errors=(400, 401),
        example={"default_strategy": "default", "rules": [{"segment": "vip", "strategy": "default"}]},
    )
)
def put_strategy_assignments(call: Call) -> dict[str, Any]:
    return strategies.put_assignments(call.merchant_id, call.body)


# ---------------------------------------------------------------- message templates

from recobro.channels import templates_api  # noqa: E402 - kept with the views that use them


@operation(
    Operation(
        "putTemplate",
        "PUT",
        "/v1/templates/{channel}/{name}",
        "Save your own message template for a channel: a text per language (es, en, pt-BR)",
        "templates",
        status=201,
        other_statuses={200: "Replaced: the template existed and now has these texts."},
        request=templates_api.TemplateIn,
        response=templates_api.TemplateOut,
        errors=(400, 401, 409),
        description="Texts may use only the documented variables (`GET /v1/templates` lists them), `if`/`else` "
        "and a few string filters. SMS and WhatsApp texts must use `payment_url` and `opt_out_text`; an email "
        "body must use `payment_url`, and we add the unsubscribe link. A 400 names the field (`texts.es`) and "
        "`error.line`, and lists every problem in `error.errors`. Built-in names such as `reminder` are reserved. "
        "Strategy variants name templates by `name` for the step's channel.",
        example={
            "texts": {
                "es": "Hola {{ debtor_first_name }}, {{ merchant_name }}: tienes {{ amount_due }} pendiente. "
                "Paga aquí: {{ payment_url }} {{ opt_out_text }}.",
                "en": "Hi {{ debtor_first_name }}, {{ merchant_name }} here: {{ amount_due }} is outstanding. "
                "Pay here: {{ payment_url }} {{ opt_out_text }}.",
            }
        },
    )
)
def put_template(call: Call) -> Answer:
    saved, created = templates_api.put_template(call.merchant_id, call.path["channel"], call.path["name"], call.body)
    logger.info("template saved", extra={"merchant_id": call.merchant_id, "new_template": created})
    return Answer(201 if created else 200, saved)


@operation(
    Operation(
        "getTemplate",
        "GET",
        "/v1/templates/{channel}/{name}",
        "One of your templates, or a built-in one",
        "templates",
        response=templates_api.TemplateOut,
    )
)
def get_template(call: Call) -> dict[str, Any]:
    return templates_api.get_template(call.merchant_id, call.path["channel"], call.path["name"])


@operation(
    Operation(
        "listTemplates",
        "GET",
        "/v1/templates",
        "Your templates and the built-in ones, with the variables a template may use",
        "templates",
        response=templates_api.TemplateList,
        errors=(401,),
    )
)
def list_templates(call: Call) -> dict[str, Any]:
    return templates_api.list_templates(call.merchant_id)


@operation(
    Operation(
        "previewTemplate",
        "POST",
        "/v1/templates/{channel}/{name}/preview",
        "What a debtor would read, in every language of the template, with sample values",
        "templates",
        request=templates_api.PreviewIn,
        response=templates_api.PreviewOut,
        description="An empty body previews the saved (or built-in) template; `texts` (and `subjects`) preview a "
        "draft without saving it. SMS previews count the parts against your `max_sms_segments`.",
        example={},
    )
)
def preview_template(call: Call) -> dict[str, Any]:
    return templates_api.preview_template(call.merchant_id, call.path["channel"], call.path["name"], call.body)


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
    # Behind API Gateway's own domain the stage ("/live") prefixes every path; locally nothing does.
    event = _request().to_original_event()
    full_path = str(event.get("requestContext", {}).get("path") or event.get("path") or "")
    prefix = full_path[: -len(event.get("path") or "")] if full_path.endswith(event.get("path") or "") else ""
    return document(server_url=prefix or "/")
