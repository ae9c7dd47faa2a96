"""Webhook endpoints and deliveries as the merchant API sees them.

Every read starts from the merchant's id (the tables' hash key), so another merchant's endpoint
or delivery id is simply not found: a 404, never a 403. Secrets are returned by `create_endpoint`
only; `endpoint_view` has no secret field at all.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError
from pynamodb.expressions.condition import Condition

from recobro import clock
from recobro.errors import Conflict, NotFound
from recobro.ids import new_id
from recobro.storage.models import WebhookAttemptMap, WebhookDelivery, WebhookEndpoint
from recobro.webhooks import queue
from recobro.webhooks.jobs import DeliveryJob, FanoutJob
from recobro.webhooks.schemas import (
    WILDCARD,
    ListQuery,
    WebhookAttemptOut,
    WebhookDeliveryOut,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointOut,
)

MAX_ENDPOINTS_PER_MERCHANT = 16
DELIVERY_RETENTION = timedelta(days=30)
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
PING = "ping"

_ENDPOINT_ID = re.compile(r"^we_[0-9a-z]{20}$")
_DELIVERY_ID = re.compile(r"^dlv_[0-9a-z]{20}$")


def iso(moment: datetime) -> str:
    """UTC with microseconds, so keys built from it sort in creation order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _seconds_iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def endpoint_ref(merchant_id: str, endpoint_id: str) -> str:
    return f"{merchant_id}#{endpoint_id}"


# ---------------------------------------------------------------- endpoints


