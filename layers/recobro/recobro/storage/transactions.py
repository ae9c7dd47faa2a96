"""Running a list of writes as one DynamoDB transaction, and telling which condition failed."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite


@dataclass(frozen=True)
class Write:
    """Save `item` (with its version check, if it has one), or update it with `actions`."""

    item: Model
    condition: Condition | None = None
    actions: list[Any] = field(default_factory=list)
    add_version_condition: bool = True  # False: an update guarded by `condition` alone


class TransactionConflict(Exception):
    """A condition failed; `failed` holds the positions of the writes whose condition failed."""

    def __init__(self, failed: list[int]) -> None:
        super().__init__(f"conditions failed at {failed}")
        self.failed = failed


# DynamoDB cancels a transaction that races another on the same item ("TransactionConflict")
# even when every condition holds: that is worth a few quick retries, not an error.
RACE_RETRIES = 4


_local = threading.local()


def _connection() -> Connection:
    """One connection per thread: creating its botocore client costs ~100 ms, so never per write."""
    connection: Connection | None = getattr(_local, "connection", None)
    if connection is None:
        connection = _local.connection = Connection()
    return connection


def commit(writes: Sequence[Write]) -> None:
    for attempt in range(RACE_RETRIES + 1):
        try:
            with TransactWrite(connection=_connection()) as transaction:
                for write in writes:
                    if write.actions:
                        transaction.update(
                            write.item,
                            actions=write.actions,
                            condition=write.condition,
                            add_version_condition=write.add_version_condition,
                        )
                    else:
                        transaction.save(write.item, condition=write.condition)
            return
        except TransactWriteError as exc:
            reasons = [r.code if r else None for r in (exc.cancellation_reasons or [])]
            failed = [n for n, code in enumerate(reasons) if code == "ConditionalCheckFailed"]
            if failed:
                raise TransactionConflict(failed) from None
            if "TransactionConflict" in reasons and attempt < RACE_RETRIES:
                time.sleep(0.02 * 2**attempt * random.random())  # noqa: S311 - jitter
                continue
            raise
