"""The page's funnel: how many debtors reached each step, per merchant and UTC day.

Each step is one atomic ADD on the merchant's item for today (FunnelTable), so recording costs one
write and reading a month is one Query: no scans, no aggregation job. Steps are counted where the
truth is known: page views and verification on the page, payment success and failure in the
reconciler (Stripe's word, never the browser's), plans, promises, help and opt-outs where they
are stored. Counting never fails the action it counts: a lost increment is logged, not raised.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field
from pynamodb.exceptions import PynamoDBException

from recobro import clock
from recobro.errors import ValidationFailed
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


# ---------------------------------------------------------------- the merchant API's view

MAX_DAYS = 366


class FunnelQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: (
        Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="first UTC day, default 30 days ago")] | None
    ) = None
    until: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="last UTC day, default today")] | None = (
        None
    )


class FunnelDayOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: str
    page_view: int
    verification_passed: int
    verification_failed: int
    payment_started: int
    payment_succeeded: int
    payment_failed: int
    plan_started: int
    promise_made: int
    help_requested: int
    opted_out: int


class FunnelOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: Literal["list"] = "list"
    since: str
    until: str
    data: list[FunnelDayOut]


def funnel_view(merchant_id: str, query: FunnelQuery) -> dict[str, object]:
    today = clock.now().date()
    try:
        until = date.fromisoformat(query.until) if query.until else today
        since = date.fromisoformat(query.since) if query.since else until - timedelta(days=30)
    except ValueError:
        raise ValidationFailed("Dates are YYYY-MM-DD.", field="since" if query.since else "until") from None
    if since > until:
        raise ValidationFailed("since is after until.", field="since")
    if (until - since).days > MAX_DAYS:
        raise ValidationFailed(f"At most {MAX_DAYS} days at once.", field="since")
    return {
        "object": "list",
        "since": since.isoformat(),
        "until": until.isoformat(),
        "data": days(merchant_id, since, until),
    }
