"""The scheduled charger: take every plan charge that has fallen due, charge it off session once.

Reads only the sparse by_due index, one Query per shard (paged, never a Scan). Each charge is
taken with a conditional update under its version (scheduled|retrying -> processing, with a
short lease), so overlapping runs never charge twice; a run that dies mid-charge leaves the
lease to expire and the next run repeats the same Stripe request with the same idempotency key,
which Stripe answers with the same PaymentIntent.

The charger never touches balances: the PaymentIntent's metadata names the claim, and the
Stripe reconciler applies the money when payment_intent.succeeded arrives. A declined card is
retried RETRY_AFTER later; after MAX_ATTEMPTS declines the plan is missed, reminders resume and
the debtor gets a fresh link to give another card.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger
from pynamodb.exceptions import UpdateError

from recobro import clock, config, events, links
from recobro.claims import lifecycle
from recobro.claims.service import amount_due, schedule_next_reminder
from recobro.plans import cards, notify
from recobro.plans.service import plan_charges, plan_event_data
from recobro.reminders.schedule import all_shards, utc_iso
from recobro.storage.models import Claim, Debtor, PlanCharge
from recobro.storage.transactions import TransactionConflict, Write, commit

logger = Logger(child=True)

MAX_ATTEMPTS = 3  # declines on one card before the plan is missed
RETRY_AFTER = timedelta(days=3)
LEASE = timedelta(minutes=15)  # a taken charge is taken back by a later run after this
ERROR_RETRY_AFTER = timedelta(minutes=30)  # Stripe unreachable or failing: not the card's fault
HOLD_RECHECK = timedelta(days=1)  # a paused, disputed or hardship claim is looked at again daily
WRITE_ATTEMPTS = 10


@dataclass
class ChargeRun:
    due: int = 0
    charged: int = 0
    declined: int = 0
    missed: int = 0
    held: int = 0
    cancelled: int = 0
    skipped: int = 0  # taken by another run, or changed since the index was read
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def due_charges(now: datetime) -> Iterator[PlanCharge]:
    until = utc_iso(now)
    for shard in all_shards():
        yield from PlanCharge.by_due.query(shard, PlanCharge.due_at <= until)


def run_due_charges(now: datetime | None = None, keep_going: Callable[[], bool] = lambda: True) -> ChargeRun:
    """Charge everything due at `now`; stop taking new charges once `keep_going()` says so."""
    moment = now or clock.now()
    run = ChargeRun()
    for charge in due_charges(moment):
        if not keep_going():
            break  # the rest stays due for the next run
        run.due += 1
        try:
            outcome = process(charge, moment)
        except Exception:
            logger.exception("plan charge failed", extra={"charge_key": charge.charge_key})
            run.errors += 1
            continue
        setattr(run, outcome, getattr(run, outcome) + 1)
    return run


def _ids(charge: PlanCharge) -> tuple[str, str]:
    merchant_id, claim_id = charge.plan_ref.split("#", 1)
    return merchant_id, claim_id


def _load_claim(charge: PlanCharge) -> Claim | None:
    merchant_id, claim_id = _ids(charge)
    try:
        return Claim.get(merchant_id, claim_id, consistent_read=True)
    except Claim.DoesNotExist:
        return None


def _out_of_index(charge: PlanCharge) -> None:
    charge.charge_shard = None
    charge.due_at = None


def _try_save(charge: PlanCharge) -> bool:
    try:
        commit([Write(charge)])
    except TransactionConflict:
        return False  # changed since it was read (another run, a date move): that change wins
    return True


def process(charge: PlanCharge, now: datetime) -> str:
    """Handle one due charge; returns the ChargeRun counter it adds to."""
    claim = _load_claim(charge)
    plan = claim.plan if claim is not None else None
    if claim is None or plan is None or plan.plan_id != charge.plan_id:
        charge.status, charge.updated_at = "cancelled", now
        _out_of_index(charge)
        return "cancelled" if _try_save(charge) else "skipped"
    # A run died holding this charge (its lease ran out): repeat that very request, whatever
    # changed since; Stripe answers a repeated idempotency key with the first PaymentIntent.
    retaken = charge.status == "processing"
    if not retaken:
        held = _not_now(charge, claim, now)
        if held is not None:
            return held
        if amount_due(claim) < int(charge.amount):
            charge.amount = amount_due(claim)  # never take more than is owed
    if not _take(charge, now):
        return "skipped"
    attempt = int(charge.attempts or 0) + 1
    merchant_id, claim_id = _ids(charge)
    outcome = cards.charge_off_session(
        amount=int(charge.amount),
        currency=charge.currency,
        customer_id=plan.customer_id,
        payment_method_id=str(plan.payment_method_id),
        metadata={
            "merchant_id": merchant_id,
            "claim_id": claim_id,
            "plan_id": charge.plan_id,
            "plan_charge": str(int(charge.number)),
        },
        idempotency_key=f"recobro-plan-charge-{charge.plan_ref}-{charge.charge_key}-{plan.payment_method_id}-{attempt}",
    )
    if outcome.result == "succeeded":
        return _succeeded(charge, outcome, now)
    if outcome.result == "declined":
        return _declined(charge, outcome, attempt, now)
    logger.warning(
        "plan charge not attempted: Stripe error", extra={"charge_key": charge.charge_key, "error": outcome.code}
    )
    _release(charge, now)
    return "errors"


def _not_now(charge: PlanCharge, claim: Claim, now: datetime) -> str | None:
    """Why this charge is not to be taken now (and what was done about it), or None to charge it."""
    plan = claim.plan
    assert plan is not None
    if plan.status in ("completed", "cancelled"):
        charge.status, charge.updated_at = "cancelled", now
        _out_of_index(charge)
        return "cancelled" if _try_save(charge) else "skipped"
    if claim.status in lifecycle.FINAL_STATUSES or amount_due(claim) <= 0:
        return _end_plan(charge, claim, now)
    if plan.status == "missed":
        # Parked until the debtor gives another card (service.confirm_card_update re-indexes it).
        _out_of_index(charge)
        charge.updated_at = now
        return "held" if _try_save(charge) else "skipped"
    if claim.status not in lifecycle.COLLECTING:
        charge.due_at, charge.updated_at = utc_iso(now + HOLD_RECHECK), now
        return "held" if _try_save(charge) else "skipped"
    return None


def _take(charge: PlanCharge, now: datetime) -> bool:
    """scheduled|retrying (or processing with an expired lease) -> processing, under its version."""
    try:
        charge.update(  # adds the version condition and refreshes `charge` from what was written
            actions=[
                PlanCharge.status.set("processing"),
                PlanCharge.amount.set(int(charge.amount)),
                PlanCharge.due_at.set(utc_iso(now + LEASE)),
                PlanCharge.updated_at.set(now),
            ],
            condition=PlanCharge.status.is_in("scheduled", "retrying", "processing")
            & (PlanCharge.due_at <= utc_iso(now)),
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False  # another run took it, or it changed since the index was read
        raise
    return True


def _release(charge: PlanCharge, now: datetime) -> None:
    charge.status = "retrying" if int(charge.attempts or 0) else "scheduled"
    charge.due_at, charge.updated_at = utc_iso(now + ERROR_RETRY_AFTER), now
    _try_save(charge)


def _end_plan(charge: PlanCharge, claim: Claim, now: datetime) -> str:
    """The claim was settled or closed another way: no more charges; the plan ends with it."""
    for _ in range(WRITE_ATTEMPTS):
        plan = claim.plan
        assert plan is not None
        settled = amount_due(claim) <= 0
        charge.status, charge.updated_at = "cancelled", now
        _out_of_index(charge)
        writes = [Write(charge)]
        happened: list[events.Event] = []
        if plan.status in ("active", "missed"):
            plan.status, plan.updated_at = ("completed" if settled else "cancelled"), now
            claim.updated_at = now
            schedule_next_reminder(claim)
            kind = "plan.completed" if settled else "plan.cancelled"
            happened.append(events.Event(kind, claim.merchant_id, claim.claim_id, plan_event_data(claim, [])))
            writes += [Write(claim), *(Write(e.to_item()) for e in happened)]
        try:
            commit(writes)
        except TransactionConflict as conflict:
            if 0 in conflict.failed:
                return "skipped"
            reread = _load_claim(charge)
            if reread is None:
                return "skipped"
            claim = reread
            continue
        events.published(happened)
        return "cancelled"
    return "skipped"


def _succeeded(charge: PlanCharge, outcome: cards.ChargeOutcome, now: datetime) -> str:
    charge.status, charge.payment_intent, charge.last_error, charge.updated_at = (
        "succeeded",
        outcome.payment_intent,
        None,
        now,
    )
    _out_of_index(charge)
    for _ in range(WRITE_ATTEMPTS):
        claim = _load_claim(charge)
        plan = claim.plan if claim is not None else None
        writes = [Write(charge)]
        happened: list[events.Event] = []
        if claim is not None and plan is not None and plan.plan_id == charge.plan_id and plan.status == "active":
            others = [c for c in plan_charges(claim) if c.charge_key != charge.charge_key]
            if all(c.status in ("succeeded", "cancelled") for c in others):
                plan.status, plan.updated_at = "completed", now
                claim.updated_at = now
                schedule_next_reminder(claim)
                data = plan_event_data(claim, sorted([*others, charge], key=lambda c: int(c.number)))
                happened.append(events.Event("plan.completed", claim.merchant_id, claim.claim_id, data))
                writes += [Write(claim), *(Write(e.to_item()) for e in happened)]
        try:
            commit(writes)
        except TransactionConflict as conflict:
            if 0 in conflict.failed:
                logger.error("charged, but the charge changed meanwhile", extra={"charge_key": charge.charge_key})
                return "charged"
            continue  # the claim moved (a payment landed): look again
        events.published(happened)
        return "charged"
    logger.error("charged, but the plan could not be updated", extra={"charge_key": charge.charge_key})
    return "charged"


def _declined(charge: PlanCharge, outcome: cards.ChargeOutcome, attempt: int, now: datetime) -> str:
    charge.attempts = attempt
    charge.last_error = outcome.code
    charge.payment_intent = outcome.payment_intent or charge.payment_intent
    charge.updated_at = now
    logger.info(
        "plan charge declined", extra={"charge_key": charge.charge_key, "attempt": attempt, "code": outcome.code}
    )
    if attempt < MAX_ATTEMPTS:
        charge.status = "retrying"
        charge.due_at = utc_iso(now + RETRY_AFTER)
        _try_save(charge)
        return "declined"
    charge.status = "failed"
    _out_of_index(charge)
    for _ in range(WRITE_ATTEMPTS):
        claim = _load_claim(charge)
        plan = claim.plan if claim is not None else None
        writes = [Write(charge)]
        happened: list[events.Event] = []
        missed = claim is not None and plan is not None and plan.plan_id == charge.plan_id and plan.status == "active"
        if missed:
            assert claim is not None and plan is not None
            plan.status, plan.updated_at = "missed", now
            claim.updated_at = now
            schedule_next_reminder(claim)  # reminders resume
            data = {
                **plan_event_data(claim, []),
                "charge": {
                    "number": int(charge.number),
                    "amount": int(charge.amount),
                    "attempts": attempt,
                    "decline_code": outcome.code,
                },
            }
            happened.append(events.Event("plan.missed", claim.merchant_id, claim.claim_id, data))
            writes += [Write(claim), *(Write(e.to_item()) for e in happened)]
        try:
            commit(writes)
        except TransactionConflict as conflict:
            if 0 in conflict.failed:
                return "skipped"
            continue
        events.published(happened)
        if missed and claim is not None:
            _ask_for_another_card(claim)
            return "missed"
        return "declined"
    return "skipped"


def _ask_for_another_card(claim: Claim) -> None:
    """Email the debtor a fresh page link (which revokes the older ones) to give another card."""
    try:
        debtor: Debtor | None = Debtor.get(claim.merchant_id, claim.debtor_id)
    except Debtor.DoesNotExist:
        debtor = None
    if debtor is None or not (debtor.email or debtor.phone):
        return
    version = links.new_link_version(claim.merchant_id, claim.claim_id)
    link = links.payment_url(config.pages_base_url(), claim.merchant_id, claim.claim_id, version, claim.debtor_id)
    claim.link_version = version
    _notify_plan_missed(claim, debtor, link)


def _notify_plan_missed(claim: Claim, debtor: Debtor, link: str) -> bool:
    return notify.notify_plan_missed(claim, debtor, link)
