"""A debtor's promise to pay a sum by a date, made on the page.

A promise pauses reminders until the morning after its date (recobro.claims.service's
`promise_pause_until`). Whether it was kept needs no job: it is kept once the claim has received the
promised amount since it was made, broken when its date has passed without that, and a new
promise replaces an old one. The merchant sets the longest promise (plan_rules.max_days_to_promise)
and the least amount (plan_rules.min_payment_amount, or the whole balance if that is less).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from recobro import clock, events
from recobro.claims import lifecycle
from recobro.claims.changes import change_claim
from recobro.claims.service import amount_due, event_data, schedule_next_reminder
from recobro.errors import Conflict, ValidationFailed
from recobro.storage.models import Claim, Merchant, PromiseMap

PromiseState = Literal["active", "kept", "broken"]


@dataclass(frozen=True)
class PromiseRules:
    earliest: date
    latest: date
    min_amount: int
    max_amount: int


def local_today(claim: Claim) -> date:
    return clock.now().astimezone(ZoneInfo(claim.timezone)).date()


def rules_for(claim: Claim, merchant: Merchant | None) -> PromiseRules:
    plan = merchant.plan_rules if merchant is not None else None
    max_days = int(plan.max_days_to_promise) if plan is not None else 14
    minimum = int(plan.min_payment_amount) if plan is not None else 500
    due = amount_due(claim)
    today = local_today(claim)
    return PromiseRules(today, today + timedelta(days=max_days), min(minimum, due), due)


def state_of(claim: Claim) -> PromiseState | None:
    promise = claim.promise
    if promise is None:
        return None
    paid_since = int(claim.amount_paid) - int(promise.amount_paid_before or 0)
    if paid_since >= int(promise.amount) or amount_due(claim) == 0:
        return "kept"
    return "active" if local_today(claim) <= date.fromisoformat(promise.due_date) else "broken"


def make_promise(merchant_id: str, claim_id: str, merchant: Merchant | None, amount: int, due_date: date) -> Claim:
    """Record the promise and pause reminders, in one transaction with its event."""

    def decide(claim: Claim) -> list[events.Event]:
        if claim.status not in lifecycle.COLLECTING and claim.status != "hardship":
            raise Conflict(
                f"A claim that is {claim.status} takes no promise.",
                code_override="invalid_status_transition",
                current_status=claim.status,
            )
        rules = rules_for(claim, merchant)
        if not rules.min_amount <= amount <= rules.max_amount:
            raise ValidationFailed("The amount is outside what this claim allows.", field="amount")
        if not rules.earliest <= due_date <= rules.latest:
            raise ValidationFailed("The date is outside what the merchant allows.", field="date")
        now = clock.now()
        claim.promise = PromiseMap(  # type: ignore[no-untyped-call]
            amount=amount,
            due_date=due_date.isoformat(),
            made_at=now,
            amount_paid_before=int(claim.amount_paid),
        )
        claim.updated_at = now
        schedule_next_reminder(claim)
        data = {**event_data(claim), "promised_amount": amount, "promised_by": due_date.isoformat()}
        return [events.Event("promise.made", merchant_id, claim_id, data)]

    return change_claim(merchant_id, claim_id, decide)
