"""WebhookJobsQueue: publishing events (the core's seam) and (re-)enqueuing delivery jobs.

`publish` runs on the core's hot path after a state change has committed, so it does one
SendMessageBatch per 10 events, no DynamoDB reads, and never raises for an SQS failure: the
events are already in ClaimEventsTable and can be republished by a sweep.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from recobro.config import env
from recobro.webhooks.jobs import DeliveryJob, FanoutJob

if TYPE_CHECKING:
    from recobro.events import Event

logger = logging.getLogger("recobro.webhooks")

SQS_BATCH = 10


def jobs_queue_url() -> str:
    return env("WEBHOOK_JOBS_QUEUE_URL")


def dead_letter_queue_url() -> str:
    return env("WEBHOOK_JOBS_DLQ_URL")


@functools.lru_cache(maxsize=1)
def _sqs() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sqs", config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
    )


def publish(events: Sequence[Event]) -> None:
    """Enqueue one fan-out job per event; log (never raise) when SQS is unavailable."""
    if not events:
        return
    url = jobs_queue_url()
    if not url:
        logger.warning("webhooks: WEBHOOK_JOBS_QUEUE_URL is not set; %d event(s) not published", len(events))
        return
    jobs = [
        FanoutJob(merchant_id=e.merchant_id, event_id=e.id, event_type=e.type, envelope=e.envelope()) for e in events
    ]
    for start in range(0, len(jobs), SQS_BATCH):
        chunk = jobs[start : start + SQS_BATCH]
        try:
            response = _sqs().send_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "MessageBody": job.model_dump_json()} for i, job in enumerate(chunk)],
            )
        except Exception as exc:  # botocore's errors, timeouts: the events stay stored for a sweep
            logger.error(
                "webhooks: could not publish events %s (%s)",
                [job.event_id for job in chunk],
                type(exc).__name__,
            )
            continue
        for failure in response.get("Failed") or []:
            job = chunk[int(failure["Id"])]
            logger.error("webhooks: event %s not published (%s)", job.event_id, failure.get("Code"))


def send_delivery_jobs(jobs: Sequence[DeliveryJob], delay_seconds: int = 0) -> None:
    """Enqueue delivery jobs; raises on any failure so the caller's message is retried."""
    for start in range(0, len(jobs), SQS_BATCH):
        chunk = jobs[start : start + SQS_BATCH]
        response = _sqs().send_message_batch(
            QueueUrl=jobs_queue_url(),
            Entries=[
                {"Id": str(i), "MessageBody": job.model_dump_json(), "DelaySeconds": delay_seconds}
                for i, job in enumerate(chunk)
            ],
        )
        if response.get("Failed"):
            raise RuntimeError(f"SQS refused {len(response['Failed'])} delivery job(s)")


def send_to_dead_letter_queue(job: DeliveryJob, reason: str) -> None:
    _sqs().send_message(
        QueueUrl=dead_letter_queue_url(),
        MessageBody=job.model_dump_json(),
        MessageAttributes={"reason": {"DataType": "String", "StringValue": reason}},
    )
