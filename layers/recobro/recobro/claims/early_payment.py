"""Early-payment offers: "pay this installment in full by its due date and get N% off", honoured.

A strategy step before the due date may carry `early_payment_offer: {discount_percent}`. When the
sender sends that step it computes the offer (`offer_for`) and stores it on the claim in the same
transaction that takes the message slot (`offer_actions`); the reminder, the payment page and the
API show it while it is valid (`offer_of`). When a payment made by the end of the due date (in the
debtor's timezone) leaves that installment owing no more than the discount, the rest is settled by
a `discount` ledger entry in the payment's own transaction (`honour`): the installment's
`amount_discounted` grows, `amount_paid` stays the money actually received, and the offer is gone.
The entry's key (`discount#<installment>`) and the payment's own conditional write make it count
once whatever is replayed. A later refund takes back money only: the discount stays.

The money is pure (`discount_for`, `compute_offer`, `discount_due`); storage is below it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from recobro import clock, events
from recobro.claims.allocation import Balance, apply_discount
from recobro.claims.amounts import installment_owed
from recobro.ids import new_id
from recobro.reminders.schedule import utc_iso
from recobro.storage.models import Claim, EarlyPaymentOfferMap, LedgerEntry, claim_ref

DISCOUNT_REASON = "early_payment"


# ---------------------------------------------------------------- the money (pure)


@dataclass(frozen=True)
class Offer:
    """An early-payment offer for one installment; amounts in minor units of `currency`.

    `outstanding` is what must be settled by the due date to take it: the installment and any
    earlier one still open (payments go to the oldest installment first). The discount is taken
    from the installment alone.
    """

    installment: int
    discount_percent: int
    discount: int
    outstanding: int
    valid_until: datetime  # aware UTC: the last instant of the due date in the debtor's timezone
    due_date: date  # in the debtor's calendar
    currency: str
    offered_at: datetime | None = None

    @property
    def amount_to_pay(self) -> int:
        return self.outstanding - self.discount

    def valid_at(self, moment: datetime) -> bool:
        return moment <= self.valid_until


@dataclass(frozen=True)
class InstallmentState:
    number: int
    due_date: date
    amount: int
    paid: int
    discounted: int = 0

    @property
    def owed(self) -> int:
        return self.amount - self.paid - self.discounted


def discount_for(amount: int, percent: int) -> int:
    """floor(amount * percent / 100), in integers: the debtor never gets more than the percent."""
    return amount * percent // 100


def end_of_day(day: date, timezone: str) -> datetime:
    """The last instant of `day` in `timezone`, as aware UTC."""
    return datetime.combine(day, time.max, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def compute_offer(
    installments: Sequence[InstallmentState],
    number: int,
    percent: int,
    timezone: str,
    currency: str,
    now: datetime,
) -> Offer | None:
    """The offer for installment `number`, or None: it is already (partly) paid or discounted, its
    due date is over in the debtor's timezone, or the discount rounds down to nothing."""
    index = next((n for n, i in enumerate(installments) if i.number == number), None)
    if index is None:
        return None
    own = installments[index]
    if own.paid > 0 or own.discounted > 0 or own.owed <= 0:
        return None
    valid_until = end_of_day(own.due_date, timezone)
    discount = discount_for(own.owed, percent)
    if now > valid_until or discount <= 0:
        return None
    outstanding = sum(max(i.owed, 0) for i in installments[: index + 1])
    return Offer(number, percent, discount, outstanding, valid_until, own.due_date, currency, now)


def discount_due(installment: int, discount: int, valid_until: datetime, after: Balance, paid_at: datetime) -> int:
    """What a payment at `paid_at` that left the claim at `after` earns: the installment's
    remaining debt when it came in time and left at most the discount, else 0."""
    if paid_at > valid_until or installment > len(after.amounts):
        return 0
    owed = after.owed(installment)
    return owed if 0 < owed <= discount else 0


# ---------------------------------------------------------------- on the claim item


def _states(claim: Claim) -> list[InstallmentState]:
    return [
        InstallmentState(
            int(i.number),
            date.fromisoformat(i.due_date),
            int(i.amount),
            int(i.amount_paid),
            int(i.amount_discounted or 0),
        )
        for i in claim.installments
    ]


