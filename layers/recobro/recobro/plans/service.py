"""Installment plans and payment-day moves, as the payment page asks for them.

A plan is set up in two steps. `prepare_plan` checks the choice against the merchant's rules and
opens a Stripe SetupIntent; nothing is stored. The browser saves the card with Stripe.js, then
`confirm_plan` asks Stripe (never the browser) whether the card was saved, and writes the plan
on the claim and one PlanCharge per charge in ONE transaction under the claim's version. The
plan id derives from the SetupIntent id, so confirming twice finds the plan the first one made.
recobro.plans.charger takes the charges from there. While a plan is active the claim gets no
overdue reminders (claims.service.schedule_next_reminder); a missed plan asks for another card
(`prepare_card_update` / `confirm_card_update`) and reminders resume until it gets one.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from aws_lambda_powertools import Logger

from recobro import clock, events, funnel
from recobro.claims.amounts import installment_owed
from recobro.claims.service import OPEN_STATUSES, amount_due, event_data, get_claim, schedule_next_reminder
from recobro.errors import Conflict, ValidationFailed
from recobro.merchants import cached_merchant
from recobro.plans import cards, notify
from recobro.plans.schedule import (
    DAYS_OF_MONTH,
    LAST_DAY_OF_MONTH,
    Charge,
    Installment,
    MoveRefused,
    PlanOption,
    PlanRules,
    allows,
    move_day,
    split,
)
from recobro.plans.schedule import plan_options as options_for
from recobro.reminders.schedule import action_shard, utc_iso
from recobro.storage.models import Claim, Debtor, Merchant, PlanCharge, PlanMap, PlanRulesMap, claim_ref
from recobro.storage.transactions import TransactionConflict, Write, commit

logger = Logger(child=True)

CHARGE_AT_LOCAL = time(10, 0)  # charges fall due at 10:00 in the debtor's timezone
WRITE_ATTEMPTS = 10
# Charges still to be collected (a plan's "remaining installments").
OPEN_CHARGE_STATUSES = frozenset({"scheduled", "processing", "retrying", "failed"})


# ---------------------------------------------------------------- views


@dataclass(frozen=True)
class ChargeView:
    number: int
    date: str  # ISO date in the debtor's calendar
    amount: int  # minor units
    status: str = "scheduled"  # scheduled | processing | retrying | succeeded | failed | cancelled


@dataclass(frozen=True)
class PlanView:
    """A claim's plan as the page and tests see it."""

    plan_id: str
    status: str  # active | missed | completed | cancelled
    installment_count: int
    day_of_month: int
    amount: int
    currency: str
    charges: list[ChargeView]

    @property
    def card_update_needed(self) -> bool:
        return self.status == "missed"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "card_update_needed": self.card_update_needed}


@dataclass(frozen=True)
class PlanOffer:
    """What the page may offer: the counts the rules allow for the amount due, and the days."""

    amount: int
    currency: str
    options: list[PlanOption]
    days_of_month: tuple[int, ...] = DAYS_OF_MONTH
    unavailable: str | None = None  # why no plan can start now (plan_exists, claim_not_collecting, ...)


@dataclass(frozen=True)
class PlanSetup:
    """A SetupIntent for Stripe.js to confirm, and the charges the plan would make."""

    setup_intent_id: str
    client_secret: str
    charges: list[ChargeView] = field(default_factory=list)


@dataclass(frozen=True)
class PaymentDayMoved:
    day_of_month: int
    due_dates: list[tuple[int, str]]  # (installment or charge number, new ISO date)
    plan_id: str | None = None  # set when the plan's charges moved


# ---------------------------------------------------------------- helpers


def rules_of(merchant: Merchant | None) -> PlanRules:
    stored = merchant.plan_rules if merchant is not None and merchant.plan_rules is not None else PlanRulesMap()  # type: ignore[no-untyped-call]
    return PlanRules(
        min_installments=int(stored.min_installments),
        max_installments=int(stored.max_installments),
        min_installment_amount=int(stored.min_installment_amount),
        max_days_to_move=int(stored.max_days_to_move),
    )


def today_for(claim: Claim) -> date:
    """Today in the debtor's calendar."""
    return clock.now().astimezone(ZoneInfo(claim.timezone)).date()


def charge_due_at(charge_date: date, timezone: str) -> datetime:
    return datetime.combine(charge_date, CHARGE_AT_LOCAL, tzinfo=ZoneInfo(timezone))


