"""Payments made elsewhere and their refunds: every cent to the right installment, once.

Each movement is one DynamoDB transaction: the claim (under its version), the ledger entry
(whose key makes the external reference count once), the discount entry when the payment takes
an early-payment offer (recobro.claims.early_payment), and the events. A version conflict means
another movement won the race: re-read and re-apply, so concurrent payments all land exactly.
A newly recorded payment (not a replay of its external reference) then credits the reminders sent
in the 7 days before it (their variants' reward, recobro.optimise.stats).
"""

from __future__ import annotations

import json
import random
import time
from datetime import datetime
from typing import Any

from recobro import clock, events
from recobro.claims import amounts, early_payment, lifecycle
from recobro.claims.allocation import Balance, apply_payment, apply_refund
from recobro.claims.payment_schemas import PaymentIn, RefundIn
from recobro.claims.service import get_claim, schedule_next_reminder
from recobro.errors import Conflict, NotFound, ValidationFailed
from recobro.ids import new_id
from recobro.optimise import stats
from recobro.reminders.schedule import utc_iso
from recobro.storage.models import Claim, LedgerEntry, claim_ref
from recobro.storage.transactions import TransactionConflict, Write, commit

MAX_ATTEMPTS = 25


balance_of = amounts.balance_of
_apply_balance = amounts.apply_balance


def entry_view(entry: LedgerEntry, claim: Claim | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": entry.entry_id,
        "object": entry.kind,
        "claim_id": entry.claim_ref.split("#", 1)[1],
        "amount": int(entry.amount),
        "currency": entry.currency,
        "external_reference": entry.external_reference,
        "allocations": [{"installment": n, "amount": a} for n, a in json.loads(entry.allocations)],
        "credit": int(entry.to_credit or 0),
        "created_at": utc_iso(entry.created_at),
    }
    if entry.kind == "payment":
        view["paid_at"] = utc_iso(entry.occurred_at)
        view["amount_refunded"] = int(entry.amount_refunded or 0)
        view["discount"] = int(entry.discount or 0)
    elif entry.kind == "discount":
        view["applied_at"] = utc_iso(entry.occurred_at)
        view["payment_reference"] = entry.payment_reference
        view["reason"] = entry.reason
    else:
        view["refunded_at"] = utc_iso(entry.occurred_at)
        view["payment_reference"] = entry.payment_reference
        view["reason"] = entry.reason
    if claim is not None:
        view["claim"] = {
            "status": claim.status,
            "amount_paid": int(claim.amount_paid),
            "amount_due": amounts.claim_owed(claim),
            "credit": int(claim.credit or 0),
        }
    return view


def _existing(merchant_id: str, claim_id: str, key: str) -> LedgerEntry | None:
    try:
        return LedgerEntry.get(claim_ref(merchant_id, claim_id), key, consistent_read=True)
    except LedgerEntry.DoesNotExist:
        return None


def _replay(entry: LedgerEntry, amount: int, currency: str, merchant_id: str, claim_id: str) -> dict[str, Any]:
    """The same external reference again: the first result if it says the same, else a conflict."""
    if int(entry.amount) != amount or entry.currency != currency:
        raise Conflict(
            f"This external_reference was already recorded with {entry.amount} {entry.currency}.",
            field="external_reference",
            code_override="external_reference_reused",
        )
    return entry_view(entry, get_claim(merchant_id, claim_id))


def _backoff(attempt: int) -> None:
    time.sleep(min(0.2, 0.005 * 2**attempt) * random.random())  # noqa: S311 - jitter, not crypto


def _status_events(claim: Claim, previous: str, reason: str | None = None) -> list[events.Event]:
    if claim.status == previous:
        return []
    data = {"claim_id": claim.claim_id, "previous_status": previous, "status": claim.status, "reason": reason}
    changed = [events.Event("claim.status_changed", claim.merchant_id, claim.claim_id, data)]
    if claim.status == "paid":
        changed.append(events.Event("claim.paid", claim.merchant_id, claim.claim_id, data))
    return changed


def _move_money(claim: Claim, balance: Balance, now: datetime) -> tuple[str, list[events.Event]]:
    previous = claim.status
    _apply_balance(claim, balance)
    claim.status = lifecycle.after_money_moved(previous, int(claim.amount_total), amounts.settled(claim))
    claim.updated_at = now
    schedule_next_reminder(claim)
    return previous, _status_events(claim, previous)


