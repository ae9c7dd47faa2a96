"""merchant_webhooks: SQS consumer that fans events out and delivers signed webhooks, with retries."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from recobro.webhooks.worker import process

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)


def handle_one(record: SQSRecord) -> dict[str, Any]:
    receive_count = int(record.attributes.approximate_receive_count or 1)
    outcome = process(record.body, receive_count)
    logger.info("webhook job processed", extra=outcome)  # ids, types and status codes only
    return outcome


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_one, processor=processor, context=context)
