"""Lambda's SQS event source mapping, locally: poll a queue in moto and feed batches to a handler.

Semantics follow Lambda: a batch is one invocation; with ReportBatchItemFailures only the records
not listed in batchItemFailures are deleted; if the handler raises, nothing is deleted. Failed
messages reappear after the queue's visibility timeout and moto moves them to the DLQ after
maxReceiveCount. Each poller reports busy/idle so POST /drain can wait for quiet.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

from infra.local.handlers import LoadedFunction, log_exception
from infra.local.template import REGION

log = logging.getLogger("infra.local.pollers")


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    records = []
    for message in messages:
        attributes = dict(message.get("Attributes") or {})
        message_attributes = {}
        for name, attr in (message.get("MessageAttributes") or {}).items():
            entry: dict[str, Any] = {
                "dataType": attr.get("DataType"),
                "stringListValues": attr.get("StringListValues", []),
                "binaryListValues": attr.get("BinaryListValues", []),
            }
            if "StringValue" in attr:
                entry["stringValue"] = attr["StringValue"]
            if "BinaryValue" in attr:
                entry["binaryValue"] = attr["BinaryValue"]
            message_attributes[name] = entry
        body = message.get("Body", "")
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": body,
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}


def failed_ids(result: Any) -> set[str] | None:
    """Message ids the handler reported as failed; None if the response is malformed (= all failed)."""
    if result is None:
        return set()
    if not isinstance(result, dict):
        return None
    failures = result.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    ids = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier:
            return None  # Lambda treats an empty/invalid identifier as a failed batch
        ids.add(str(identifier))
    return ids


class QueuePoller:
    """One thread per event source mapping."""

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        function: LoadedFunction,
        batch_size: int,
        report_batch_item_failures: bool,
        wait_seconds: int = 1,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.function = function
        self.batch_size = max(1, min(10, batch_size))
        self.report_batch_item_failures = report_batch_item_failures
        self.wait_seconds = wait_seconds
        self._stop = threading.Event()
        self._busy = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"poller-{function.spec.logical_id}", daemon=True)
        self.batches = 0
        self.errors = 0

    @property
    def busy(self) -> bool:
        return self._busy.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                self.errors += 1
                if self._stop.is_set():
                    return
                log_exception(f"poller for {self.function.spec.logical_id} on {self.queue_url}")
                self._stop.wait(1.0)

    def poll_once(self) -> int:
        """Receive one batch and process it; return the number of messages received."""
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages") or []
        if messages:
            # Busy until the batch is settled; until then moto also counts the batch as in flight.
            self._busy.set()
            try:
                self._process(messages)
            finally:
                self._busy.clear()
        return len(messages)

    def _process(self, messages: list[dict[str, Any]]) -> None:
        self.batches += 1
        event = sqs_event(messages, self.queue_arn)
        try:
            result = self.function.invoke(event)
        except Exception:
            self.errors += 1
            log_exception(f"{self.function.spec.logical_id} raised on a batch of {len(messages)}; nothing deleted")
            return
        if self.report_batch_item_failures:
            failed = failed_ids(result)
            if failed is None:
                log.warning(
                    "%s returned a malformed batch response; the whole batch will be retried",
                    self.function.spec.logical_id,
                )
                return
        else:
            failed = set()
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
