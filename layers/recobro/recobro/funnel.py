"""The page's funnel: how many debtors reached each step, per merchant and UTC day.

Each step is one atomic ADD on the merchant's item for today (FunnelTable), so recording costs one
write and reading a month is one Query: no scans, no aggregation job. Steps are counted where the
truth is known: page views and verification on the page, payment success and failure in the
reconciler (Stripe's word, never the browser's), plans, promises, help and opt-outs where they
are stored. Counting never fails the action it counts: a lost increment is logged, not raised.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from aws_lambda_powertools import Logger
from pynamodb.exceptions import PynamoDBException

from recobro import clock
from recobro.storage.models import FunnelDay

logger = Logger(child=True)

FunnelStep = Literal[
    "page_view",
    "verification_passed",
    "verification_failed",
    "payment_started",
    "payment_succeeded",
    "payment_failed",
    "plan_started",
    "promise_made",
    "help_requested",
    "opted_out",
]
STEPS: tuple[str, ...] = FunnelStep.__args__  # type: ignore[attr-defined]


def count(merchant_id: str, step: FunnelStep, amount: int = 1) -> None:
    """Add `amount` to today's (UTC) counter of `step` for the merchant: one UpdateItem."""
    day = clock.now().date().isoformat()
    attribute = getattr(FunnelDay, step)
    try:
        FunnelDay(merchant_id=merchant_id, day=day).update(actions=[attribute.add(amount)])
    except PynamoDBException:
        logger.exception("funnel counter not recorded", extra={"step": step})


def days(merchant_id: str, since: date, until: date) -> list[dict[str, object]]:
    """The merchant's counters for each day with any, oldest first: one Query (paged if large)."""
    rows = FunnelDay.query(merchant_id, FunnelDay.day.between(since.isoformat(), until.isoformat()))
    return [{"day": row.day, **{step: int(getattr(row, step) or 0) for step in STEPS}} for row in rows]