def record_payment(merchant_id: str, claim_id: str, payment: PaymentIn) -> dict[str, Any]:
    key = f"payment#{payment.external_reference}"
    for attempt in range(MAX_ATTEMPTS):
        claim = get_claim(merchant_id, claim_id, consistent=True)
        existing = _existing(merchant_id, claim_id, key)
        if existing is not None:
            return _replay(existing, payment.amount, payment.currency, merchant_id, claim_id)
        if payment.currency != claim.currency:
            raise ValidationFailed(f"This claim is in {claim.currency}.", field="currency")
        if claim.status not in lifecycle.ACCEPTS_PAYMENTS:
            raise Conflict(
                f"A claim that is {claim.status} does not take payments.",
                code_override="invalid_status_transition",
                current_status=claim.status,
            )
        now = clock.now()
        allocation = apply_payment(balance_of(claim), payment.amount)
        paid_at = payment.paid_at or now
        discount = early_payment.honour(claim, allocation.balance, paid_at, payment.external_reference, now)
        _, status_events = _move_money(claim, discount.balance if discount else allocation.balance, now)
        entry = LedgerEntry(
            claim_ref=claim_ref(merchant_id, claim_id),
            entry_key=key,
            entry_id=new_id("pay"),
            kind="payment",
            amount=payment.amount,
            currency=payment.currency,
            external_reference=payment.external_reference,
            allocations=json.dumps(allocation.to_installments),
            to_credit=allocation.to_credit,
            occurred_at=paid_at,
            created_at=now,
            discount=discount.amount if discount else None,
        )
        view = entry_view(entry, claim)
        happened = [events.Event("payment.succeeded", merchant_id, claim_id, entry_view(entry))]
        happened += [discount.event] if discount else []
        happened += status_events
        settled = [Write(discount.entry, condition=LedgerEntry.entry_key.does_not_exist())] if discount else []
        try:
            commit(_writes(claim, entry, happened, settled))
        except TransactionConflict as conflict:
            if 1 in conflict.failed:
                continue  # recorded meanwhile under the same reference: replay it
            _backoff(attempt)
            continue
        events.published(happened)
        stats.credit_payment_quietly(claim, entry.occurred_at)
        return view
    raise Conflict("The claim is changing too fast; retry the request.", code_override="concurrent_update")


def _writes(
    claim: Claim, entry: LedgerEntry, happened: list[events.Event], more: list[Write] | None = None
) -> list[Write]:
    return [
        Write(claim),  # position 0: its version condition
        Write(entry, condition=LedgerEntry.entry_key.does_not_exist()),  # position 1
        *(more or []),
        *(Write(event.to_item()) for event in happened),
    ]


def record_refund(merchant_id: str, claim_id: str, refund: RefundIn) -> dict[str, Any]:
    key = f"refund#{refund.external_reference}"
    for attempt in range(MAX_ATTEMPTS):
        claim = get_claim(merchant_id, claim_id, consistent=True)
        existing = _existing(merchant_id, claim_id, key)
        if existing is not None:
            return _replay(existing, refund.amount, claim.currency, merchant_id, claim_id)
        payment = _existing(merchant_id, claim_id, f"payment#{refund.payment_reference}")
        if payment is None:
            raise NotFound("No payment with this reference on this claim.", field="payment_reference")
        refundable = int(payment.amount) - int(payment.amount_refunded or 0)
        if refund.amount > refundable:
            raise Conflict(
                f"Only {refundable} of this payment can still be refunded.",
                field="amount",
                code_override="refund_exceeds_payment",
                refundable=refundable,
            )
        now = clock.now()
        allocation = apply_refund(balance_of(claim), refund.amount)
        _, status_events = _move_money(claim, allocation.balance, now)
        entry = LedgerEntry(
            claim_ref=claim_ref(merchant_id, claim_id),
            entry_key=key,
            entry_id=new_id("rfd"),
            kind="refund",
            amount=refund.amount,
            currency=claim.currency,
            external_reference=refund.external_reference,
            payment_reference=refund.payment_reference,
            allocations=json.dumps(allocation.to_installments),
            to_credit=allocation.to_credit,
            occurred_at=refund.refunded_at or now,
            created_at=now,
            reason=refund.reason,
        )
        seen_refunded = int(payment.amount_refunded or 0)
        happened = [events.Event("payment.refunded", merchant_id, claim_id, entry_view(entry)), *status_events]
        payment_update = Write(
            payment,
            condition=LedgerEntry.amount_refunded == seen_refunded,
            actions=[LedgerEntry.amount_refunded.set(seen_refunded + refund.amount)],
        )
        try:
            commit([*_writes(claim, entry, happened), payment_update])
        except TransactionConflict as conflict:
            if 1 in conflict.failed:
                continue
            _backoff(attempt)
            continue
        events.published(happened)
        return entry_view(entry, claim)
    raise Conflict("The claim is changing too fast; retry the request.", code_override="concurrent_update")


def ledger(merchant_id: str, claim_id: str) -> list[dict[str, Any]]:
    get_claim(merchant_id, claim_id)
    entries = LedgerEntry.query(claim_ref(merchant_id, claim_id))
    # A discount is written with the payment that earned it (same instant): list it after it.
    return sorted((entry_view(e) for e in entries), key=lambda v: (v["created_at"], v["object"] == "discount"))