def charge_shard(claim_id: str, number: int) -> str:
    return action_shard(f"{claim_id}#{number}")


def plan_id_for(setup_intent_id: str) -> str:
    return "plan_" + hashlib.sha256(setup_intent_id.encode()).hexdigest()[:20]


def charge_key(plan_id: str, number: int) -> str:
    return f"{plan_id}#{number:02d}"


def plan_active(claim: Claim) -> bool:
    return claim.plan is not None and claim.plan.status == "active"


def plan_charges(claim: Claim, plan_id: str | None = None) -> list[PlanCharge]:
    """The plan's charges in number order (one consistent Query)."""
    wanted = plan_id or (claim.plan.plan_id if claim.plan is not None else None)
    if wanted is None:
        return []
    ref = claim_ref(claim.merchant_id, claim.claim_id)
    found = PlanCharge.query(ref, PlanCharge.charge_key.startswith(f"{wanted}#"), consistent_read=True)
    return sorted(found, key=lambda c: int(c.number))


def _charge_view(charge: PlanCharge) -> ChargeView:
    return ChargeView(int(charge.number), charge.charge_date, int(charge.amount), charge.status)


def _proposed(charges: list[Charge]) -> list[ChargeView]:
    return [ChargeView(c.number, c.charge_date.isoformat(), c.amount) for c in charges]


def view_of(claim: Claim, charges: list[PlanCharge] | None = None) -> PlanView | None:
    plan = claim.plan
    if plan is None:
        return None
    found = plan_charges(claim) if charges is None else charges
    return PlanView(
        plan_id=plan.plan_id,
        status=plan.status,
        installment_count=int(plan.installment_count),
        day_of_month=int(plan.day_of_month),
        amount=int(plan.amount),
        currency=claim.currency,
        charges=[_charge_view(c) for c in found],
    )


def get_plan(merchant_id: str, claim_id: str) -> PlanView | None:
    return view_of(get_claim(merchant_id, claim_id, consistent=True))


def plan_event_data(claim: Claim, charges: list[PlanCharge]) -> dict[str, Any]:
    plan = claim.plan
    assert plan is not None
    return {
        **event_data(claim),
        "plan": {
            "id": plan.plan_id,
            "status": plan.status,
            "installment_count": int(plan.installment_count),
            "day_of_month": int(plan.day_of_month),
            "amount": int(plan.amount),
            "charges": [{"number": int(c.number), "date": c.charge_date, "amount": int(c.amount)} for c in charges],
        },
    }


def _load_debtor(claim: Claim) -> Debtor | None:
    try:
        return Debtor.get(claim.merchant_id, claim.debtor_id)
    except Debtor.DoesNotExist:
        return None


def _why_no_new_plan(claim: Claim) -> Conflict | None:
    if claim.plan is not None and claim.plan.status in ("active", "missed"):
        return Conflict("This claim already has an installment plan.", code_override="plan_exists")
    if claim.status not in OPEN_STATUSES:
        return Conflict(
            f"A claim that is {claim.status} takes no installment plan.",
            code_override="claim_not_collecting",
            current_status=claim.status,
        )
    return None


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{name} must be a whole number.", field=name)
    return value


def _check_choice(claim: Claim, merchant: Merchant | None, count: Any, day_of_month: Any) -> tuple[int, int]:
    count = _whole(count, "installment_count")
    day_of_month = _whole(day_of_month, "day_of_month")
    if day_of_month not in DAYS_OF_MONTH:
        raise ValidationFailed(
            f"Choose a day of the month from 1 to {LAST_DAY_OF_MONTH}.",
            field="day_of_month",
            code_override="plan_outside_rules",
        )
    rules = rules_of(merchant)
    if not allows(amount_due(claim), rules, count, day_of_month):
        allowed = [o.installment_count for o in options_for(amount_due(claim), rules)]
        raise ValidationFailed(
            "The merchant does not offer this number of installments for this amount.",
            field="installment_count",
            code_override="plan_outside_rules",
            allowed_installment_counts=allowed,
        )
    return count, day_of_month


# ---------------------------------------------------------------- offering and starting a plan


def plan_options(claim: Claim, merchant: Merchant | None) -> PlanOffer:
    """The plans the page may offer for this claim now (none, with a reason, when it cannot)."""
    due = amount_due(claim)
    refusal = _why_no_new_plan(claim)
    if refusal is not None:
        return PlanOffer(due, claim.currency, [], unavailable=refusal.code)
    options = options_for(due, rules_of(merchant))
    return PlanOffer(due, claim.currency, options, unavailable=None if options else "amount_too_small")