def endpoint_view(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return WebhookEndpointOut(
        id=endpoint.endpoint_id,
        url=endpoint.url,
        enabled_events=[str(name) for name in endpoint.enabled_events],
        description=endpoint.description,
        status="disabled" if endpoint.status == "disabled" else "enabled",
        created_at=str(_seconds_iso(endpoint.created_at)),
    ).model_dump()


def create_endpoint(merchant_id: str, body: WebhookEndpointCreate) -> dict[str, Any]:
    existing = WebhookEndpoint.count(merchant_id)
    if existing >= MAX_ENDPOINTS_PER_MERCHANT:
        raise Conflict(
            f"A merchant has at most {MAX_ENDPOINTS_PER_MERCHANT} webhook endpoints; delete one first.",
            code_override="endpoint_limit_reached",
        )
    endpoint = WebhookEndpoint(
        merchant_id=merchant_id,
        endpoint_id=new_id("we"),
        url=body.url,
        enabled_events=list(body.enabled_events),
        description=body.description,
        secret=SECRET_PREFIX + secrets.token_urlsafe(32),
        status="enabled",
        created_at=clock.now(),
    )
    endpoint.save(condition=WebhookEndpoint.endpoint_id.does_not_exist())
    return WebhookEndpointCreated(**endpoint_view(endpoint), secret=endpoint.secret).model_dump()


def get_endpoint(merchant_id: str, endpoint_id: str) -> WebhookEndpoint:
    if not _ENDPOINT_ID.match(endpoint_id):
        raise NotFound("No such webhook endpoint.", field="endpoint_id")
    try:
        return WebhookEndpoint.get(merchant_id, endpoint_id, consistent_read=True)
    except WebhookEndpoint.DoesNotExist:
        raise NotFound("No such webhook endpoint.", field="endpoint_id") from None


def list_endpoints(merchant_id: str) -> dict[str, Any]:
    endpoints = sorted(WebhookEndpoint.query(merchant_id), key=lambda e: e.created_at, reverse=True)
    return {"object": "list", "data": [endpoint_view(e) for e in endpoints], "has_more": False}


def delete_endpoint(merchant_id: str, endpoint_id: str) -> dict[str, Any]:
    endpoint = get_endpoint(merchant_id, endpoint_id)
    endpoint.delete()
    return {"id": endpoint.endpoint_id, "object": "webhook_endpoint", "deleted": True}


def subscribes(endpoint: WebhookEndpoint, event_type: str) -> bool:
    events = [str(name) for name in endpoint.enabled_events]
    return endpoint.status == "enabled" and (WILDCARD in events or event_type in events)


# ---------------------------------------------------------------- deliveries


def delivery_view(delivery: WebhookDelivery) -> dict[str, Any]:
    attempts = [
        WebhookAttemptOut(
            attempted_at=str(_seconds_iso(a.attempted_at)),
            status_code=None if a.status_code is None else int(a.status_code),
            error=a.error,
            duration_ms=int(a.duration_ms),
        )
        for a in delivery.attempts or []
    ]
    return WebhookDeliveryOut(
        id=delivery.delivery_id,
        endpoint_id=delivery.endpoint_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        mode="manual" if delivery.mode == "manual" else "automatic",
        status=delivery.status,  # type: ignore[arg-type]
        attempt_count=len(attempts),
        attempts=attempts,
        next_attempt_at=_seconds_iso(delivery.next_attempt_at),
        redelivery_of=delivery.redelivery_of,
        created_at=str(_seconds_iso(delivery.created_at)),
        updated_at=str(_seconds_iso(delivery.updated_at)),
    ).model_dump()


def new_delivery(
    endpoint: WebhookEndpoint,
    *,
    event_id: str,
    event_type: str,
    payload: str,
    mode: str,
    delivery_id: str | None = None,
    redelivery_of: str | None = None,
) -> WebhookDelivery:
    now = clock.now()
    delivery_id = delivery_id or new_id("dlv")
    return WebhookDelivery(
        merchant_id=endpoint.merchant_id,
        delivery_id=delivery_id,
        endpoint_id=endpoint.endpoint_id,
        endpoint_ref=endpoint_ref(endpoint.merchant_id, endpoint.endpoint_id),
        created_key=f"{iso(now)}#{delivery_id}",
        event_id=event_id,
        event_type=event_type,
        payload=payload,
        mode=mode,
        status="pending",
        attempts=[],
        next_attempt_at=now,
        redelivery_of=redelivery_of,
        created_at=now,
        updated_at=now,
        expires_at=int((now + DELIVERY_RETENTION).timestamp()),
    )


def fanout_delivery_id(endpoint_id: str, event_id: str) -> str:
    """The same event reaches the same endpoint through one delivery, however often it is fanned out."""
    return "dlv_" + hashlib.sha256(f"{endpoint_id}\x00{event_id}".encode()).hexdigest()[:20]


def body_of(envelope: dict[str, Any]) -> str:
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


def fan_out(job: FanoutJob, receive_count: int = 1) -> int:
    """Record one delivery per subscribed endpoint and enqueue their first attempts; return how many."""
    targets = [e for e in WebhookEndpoint.query(job.merchant_id) if subscribes(e, job.event_type)]
    payload = body_of(job.envelope)
    jobs: list[DeliveryJob] = []
    for endpoint in targets:
        delivery_id = fanout_delivery_id(endpoint.endpoint_id, job.event_id)
        delivery = new_delivery(
            endpoint,
            event_id=job.event_id,
            event_type=job.event_type,
            payload=payload,
            mode="automatic",
            delivery_id=delivery_id,
        )
        try:
            delivery.save(condition=WebhookDelivery.delivery_id.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            # Fanned out before. Only when this very message failed half-way (received again)
            # may the first attempt's job be missing: enqueue it again.
            if receive_count <= 1:
                continue
            existing = WebhookDelivery.get(job.merchant_id, delivery_id, consistent_read=True)
            if existing.status != "pending" or existing.attempts:
                continue
        jobs.append(DeliveryJob(merchant_id=job.merchant_id, delivery_id=delivery_id, attempt=1))
    queue.send_delivery_jobs(jobs)
    return len(jobs)


def get_delivery(merchant_id: str, delivery_id: str) -> WebhookDelivery:
    if not _DELIVERY_ID.match(delivery_id):
        raise NotFound("No such webhook delivery.", field="delivery_id")
    try:
        return WebhookDelivery.get(merchant_id, delivery_id, consistent_read=True)
    except WebhookDelivery.DoesNotExist:
        raise NotFound("No such webhook delivery.", field="delivery_id") from None


def list_deliveries(merchant_id: str, endpoint_id: str, query: ListQuery) -> dict[str, Any]:
    """An endpoint's deliveries newest first; `starting_after` is the last delivery id of the previous page."""
    endpoint = get_endpoint(merchant_id, endpoint_id)
    ref = endpoint_ref(merchant_id, endpoint.endpoint_id)
    condition: Condition | None = None
    if query.starting_after is not None:
        try:
            after = get_delivery(merchant_id, query.starting_after)
        except NotFound:
            raise NotFound("starting_after names no delivery of this endpoint.", field="starting_after") from None
        if after.endpoint_id != endpoint.endpoint_id:
            raise NotFound("starting_after names no delivery of this endpoint.", field="starting_after")
        condition = WebhookDelivery.created_key < after.created_key
    found = list(
        WebhookDelivery.by_endpoint.query(
            ref, range_key_condition=condition, scan_index_forward=False, limit=query.limit + 1
        )
    )
    page = found[: query.limit]
    return {"object": "list", "data": [delivery_view(d) for d in page], "has_more": len(found) > query.limit}


def _enqueue_manual(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> dict[str, Any]:
    delivery.save(condition=WebhookDelivery.delivery_id.does_not_exist())
    queue.send_delivery_jobs(
        [DeliveryJob(merchant_id=endpoint.merchant_id, delivery_id=delivery.delivery_id, attempt=1)]
    )
    return delivery_view(delivery)


def ping(merchant_id: str, endpoint_id: str) -> dict[str, Any]:
    """Send a `ping` event to the endpoint now (one attempt), whatever it subscribes to."""
    endpoint = get_endpoint(merchant_id, endpoint_id)
    event_id = new_id("evt")
    envelope = {
        "id": event_id,
        "object": "event",
        "type": PING,
        "created": int(clock.now().timestamp()),
        "data": {"object": {"id": endpoint.endpoint_id, "object": "webhook_endpoint"}},
    }
    delivery = new_delivery(endpoint, event_id=event_id, event_type=PING, payload=body_of(envelope), mode="manual")
    return _enqueue_manual(endpoint, delivery)


def redeliver(merchant_id: str, delivery_id: str) -> dict[str, Any]:
    """Send a delivery's exact body again, as a new delivery (one attempt), to the same endpoint."""
    original = get_delivery(merchant_id, delivery_id)
    try:
        endpoint = get_endpoint(merchant_id, original.endpoint_id)
    except NotFound:
        raise Conflict("The delivery's webhook endpoint was deleted.", code_override="endpoint_deleted") from None
    delivery = new_delivery(
        endpoint,
        event_id=original.event_id,
        event_type=original.event_type,
        payload=original.payload,
        mode="manual",
        redelivery_of=original.delivery_id,
    )
    return _enqueue_manual(endpoint, delivery)


def attempt_map(
    attempted_at: datetime, status_code: int | None, error: str | None, duration_ms: int
) -> WebhookAttemptMap:
    return WebhookAttemptMap(  # type: ignore[no-untyped-call]
        attempted_at=attempted_at, status_code=status_code, error=error, duration_ms=duration_ms
    )
