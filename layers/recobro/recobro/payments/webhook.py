"""Receiving Stripe's webhooks: verify the signature, store the event id once, enqueue, answer fast.

Nothing is stored for a request whose signature fails. The event body goes onto StripeEventsQueue
as received (Stripe events are a few KB; SQS takes 256 KB) so the reconciler needs no extra read.
A duplicate id answers 200 without enqueueing again, unless the first copy was received a while
ago and is still not applied (its enqueue may have been lost): then it is enqueued once more,
which is harmless because applying is idempotent.
"""

from __future__ import annotations

import functools
import os
from datetime import timedelta
from typing import Any

import stripe
from aws_lambda_powertools import Logger
from pynamodb.exceptions import PutError

from recobro import clock
from recobro.errors import RecobroError
from recobro.payments.mapping import HANDLED_TYPES
from recobro.secret_store import read_secret
from recobro.storage.models import StripeEvent

logger = Logger(child=True)

EVENT_RETENTION = timedelta(days=30)
REENQUEUE_AFTER = timedelta(minutes=5)


class InvalidSignature(RecobroError):
    status = 400
    code = "invalid_signature"


@functools.lru_cache(maxsize=1)
def _secret() -> str:
    return read_secret("STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET_PARAMETER")


@functools.lru_cache(maxsize=1)
def _sqs() -> Any:
    import boto3

    return boto3.client("sqs")


def queue_url() -> str:
    return os.environ.get("STRIPE_EVENTS_QUEUE_URL", "")


def verify(payload: str, signature: str | None) -> dict[str, Any]:
    if not signature:
        raise InvalidSignature("The Stripe-Signature header is missing.")
    try:
        event = stripe.Webhook.construct_event(payload, signature, _secret())
    except (ValueError, stripe.SignatureVerificationError):
        raise InvalidSignature("The Stripe-Signature header does not match this payload.") from None
    body: dict[str, Any] = event.to_dict()
    if not isinstance(body.get("id"), str) or not isinstance(body.get("type"), str):
        raise InvalidSignature("Not a Stripe event.")
    return body


def _enqueue(event_id: str, payload: str) -> None:
    _sqs().send_message(
        QueueUrl=queue_url(),
        MessageBody=payload,
        MessageAttributes={"stripe_event_id": {"DataType": "String", "StringValue": event_id}},
    )


def receive(payload: str, signature: str | None) -> dict[str, Any]:
    """Handle one webhook request; raise InvalidSignature for a 400."""
    event = verify(payload, signature)
    event_id, event_type = event["id"], event["type"]
    if event_type not in HANDLED_TYPES:
        return {"received": True, "handled": False}
    now = clock.now()
    marker = StripeEvent(
        pk=f"event#{event_id}",
        type=event_type,
        received_at=now,
        expires_at=int((now + EVENT_RETENTION).timestamp()),
    )
    try:
        marker.save(condition=StripeEvent.pk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return _duplicate(event_id, payload)
    try:
        _enqueue(event_id, payload)
    except Exception:
        marker.delete()  # let Stripe's retry find no record and try again
        raise
    logger.info("stripe event received", extra={"stripe_event_id": event_id, "type": event_type})
    return {"received": True, "handled": True}


def _duplicate(event_id: str, payload: str) -> dict[str, Any]:
    try:
        stored = StripeEvent.get(f"event#{event_id}", consistent_read=True)
    except StripeEvent.DoesNotExist:
        return {"received": True, "duplicate": True}
    stale = stored.received_at is None or clock.now() - stored.received_at > REENQUEUE_AFTER
    if stored.applied_at is None and stale:
        _enqueue(event_id, payload)
        logger.info("stale stripe event enqueued again", extra={"stripe_event_id": event_id})
    return {"received": True, "duplicate": True}