def preview(claim: Claim, count: int, day_of_month: int) -> list[ChargeView]:
    """The charges a plan would make if started today (for showing before the card step)."""
    return _proposed(split(amount_due(claim), count, day_of_month, today_for(claim)))


def prepare_plan(claim: Claim, debtor: Debtor, count: int, day_of_month: int) -> PlanSetup:
    """Check the choice and open a SetupIntent for the card; nothing is stored yet."""
    refusal = _why_no_new_plan(claim)
    if refusal is not None:
        raise refusal
    count, day_of_month = _check_choice(claim, cached_merchant(claim.merchant_id), count, day_of_month)
    charges = split(amount_due(claim), count, day_of_month, today_for(claim))
    customer_id = claim.plan.customer_id if claim.plan is not None else None
    if not customer_id:
        customer_id = cards.create_customer(claim.merchant_id, claim.claim_id, debtor.debtor_id)
    setup_id, secret = cards.create_setup_intent(
        customer_id,
        {
            "purpose": "plan",
            "merchant_id": claim.merchant_id,
            "claim_id": claim.claim_id,
            "installment_count": str(count),
            "day_of_month": str(day_of_month),
        },
    )
    return PlanSetup(setup_id, secret, _proposed(charges))


def _saved_card(merchant_id: str, claim_id: str, setup_intent_id: str, purpose: str) -> cards.SavedCard:
    """The SetupIntent, if Stripe says it saved a card for this claim; the browser's word never counts."""
    card = cards.retrieve_setup_intent(setup_intent_id) if isinstance(setup_intent_id, str) else None
    if (
        card is None
        or card.metadata.get("merchant_id") != merchant_id
        or card.metadata.get("claim_id") != claim_id
        or card.metadata.get("purpose") != purpose
    ):
        raise ValidationFailed(
            "This card setup does not belong to this claim.",
            field="setup_intent_id",
            code_override="setup_intent_invalid",
        )
    if card.status != "succeeded" or not card.payment_method or not card.customer:
        raise Conflict("The card has not been saved yet.", code_override="setup_incomplete", setup_status=card.status)
    return card


def _new_charges(claim: Claim, plan_id: str, charges: list[Charge], now: datetime) -> list[PlanCharge]:
    return [
        PlanCharge(
            plan_ref=claim_ref(claim.merchant_id, claim.claim_id),
            charge_key=charge_key(plan_id, c.number),
            plan_id=plan_id,
            number=c.number,
            amount=c.amount,
            currency=claim.currency,
            charge_date=c.charge_date.isoformat(),
            status="scheduled",
            attempts=0,
            charge_shard=charge_shard(claim.claim_id, c.number),
            due_at=utc_iso(charge_due_at(c.charge_date, claim.timezone)),
            created_at=now,
            updated_at=now,
        )
        for c in charges
    ]


def confirm_plan(merchant_id: str, claim_id: str, setup_intent_id: str) -> PlanView:
    """Start the plan once Stripe confirms the card is saved; the same SetupIntent twice is one plan."""
    card = _saved_card(merchant_id, claim_id, setup_intent_id, "plan")
    try:
        count, day_of_month = int(card.metadata["installment_count"]), int(card.metadata["day_of_month"])
    except (KeyError, ValueError):
        raise ValidationFailed(
            "This card setup does not describe a plan.", field="setup_intent_id", code_override="setup_intent_invalid"
        ) from None
    plan_id = plan_id_for(card.id)
    for _ in range(WRITE_ATTEMPTS):
        claim = get_claim(merchant_id, claim_id, consistent=True)
        if claim.plan is not None and claim.plan.plan_id == plan_id:
            view = view_of(claim)
            assert view is not None
            return view
        refusal = _why_no_new_plan(claim)
        if refusal is not None:
            raise refusal
        try:
            _check_choice(claim, cached_merchant(merchant_id), count, day_of_month)
        except ValidationFailed as exc:  # the amount due changed since the choice was made
            raise Conflict(exc.message, code_override="plan_no_longer_allowed") from None
        now = clock.now()
        schedule = split(amount_due(claim), count, day_of_month, today_for(claim))
        claim.plan = PlanMap(  # type: ignore[no-untyped-call]
            plan_id=plan_id,
            status="active",
            installment_count=count,
            day_of_month=day_of_month,
            amount=amount_due(claim),
            customer_id=card.customer,
            payment_method_id=card.payment_method,
            created_at=now,
            updated_at=now,
        )
        claim.updated_at = now
        schedule_next_reminder(claim)  # an active plan has no overdue reminders
        charges = _new_charges(claim, plan_id, schedule, now)
        started = events.Event("plan.started", merchant_id, claim_id, plan_event_data(claim, charges))
        try:
            commit([Write(claim), *(Write(c) for c in charges), Write(started.to_item())])
        except TransactionConflict:
            continue  # the claim moved (a payment, another confirm): decide again on what it is now
        events.published([started])
        funnel.count(merchant_id, "plan_started")
        notify.notify_plan_started(claim, _load_debtor(claim), [(c.charge_date, int(c.amount)) for c in charges])
        view = view_of(claim, charges)
        assert view is not None
        return view
    raise Conflict("The claim is changing too fast; try again.", code_override="concurrent_update")


