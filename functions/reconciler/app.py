"""reconciler: SQS consumer applying verified Stripe events to claims, reporting partial failures.

An event that must wait (a refund before its payment) is sent back to the queue with a growing
delay (recobro.payments.waiting) and counts as handled; one that keeps failing reaches
StripeEventsDLQ.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from recobro.payments import waiting
from recobro.payments.reconcile import NotReadyYet, apply

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)


class ReconcileFailed(Exception):
    """Carries ids only, so batch failure reports never include payment data."""


def reconcile_one(record: SQSRecord) -> str:
    try:
        event = json.loads(record.body)
    except ValueError:
        logger.error("malformed stripe event", extra={"sqs_message_id": record.message_id})
        raise ReconcileFailed(f"malformed message {record.message_id}") from None
    event_id = event.get("id") if isinstance(event, dict) else None
    try:
        outcome = apply(event)
    except NotReadyYet as wait:
        attribute = record.raw_event.get("messageAttributes", {}).get("waits") or {}
        waits = int(attribute.get("stringValue") or 0)
        if waiting.wait_again(record.body, event_id if isinstance(event_id, str) else None, waits):
            logger.info("stripe event waits for another", extra={"stripe_event_id": event_id, "waits": waits + 1})
            return "waiting"
        raise ReconcileFailed(str(wait)) from None
    except Exception as exc:
        logger.error("stripe event failed", extra={"stripe_event_id": event_id, "error": type(exc).__name__})
        raise ReconcileFailed(f"{event_id}: {type(exc).__name__}") from None
    logger.info("stripe event reconciled", extra={"stripe_event_id": event_id, "outcome": outcome})
    return outcome


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=reconcile_one, processor=processor, context=context)
