"""message_sender: SQS consumer that sends each reminder job, reporting partial batch failures."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from recobro.reminders.jobs import ReminderJob
from recobro.reminders.sender import send_reminder

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)


class ReminderFailed(Exception):
    """A job failed; carries ids only, so batch failure reports never include addresses."""


def send_one(record: SQSRecord) -> dict[str, Any]:
    try:
        job = ReminderJob.model_validate_json(record.body)
    except ValueError:
        logger.error("malformed reminder job", extra={"sqs_message_id": record.message_id})
        raise ReminderFailed(f"malformed job {record.message_id}") from None
    try:
        outcome: dict[str, Any] = send_reminder(job)
    except Exception as exc:
        # Provider errors can quote recipient addresses: log and re-raise only ids and the type.
        logger.error("reminder failed", extra={"claim_id": job.claim_id, "error": type(exc).__name__})
        raise ReminderFailed(f"{job.claim_id} {job.message_id}: {type(exc).__name__}") from None
    logger.info("reminder processed", extra={"claim_id": job.claim_id, **outcome})
    return outcome


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=send_one, processor=processor, context=context)