def offer_for(claim: Claim, installment_number: int, percent: int, now: datetime) -> Offer | None:
    """The offer a reminder for `installment_number` with `percent` off may make now, or None."""
    return compute_offer(_states(claim), installment_number, percent, claim.timezone, claim.currency, now)


def offer_actions(offer: Offer) -> list[Any]:
    """PynamoDB update actions that store `offer` on its claim (for the slot-taking transaction)."""
    stored = EarlyPaymentOfferMap(  # type: ignore[no-untyped-call]
        installment=offer.installment,
        discount_percent=offer.discount_percent,
        discount=offer.discount,
        valid_until=offer.valid_until,
        offered_at=offer.offered_at or clock.now(),
    )
    return [Claim.early_payment_offer.set(stored)]


def stored_offer(claim: Claim) -> Offer | None:
    """The offer on the claim as stored, valid or not (None if there is none or it no longer fits)."""
    stored = claim.early_payment_offer
    if stored is None:
        return None
    number = int(stored.installment)
    states = _states(claim)
    index = next((n for n, i in enumerate(states) if i.number == number), None)
    if index is None:
        return None
    outstanding = sum(max(i.owed, 0) for i in states[: index + 1])
    return Offer(
        installment=number,
        discount_percent=int(stored.discount_percent),
        discount=int(stored.discount),
        outstanding=outstanding,
        valid_until=stored.valid_until,
        due_date=states[index].due_date,
        currency=claim.currency,
        offered_at=stored.offered_at,
    )


def offer_of(claim: Claim, now: datetime | None = None) -> Offer | None:
    """The stored offer while it still stands at `now` (default: the clock): in time, and its
    installment still owing more than the discount."""
    offer = stored_offer(claim)
    if offer is None or not offer.valid_at(now or clock.now()):
        return None
    installment = next(i for i in claim.installments if int(i.number) == offer.installment)
    return offer if installment_owed(installment) > offer.discount else None


def offer_view(offer: Offer | None) -> dict[str, Any] | None:
    """The offer as the merchant API shows it."""
    if offer is None:
        return None
    return {
        "installment": offer.installment,
        "discount_percent": offer.discount_percent,
        "discount": offer.discount,
        "amount_to_pay": offer.amount_to_pay,
        "valid_until": utc_iso(offer.valid_until),
        "offered_at": utc_iso(offer.offered_at) if offer.offered_at else None,
    }


@dataclass(frozen=True)
class Settlement:
    """A discount a payment earned: the balance after it, its ledger entry and its event."""

    amount: int
    balance: Balance
    entry: LedgerEntry
    event: events.Event


def honour(claim: Claim, after: Balance, paid_at: datetime, payment_reference: str, now: datetime) -> Settlement | None:
    """The discount the payment that left the claim at `after` earns, if any.

    Clears the claim's offer when the payment settles its installment (with or without the
    discount); the caller writes the claim, the entry and the event in the payment's transaction.
    """
    offer = stored_offer(claim)
    if offer is None:
        return None
    amount = discount_due(offer.installment, offer.discount, offer.valid_until, after, paid_at)
    if amount == 0:
        if after.owed(offer.installment) <= 0:
            claim.early_payment_offer = None  # paid in full without it: nothing left to offer
        return None
    balance = apply_discount(after, offer.installment, amount)
    claim.early_payment_offer = None
    entry = LedgerEntry(
        claim_ref=claim_ref(claim.merchant_id, claim.claim_id),
        entry_key=f"discount#{offer.installment}",
        entry_id=new_id("dsc"),
        kind="discount",
        amount=amount,
        currency=claim.currency,
        external_reference=payment_reference,
        payment_reference=payment_reference,
        allocations=json.dumps([(offer.installment, amount)]),
        to_credit=0,
        occurred_at=paid_at,
        created_at=now,
        reason=DISCOUNT_REASON,
    )
    data = {
        "claim_id": claim.claim_id,
        "installment": offer.installment,
        "amount": amount,
        "currency": claim.currency,
        "discount_percent": offer.discount_percent,
        "payment_reference": payment_reference,
    }
    event = events.Event("claim.discount_applied", claim.merchant_id, claim.claim_id, data)
    return Settlement(amount, balance, entry, event)