# ---------------------------------------------------------------- a new card for a missed plan


def prepare_card_update(claim: Claim) -> PlanSetup:
    """A SetupIntent on the plan's customer, for a plan that missed a charge."""
    plan = claim.plan
    if plan is None or plan.status != "missed":
        raise Conflict("Only a plan that missed a payment needs a new card.", code_override="plan_not_missed")
    setup_id, secret = cards.create_setup_intent(
        plan.customer_id,
        {
            "purpose": "card_update",
            "merchant_id": claim.merchant_id,
            "claim_id": claim.claim_id,
            "plan_id": plan.plan_id,
        },
    )
    today = today_for(claim).isoformat()
    remaining = [
        ChargeView(int(c.number), max(c.charge_date, today), int(c.amount), c.status)
        for c in plan_charges(claim)
        if c.status in OPEN_CHARGE_STATUSES
    ]
    return PlanSetup(setup_id, secret, remaining)


def _resume_charge(charge: PlanCharge, claim: Claim, now: datetime) -> bool:
    """Put a charge of a missed plan back in the charger's index; False if it needs nothing."""
    if charge.status in ("failed", "retrying"):
        charge.status, charge.attempts = "retrying", 0  # a new card gets fresh attempts
        charge.due_at = utc_iso(now)
    elif charge.status == "scheduled" and charge.due_at is None:
        due = charge_due_at(date.fromisoformat(charge.charge_date), claim.timezone)
        charge.due_at = utc_iso(max(due, now))
    else:
        return False
    charge.charge_shard = charge_shard(claim.claim_id, int(charge.number))
    charge.updated_at = now
    return True


def confirm_card_update(merchant_id: str, claim_id: str, setup_intent_id: str) -> PlanView:
    """The plan is active again on the new card and the failed charge is due now."""
    card = _saved_card(merchant_id, claim_id, setup_intent_id, "card_update")
    for _ in range(WRITE_ATTEMPTS):
        claim = get_claim(merchant_id, claim_id, consistent=True)
        plan = claim.plan
        if plan is None or plan.plan_id != card.metadata.get("plan_id"):
            raise ValidationFailed(
                "This card setup is for another plan.", field="setup_intent_id", code_override="setup_intent_invalid"
            )
        if plan.status == "active" and plan.payment_method_id == card.payment_method:
            view = view_of(claim)
            assert view is not None
            return view  # confirmed already
        if plan.status != "missed":
            raise Conflict("Only a plan that missed a payment needs a new card.", code_override="plan_not_missed")
        now = clock.now()
        charges = plan_charges(claim)
        resumed = [c for c in charges if _resume_charge(c, claim, now)]
        plan.status, plan.payment_method_id, plan.customer_id, plan.updated_at = (
            "active",
            card.payment_method,
            card.customer or plan.customer_id,
            now,
        )
        claim.updated_at = now
        schedule_next_reminder(claim)
        updated = events.Event("plan.card_updated", merchant_id, claim_id, plan_event_data(claim, charges))
        try:
            commit([Write(claim), *(Write(c) for c in resumed), Write(updated.to_item())])
        except TransactionConflict:
            continue
        events.published([updated])
        view = view_of(claim, charges)
        assert view is not None
        return view
    raise Conflict("The claim is changing too fast; try again.", code_override="concurrent_update")


# ---------------------------------------------------------------- moving the payment day


