"""Stripe events that must wait for another (a refund or dispute before its payment).

Failing such an event back to SQS spends one of the queue's five receives per visibility
timeout, so a refund that arrives a quarter of an hour before its payment (a backlog replayed
after an outage, in any order) would end in the dead-letter queue. Instead the event is sent
again with a growing delay (30 s doubling to SQS's 15-minute maximum) and the attempt counted in a
message attribute; only after MAX_WAITS (about a day) does it fail for a human.
"""

from __future__ import annotations

import os

from recobro.payments import webhook

MAX_WAITS = 100
FIRST_DELAY_SECONDS = 30
MAX_DELAY_SECONDS = 900  # SQS's DelaySeconds limit


def delay_for(waits: int) -> int:
    """Seconds before the next look; RECOBRO_STRIPE_MAX_WAIT_SECONDS shortens it on the local stack."""
    ceiling = int(os.environ.get("RECOBRO_STRIPE_MAX_WAIT_SECONDS", str(MAX_DELAY_SECONDS)))
    growing: int = FIRST_DELAY_SECONDS * 2 ** min(waits, 10)
    return min(growing, MAX_DELAY_SECONDS, ceiling)


def wait_again(body: str, event_id: str | None, waits: int) -> bool:
    """Send the event back with a delay; False when it has waited long enough (let it fail)."""
    if waits >= MAX_WAITS or not webhook.queue_url():
        return False
    attributes = {"waits": {"DataType": "Number", "StringValue": str(waits + 1)}}
    if event_id:
        attributes["stripe_event_id"] = {"DataType": "String", "StringValue": event_id}
    webhook._sqs().send_message(
        QueueUrl=webhook.queue_url(),
        MessageBody=body,
        DelaySeconds=delay_for(waits),
        MessageAttributes=attributes,
    )
    return True
