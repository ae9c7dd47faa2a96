"""Apply one Stripe event to its claim exactly once: one read, one transaction.

Reads (one BatchGetItem, consistent): the claim, the ledger entries the event could write or
needs, and the event's marker. Writes (one TransactWriteItems): the claim under its version, each
new ledger entry under `attribute_not_exists` (its key is the PaymentIntent / refund / dispute id,
so money counts once whichever event carries it; a payment that takes an early-payment offer adds
its discount entry, recobro.claims.early_payment), the event marker under "not applied yet", and
the claim's events. A refund or dispute whose payment is not recorded yet raises
`NotReadyYet`: SQS delivers it again later. Allocation, statuses and the write layout are the
ones payments made elsewhere use (recobro.claims.ledger).

Only after a commit that newly applied the event: its events are published to merchants'
webhooks, the funnel counts payment_succeeded / payment_failed, and a newly recorded payment
sends the debtor a receipt and credits the reminders sent in the 7 days before it (their
variants' reward, recobro.optimise.stats). A crash between the commit and these loses them (never doubles
them): the redelivered event is a duplicate. Stripe is called only for a `charge.refunded`
that does not list its refunds.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from recobro import clock, config, events, funnel
from recobro.claims import amounts, early_payment, lifecycle
from recobro.claims.allocation import Allocation, apply_payment, apply_refund
from recobro.claims.ledger import MAX_ATTEMPTS, _apply_balance, _backoff, _status_events, balance_of, entry_view
from recobro.claims.service import schedule_next_reminder
from recobro.ids import new_id
from recobro.optimise import stats
from recobro.payments.mapping import Movement, movement_of, with_refunds
from recobro.reminders.schedule import utc_iso
from recobro.storage.models import Claim, Debtor, LedgerEntry, StripeEvent, StripePaymentRef, claim_ref
from recobro.storage.transactions import TransactionConflict, Write, commit

logger = Logger(child=True)

EVENT_RETENTION = timedelta(days=30)


class NotReadyYet(Exception):
    """The event depends on one not applied yet (a refund before its payment): retry later."""


class Unapplicable(Exception):
    """The event cannot apply to its claim (unknown claim, other currency): for a human, via the DLQ."""


@functools.lru_cache(maxsize=1)
def _client() -> Any:
    import boto3

    return boto3.client("dynamodb")


@dataclass
class Loaded:
    claim: Claim | None
    entries: dict[str, LedgerEntry]
    applied: bool


def _load(merchant_id: str, claim_id: str, entry_keys: list[str], event_id: str) -> Loaded:
    """One consistent BatchGetItem across three tables (more only if DynamoDB leaves keys unprocessed)."""
    ref = claim_ref(merchant_id, claim_id)
    request: dict[str, Any] = {
        config.CLAIMS_TABLE: {
            "Keys": [{"merchant_id": {"S": merchant_id}, "claim_id": {"S": claim_id}}],
            "ConsistentRead": True,
        },
        config.STRIPE_EVENTS_TABLE: {"Keys": [{"pk": {"S": f"event#{event_id}"}}], "ConsistentRead": True},
    }
    if entry_keys:
        request[config.LEDGER_TABLE] = {
            "Keys": [{"claim_ref": {"S": ref}, "entry_key": {"S": key}} for key in dict.fromkeys(entry_keys)],
            "ConsistentRead": True,
        }
    found: dict[str, list[dict[str, Any]]] = {}
    while request:
        reply = _client().batch_get_item(RequestItems=request)
        for table, items in reply.get("Responses", {}).items():
            found.setdefault(table, []).extend(items)
        request = reply.get("UnprocessedKeys") or {}
    claims = [Claim.from_raw_data(item) for item in found.get(config.CLAIMS_TABLE, [])]
    entries = [LedgerEntry.from_raw_data(item) for item in found.get(config.LEDGER_TABLE, [])]
    markers = [StripeEvent.from_raw_data(item) for item in found.get(config.STRIPE_EVENTS_TABLE, [])]
    return Loaded(
        claims[0] if claims else None,
        {entry.entry_key: entry for entry in entries},
        any(marker.applied_at is not None for marker in markers),
    )


def _claim_of(movement: Movement) -> tuple[str, str]:
    if movement.merchant_id and movement.claim_id:
        return movement.merchant_id, movement.claim_id
    try:
        ref = StripePaymentRef.get(f"pi#{movement.payment_intent}", consistent_read=True)
    except StripePaymentRef.DoesNotExist:
        raise NotReadyYet(f"{movement.event_type} {movement.event_id}: payment not recorded yet") from None
    return ref.merchant_id, ref.claim_id


def _needed_keys(movement: Movement) -> list[str]:
    keys = [key for key, _ in movement.legs]
    if movement.kind in ("refund", "dispute_opened", "dispute_won"):
        keys.append(f"payment#{movement.payment_intent}")
    if movement.kind in ("dispute_won", "dispute_lost"):
        keys.append(f"refund#{movement.dispute_id}")
    return keys


def _marker(movement: Movement, now: datetime) -> Write:
    item = StripeEvent(pk=f"event#{movement.event_id}")
    return Write(
        item,
        condition=StripeEvent.applied_at.does_not_exist(),
        actions=[
            StripeEvent.applied_at.set(now),
            StripeEvent.type.set(movement.event_type),
            StripeEvent.expires_at.set(int((now + EVENT_RETENTION).timestamp())),
        ],
    )


@dataclass
class Plan:
    writes: list[Write]
    happened: list[events.Event]
    marker_at: int
    outcome: str
    paid: int = 0  # the amount of the event's own payment, when this commit records it
    paid_at: datetime | None = None  # and when it was made
    discount: int = 0  # the early-payment discount that payment earned (recobro.claims.early_payment)


def _entry(claim: Claim, key: str, kind: str, amount: int, allocation: Allocation, movement: Movement) -> LedgerEntry:
    now = clock.now()
    reference = key.split("#", 1)[1]
    return LedgerEntry(
        claim_ref=claim_ref(claim.merchant_id, claim.claim_id),
        entry_key=key,
        entry_id=new_id("pay" if kind == "payment" else "rfd"),
        kind=kind,
        amount=amount,
        currency=claim.currency,
        external_reference=reference,
        payment_reference=None if key == f"payment#{movement.payment_intent}" else movement.payment_intent,
        allocations=json.dumps(allocation.to_installments),
        to_credit=allocation.to_credit,
        occurred_at=movement.occurred_at if movement.occurred_at.timestamp() > 0 else now,
        created_at=now,
        reason="dispute" if movement.dispute_id else ("requested_by_customer" if kind == "refund" else None),
    )


def _plan(movement: Movement, loaded: Loaded) -> Plan:
    claim = loaded.claim
    assert claim is not None
    now = clock.now()
    entries = loaded.entries
    payment = entries.get(f"payment#{movement.payment_intent}")
    if movement.kind in ("refund", "dispute_opened", "dispute_won") and payment is None:
        raise NotReadyYet(f"{movement.event_type} {movement.event_id}: payment not recorded yet")
    opened = f"refund#{movement.dispute_id}" in entries
    if movement.kind in ("dispute_won", "dispute_lost") and movement.holds_funds and not opened:
        raise NotReadyYet(f"{movement.event_type} {movement.event_id}: dispute not opened yet")
    if movement.legs and movement.currency and movement.currency != claim.currency:
        raise Unapplicable(f"{movement.event_id}: {movement.currency} on a {claim.currency} claim")

    previous = claim.status
    balance = balance_of(claim)
    new_entries: list[LedgerEntry] = []
    happened: list[events.Event] = []
    refunded_delta = 0
    discount = 0
    refundable = int(payment.amount) - int(payment.amount_refunded or 0) if payment is not None else 0
    for key, amount in movement.legs:
        if key in entries or amount <= 0:
            continue
        settlement = None
        if key.startswith("payment#"):
            allocation = apply_payment(balance, amount)
            entry = _entry(claim, key, "payment", amount, allocation, movement)
            if movement.kind == "payment":
                reference = entry.external_reference
                settlement = early_payment.honour(claim, allocation.balance, entry.occurred_at, reference, now)
                entry.discount = settlement.amount if settlement else None
                happened.append(events.Event("payment.succeeded", claim.merchant_id, claim.claim_id, entry_view(entry)))
            if payment is not None and key != f"payment#{movement.payment_intent}":
                refunded_delta -= amount  # a won dispute gives the payment its money back
        else:
            amount = min(amount, refundable - refunded_delta)  # never more than the payment still holds
            amount = min(amount, balance.amount_paid + balance.credit)
            if amount <= 0:
                logger.warning("refund beyond the payment ignored", extra={"stripe_event_id": movement.event_id})
                continue
            allocation = apply_refund(balance, amount)
            entry = _entry(claim, key, "refund", amount, allocation, movement)
            if movement.kind == "refund":
                happened.append(events.Event("payment.refunded", claim.merchant_id, claim.claim_id, entry_view(entry)))
            refunded_delta += amount
        balance = allocation.balance
        new_entries.append(entry)
        if settlement is not None:  # the payment took an early-payment offer
            balance, discount = settlement.balance, discount + settlement.amount
            new_entries.append(settlement.entry)
            happened.append(settlement.event)

    settled = balance.amount_paid + balance.amount_discounted
    status = lifecycle.after_money_moved(previous, int(claim.amount_total), settled)
    if movement.kind == "dispute_opened" and previous not in lifecycle.FINAL_STATUSES:
        status = "disputed"
    elif movement.kind in ("dispute_won", "dispute_lost") and status == "disputed":
        status = lifecycle.balance_status(int(claim.amount_total), settled)

    writes: list[Write] = []
    if new_entries or status != previous:
        _apply_balance(claim, balance)
        claim.status = status
        claim.status_reason = "dispute" if status == "disputed" else claim.status_reason
        claim.updated_at = now
        schedule_next_reminder(claim)
    happened.extend(_notice(movement, claim, new_entries))
    if new_entries or status != previous:
        reason = "dispute" if movement.dispute_id else None
        happened.extend(_status_events(claim, previous, reason))
        writes.append(Write(claim))
        writes.extend(Write(entry, condition=LedgerEntry.entry_key.does_not_exist()) for entry in new_entries)
    marker_at = len(writes)
    writes.append(_marker(movement, now))
    if payment is not None and refunded_delta:
        seen = int(payment.amount_refunded or 0)
        writes.append(
            Write(
                payment,
                condition=LedgerEntry.amount_refunded == seen,
                actions=[LedgerEntry.amount_refunded.set(seen + refunded_delta)],
            )
        )
    if movement.kind == "payment" and new_entries:
        ref = StripePaymentRef(
            pk=f"pi#{movement.payment_intent}", merchant_id=claim.merchant_id, claim_id=claim.claim_id
        )
        writes.append(Write(ref))
    writes.extend(Write(event.to_item()) for event in happened)
    outcome = "applied" if new_entries or status != previous else "nothing_to_move"
    own = f"payment#{movement.payment_intent}"
    paid_entries = [e for e in new_entries if e.entry_key == own] if movement.kind == "payment" else []
    paid = sum(int(e.amount) for e in paid_entries)
    paid_at = paid_entries[0].occurred_at if paid_entries else None
    return Plan(writes, happened, marker_at, outcome, paid, paid_at, discount)


def _claim_view(claim: Claim) -> dict[str, Any]:
    return {
        "status": claim.status,
        "amount_paid": int(claim.amount_paid),
        "amount_due": amounts.claim_owed(claim),
        "credit": int(claim.credit or 0),
    }


def _notice(movement: Movement, claim: Claim, new_entries: list[LedgerEntry]) -> list[events.Event]:
    """The merchant-facing event of a failed payment or a dispute (payments and refunds have theirs)."""
    moved = sum(int(e.amount) for e in new_entries)
    common = {"claim_id": claim.claim_id, "payment_intent": movement.payment_intent}
    if movement.kind == "payment_failed":
        failure = movement.failure
        data: dict[str, Any] = {
            "object": "payment_failure",
            **common,
            "amount": movement.amount,
            "currency": movement.currency or claim.currency,
            "failure_code": failure.code if failure else None,
            "decline_code": failure.decline_code if failure else None,
            "failure_message": failure.message if failure else None,
            "failed_at": utc_iso(movement.occurred_at),
        }
        return [events.Event("payment.failed", claim.merchant_id, claim.claim_id, data)]
    if movement.kind not in ("dispute_opened", "dispute_won", "dispute_lost"):
        return []
    data = {
        "id": movement.dispute_id,
        "object": "dispute",
        **common,
        "charge": movement.charge_id,
        "amount": movement.amount,
        "currency": claim.currency,
        "status": movement.dispute_status,
        "reason": movement.dispute_reason,
        "claim": _claim_view(claim),
    }
    if movement.kind == "dispute_opened":
        data["funds_withdrawn"] = moved
        return [events.Event("dispute.opened", claim.merchant_id, claim.claim_id, data)]
    data["outcome"] = "won" if movement.kind == "dispute_won" else "lost"
    data["funds_reinstated"] = moved
    return [events.Event("dispute.closed", claim.merchant_id, claim.claim_id, data)]


def _listed_refunds(charge_id: str) -> list[dict[str, Any]]:
    """Every refund of a charge, from Stripe (the event did not list them all)."""
    from recobro.payments import stripe_api

    listed = stripe_api.client().v1.refunds.list(params={"charge": charge_id, "limit": 100})
    return [refund.to_dict() for refund in listed.auto_paging_iter()]


def _after_commit(movement: Movement, plan: Plan, claim: Claim) -> None:
    """What follows a commit that newly applied the event: never raises, the money is recorded."""
    events.published(plan.happened)
    on_page = not movement.plan_charge  # the funnel follows the page; a plan's later charges are not page steps
    if movement.kind == "payment_failed" and on_page:
        funnel.count(claim.merchant_id, "payment_failed")
    if not plan.paid:
        return
    if on_page:
        funnel.count(claim.merchant_id, "payment_succeeded")
    try:
        from recobro import receipts

        debtor = Debtor.get(claim.merchant_id, claim.debtor_id)
        balance_after = max(amounts.claim_owed(claim), 0)
        facts = {"amount": plan.paid, "balance_after": balance_after, "discount": plan.discount}
        receipts.send_receipt("payment", claim, debtor, facts)
    except Exception as exc:  # the payment stands; a lost receipt is logged (ids only: SES errors name addresses)
        logger.warning(
            "payment receipt not sent",
            extra={"stripe_event_id": movement.event_id, "claim_id": claim.claim_id, "error": type(exc).__name__},
        )
    stats.credit_payment_quietly(claim, plan.paid_at or clock.now())


def apply(event: dict[str, Any]) -> str:
    """Apply one verified Stripe event; return what happened (applied, duplicate, ignored, ...)."""
    movement = movement_of(event)
    if movement.kind == "ignored":
        return "ignored"
    merchant_id, claim_id = _claim_of(movement)
    if movement.kind == "refund" and not movement.refunds_listed and movement.charge_id:
        movement = with_refunds(movement, _listed_refunds(movement.charge_id))
    for attempt in range(MAX_ATTEMPTS):
        loaded = _load(merchant_id, claim_id, _needed_keys(movement), movement.event_id)
        if loaded.applied:
            return "duplicate"
        claim = loaded.claim
        if claim is None:
            raise Unapplicable(f"{movement.event_id}: no claim {claim_id} for merchant {merchant_id}")
        plan = _plan(movement, loaded)
        try:
            commit(plan.writes)
        except TransactionConflict as conflict:
            if plan.marker_at in conflict.failed:
                return "duplicate"
            _backoff(attempt)
            continue  # the claim or an entry moved meanwhile: re-read and re-plan
        _after_commit(movement, plan, claim)
        return plan.outcome
    raise TransactionConflict([0])
