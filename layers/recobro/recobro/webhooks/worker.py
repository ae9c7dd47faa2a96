"""What MerchantWebhooksFunction does with each job: fan out, wait (hop), or make one attempt.

A delivery job names the attempt it is meant to make; a job whose attempt is already recorded, or
whose delivery is no longer pending, is a duplicate and is dropped. Before a failed attempt is
saved, its follow-up is enqueued (or, once the 3-day window is spent, the job goes to the
dead-letter queue), so a crash in between repeats work rather than losing the delivery.
Concurrent duplicates are settled by the delivery's version: the loser stops.
Logs carry ids, event types and status codes only, never bodies, URLs or secrets.
"""

from __future__ import annotations

import logging
from typing import Any

from pynamodb.exceptions import PutError

from recobro import clock
from recobro.config import env
from recobro.storage.models import WebhookDelivery, WebhookEndpoint
from recobro.webhooks import backoff, http, queue, service
from recobro.webhooks.jobs import DeliveryJob, FanoutJob, parse_job

logger = logging.getLogger("recobro.webhooks")


def max_hop_seconds() -> int:
    """Longest single SQS delay; 900 in AWS, 1 locally so the travelling clock is noticed quickly."""
    try:
        value = int(env("RECOBRO_WEBHOOK_MAX_HOP_SECONDS", str(backoff.MAX_SQS_DELAY_SECONDS)))
    except ValueError:
        value = backoff.MAX_SQS_DELAY_SECONDS
    return max(1, min(value, backoff.MAX_SQS_DELAY_SECONDS))


def process(body: str, receive_count: int = 1) -> dict[str, Any]:
    job = parse_job(body)
    if isinstance(job, FanoutJob):
        count = service.fan_out(job, receive_count)
        return {"kind": "fanout", "event_id": job.event_id, "event_type": job.event_type, "deliveries": count}
    return deliver(job)


def deliver(job: DeliveryJob) -> dict[str, Any]:
    now = clock.now()
    outcome: dict[str, Any] = {"kind": "deliver", "delivery_id": job.delivery_id, "attempt": job.attempt}
    if job.not_before is not None and job.not_before > now:
        delay = backoff.hop_delay((job.not_before - now).total_seconds(), max_hop_seconds())
        queue.send_delivery_jobs([job.model_copy(update={"hops": job.hops + 1})], delay_seconds=delay)
        return {**outcome, "status": "waiting", "delay": delay}
    try:
        delivery = WebhookDelivery.get(job.merchant_id, job.delivery_id, consistent_read=True)
    except WebhookDelivery.DoesNotExist:
        return {**outcome, "status": "gone"}
    attempts = list(delivery.attempts or [])
    if delivery.status != "pending" or len(attempts) >= job.attempt:
        return {**outcome, "status": "duplicate"}
    try:
        endpoint: WebhookEndpoint | None = WebhookEndpoint.get(job.merchant_id, delivery.endpoint_id)
    except WebhookEndpoint.DoesNotExist:
        endpoint = None
    if endpoint is None:
        delivery.status = "failed"
        delivery.next_attempt_at = None
        delivery.updated_at = now
        _save(delivery)
        return {**outcome, "status": "endpoint_deleted"}

    result = http.post(endpoint.url, delivery.payload.encode("utf-8"), endpoint.secret, int(now.timestamp()))
    attempts.append(service.attempt_map(now, result.status_code, result.error, result.duration_ms))
    delivery.attempts = attempts
    delivery.updated_at = clock.now()
    outcome.update(endpoint_id=endpoint.endpoint_id, event_type=delivery.event_type, status_code=result.status_code)
    if result.succeeded:
        delivery.status = "succeeded"
        delivery.next_attempt_at = None
    elif delivery.mode == "manual":
        delivery.status = "failed"
        delivery.next_attempt_at = None
    else:
        following = backoff.next_attempt_at(delivery.created_at, len(attempts), delivery.updated_at)
        if following is None:
            delivery.status = "failed"
            delivery.next_attempt_at = None
            queue.send_to_dead_letter_queue(job, "retries_exhausted")
        else:
            delivery.next_attempt_at = following
            follow_up = DeliveryJob(
                merchant_id=job.merchant_id,
                delivery_id=job.delivery_id,
                attempt=len(attempts) + 1,
                not_before=following,
            )
            delay = backoff.hop_delay((following - delivery.updated_at).total_seconds(), max_hop_seconds())
            queue.send_delivery_jobs([follow_up], delay_seconds=delay)
    if not _save(delivery):
        return {**outcome, "status": "lost_race"}
    return {**outcome, "status": delivery.status, "error": result.error}


def _save(delivery: WebhookDelivery) -> bool:
    """Save under the version read; False when another worker saved first."""
    try:
        delivery.save()
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True