def _movable(claim: Claim) -> tuple[list[Installment], list[PlanCharge]]:
    """The payment dates a move applies to: the active plan's scheduled charges, else the claim's
    installments. A plan replaces the original schedule while it runs, so only its dates move."""
    if plan_active(claim):
        charges = plan_charges(claim)
        return [
            Installment(int(c.number), date.fromisoformat(c.charge_date), paid=c.status != "scheduled") for c in charges
        ], charges
    return [
        Installment(int(i.number), date.fromisoformat(i.due_date), paid=installment_owed(i) <= 0)
        for i in claim.installments
    ], []


def _check_can_move(claim: Claim) -> None:
    if claim.status not in OPEN_STATUSES:
        raise Conflict(
            f"A claim that is {claim.status} has no payment dates to move.",
            code_override="claim_not_collecting",
            current_status=claim.status,
        )
    if claim.plan is not None and claim.plan.status == "missed":
        raise Conflict("Update the card of the plan before moving its dates.", code_override="plan_missed")


def payment_day_options(claim: Claim, merchant: Merchant | None) -> list[int]:
    """The days of the month the debtor may move their remaining payments to (empty if none)."""
    try:
        _check_can_move(claim)
    except Conflict:
        return []
    installments, _ = _movable(claim)
    if all(i.paid for i in installments):
        return []
    limit, today = rules_of(merchant).max_days_to_move, today_for(claim)
    allowed = []
    for day in DAYS_OF_MONTH:
        try:
            move_day(installments, day, today, limit)
        except MoveRefused:
            continue
        allowed.append(day)
    return allowed


def move_payment_day(claim: Claim, day_of_month: int) -> PaymentDayMoved:
    """Move every unpaid payment date to `day_of_month` within the merchant's limit, or change nothing."""
    day_of_month = _whole(day_of_month, "day_of_month")
    if not 1 <= day_of_month <= 31:
        raise ValidationFailed("Choose a day of the month from 1 to 31.", field="day_of_month")
    merchant_id, claim_id = claim.merchant_id, claim.claim_id
    for _ in range(WRITE_ATTEMPTS):
        claim = get_claim(merchant_id, claim_id, consistent=True)
        _check_can_move(claim)
        installments, charges = _movable(claim)
        limit = rules_of(cached_merchant(merchant_id)).max_days_to_move
        try:
            moved = move_day(installments, day_of_month, today_for(claim), limit)
        except MoveRefused as refused:
            raise ValidationFailed(
                f"Payment {refused.number} would move from {refused.old} to {refused.new}: "
                f"more than {limit} days later than agreed.",
                field="day_of_month",
                code_override="payment_day_outside_limits",
                max_days_to_move=limit,
            ) from None
        if not moved:
            raise Conflict("Nothing is left to pay on a date.", code_override="nothing_to_move")
        now = clock.now()
        previous: dict[int, str] = {}
        writes: list[Write] = []
        plan = claim.plan if charges else None
        if plan is not None:
            for charge in charges:
                new = moved.get(int(charge.number))
                if new is None:
                    continue
                previous[int(charge.number)] = charge.charge_date
                charge.charge_date = new.isoformat()
                charge.due_at = utc_iso(charge_due_at(new, claim.timezone))
                charge.updated_at = now
                writes.append(Write(charge))
            plan.day_of_month = min(day_of_month, LAST_DAY_OF_MONTH)
            plan.updated_at = now
        else:
            for installment in claim.installments:
                new = moved.get(int(installment.number))
                if new is not None:
                    previous[int(installment.number)] = installment.due_date
                    installment.due_date = new.isoformat()
        claim.updated_at = now
        schedule_next_reminder(claim)
        due_dates = sorted((number, moved[number].isoformat()) for number in previous)
        data = {
            **event_data(claim),
            "day_of_month": min(day_of_month, LAST_DAY_OF_MONTH),
            "plan_id": plan.plan_id if plan is not None else None,
            "moved": [{"number": n, "from": previous[n], "to": d} for n, d in due_dates],
        }
        happened = events.Event("claim.payment_day_moved", merchant_id, claim_id, data)
        try:
            commit([Write(claim), *writes, Write(happened.to_item())])
        except TransactionConflict:
            continue  # a payment or a charge moved meanwhile: decide again
        events.published([happened])
        notify.notify_date_moved(
            claim, _load_debtor(claim), min(day_of_month, LAST_DAY_OF_MONTH), [d for _, d in due_dates]
        )
        return PaymentDayMoved(min(day_of_month, LAST_DAY_OF_MONTH), due_dates, plan.plan_id if plan else None)
    raise Conflict("The claim is changing too fast; try again.", code_override="concurrent_update")
