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


def send_one(record: SQSRecord) -> dict[str, Any]:
    job = ReminderJob.model_validate_json(record.body)
    outcome: dict[str, Any] = send_reminder(job)
    logger.info("reminder processed", extra={"claim_id": job.claim_id, **outcome})
    return outcome


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=send_one, processor=processor, context=context)
