"""Pure mapping from a Stripe event to the money it moves (docs/adr/0007-stripe-reconciliation.md).

No I/O: the reconciler decides what to write from a `Movement`. Amounts are Stripe's minor units,
currencies upper-case like the claims'. The PaymentIntent's metadata names the claim
(`merchant_id`, `claim_id`); refunds and disputes are found through their PaymentIntent.
A `charge.refunded` whose charge does not embed its full refunds list (API versions since
2022-11-15 omit it; older ones embed the first ten) maps to a refund movement with
`refunds_listed=False`: the reconciler lists the charge's refunds from Stripe and completes it
with `with_refunds`, which is pure like the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

HANDLED_TYPES = frozenset(
    {
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "charge.refunded",
        "charge.dispute.created",
        "charge.dispute.closed",
    }
)

# Stripe refund statuses whose money has left (or is leaving) the merchant's balance.
_REFUND_COUNTS = frozenset({"succeeded", "pending"})


@dataclass(frozen=True)
class Failure:
    """Why Stripe declined: its codes and its customer-facing message (last_payment_error)."""

    code: str | None
    decline_code: str | None
    message: str | None


class UnusableEvent(ValueError):
    """A handled event type without the fields reconciliation needs (sent to the DLQ for a human)."""


@dataclass(frozen=True)
class Movement:
    """What one Stripe event means for a claim.

    kind: payment | payment_failed | refund | dispute_opened | dispute_won | dispute_lost | ignored
    legs: (ledger entry key, amount) pairs to write if not written yet, in order.
    """

    kind: str
    event_id: str
    event_type: str
    payment_intent: str | None = None
    merchant_id: str | None = None
    claim_id: str | None = None
    currency: str | None = None
    legs: tuple[tuple[str, int], ...] = ()
    dispute_id: str | None = None
    holds_funds: bool = True  # False for inquiries (warning_*): the claim is held, no money moves
    occurred_at: datetime = field(default_factory=lambda: datetime.fromtimestamp(0, UTC))
    amount: int | None = None  # what the event is about: the failed attempt's or the dispute's amount
    charge_id: str | None = None
    refunds_listed: bool = True  # False: the charge did not list all its refunds; ask Stripe
    failure: Failure | None = None  # payment_failed: Stripe's reason, never card data
    dispute_status: str | None = None
    dispute_reason: str | None = None  # Stripe's category (fraudulent, product_not_received, ...)
    plan_charge: bool = False  # an installment plan's off-session charge, not a payment made on the page

    @property
    def total(self) -> int:
        return sum(amount for _, amount in self.legs)


def _object(event: dict[str, Any]) -> dict[str, Any]:
    obj = (event.get("data") or {}).get("object")
    if not isinstance(obj, dict):
        raise UnusableEvent("event without data.object")
    return obj


def _claim_of(metadata: Any) -> tuple[str | None, str | None]:
    if not isinstance(metadata, dict):
        return None, None
    merchant_id, claim_id = metadata.get("merchant_id"), metadata.get("claim_id")
    if isinstance(merchant_id, str) and isinstance(claim_id, str) and merchant_id and claim_id:
        return merchant_id, claim_id
    return None, None


def _id(value: Any) -> str | None:
    """Stripe sends either an id or the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _amount(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UnusableEvent(f"{what} is not an amount")
    return value


def _text(value: Any, limit: int = 500) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _failure(obj: dict[str, Any]) -> Failure:
    error = obj.get("last_payment_error")
    if not isinstance(error, dict):
        return Failure(None, None, None)
    # Only Stripe's codes and message: the error also carries the payment method (card brand,
    # last4, country...), which stays with Stripe.
    return Failure(_text(error.get("code"), 64), _text(error.get("decline_code"), 64), _text(error.get("message")))


def refund_legs(refunds: Any) -> tuple[tuple[str, int], ...]:
    """Ledger legs of a charge's refunds (a list of Stripe refund objects): the ones whose money moved."""
    if not isinstance(refunds, list):
        raise UnusableEvent("refunds is not a list")
    return tuple(
        (f"refund#{_id(r)}", _amount(r.get("amount"), "refund amount"))
        for r in refunds
        if isinstance(r, dict) and _id(r) and r.get("status", "succeeded") in _REFUND_COUNTS
    )


def with_refunds(movement: Movement, refunds: list[dict[str, Any]]) -> Movement:
    """A refund movement completed with the charge's refunds as listed by Stripe."""
    return replace(movement, legs=refund_legs(refunds), refunds_listed=True)


def _when(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC) if isinstance(value, int) else datetime.fromtimestamp(0, UTC)


def movement_of(event: dict[str, Any]) -> Movement:
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not isinstance(event_type, str):
        raise UnusableEvent("event without id or type")
    base: dict[str, Any] = {"event_id": event_id, "event_type": event_type}
    if event_type not in HANDLED_TYPES:
        return Movement("ignored", **base)
    obj = _object(event)
    occurred_at = _when(obj.get("created") or event.get("created"))
    if event_type.startswith("payment_intent."):
        merchant_id, claim_id = _claim_of(obj.get("metadata"))
        if merchant_id is None:
            return Movement("ignored", **base)  # not one of our pages' PaymentIntents
        pi = _id(obj.get("id"))
        plan_charge = bool(obj["metadata"].get("plan_charge"))
        common = {**base, "payment_intent": pi, "merchant_id": merchant_id, "claim_id": claim_id}
        common["plan_charge"] = plan_charge
        currency = str(obj.get("currency") or "").upper()
        if event_type == "payment_intent.payment_failed":
            attempted = obj.get("amount")
            return Movement(
                "payment_failed",
                currency=currency,
                occurred_at=_when(event.get("created") or obj.get("created")),
                amount=attempted if isinstance(attempted, int) and not isinstance(attempted, bool) else None,
                failure=_failure(obj),
                **common,
            )
        amount = _amount(obj.get("amount_received", obj.get("amount")), "amount_received")
        paid: tuple[tuple[str, int], ...] = ((f"payment#{pi}", amount),) if amount else ()
        return Movement("payment", currency=currency, legs=paid, occurred_at=_when(event.get("created")), **common)

    pi = _id(obj.get("payment_intent"))
    if pi is None:
        return Movement("ignored", **base)  # a charge made without a PaymentIntent is not ours
    merchant_id, claim_id = _claim_of(obj.get("metadata"))
    common = {**base, "payment_intent": pi, "merchant_id": merchant_id, "claim_id": claim_id}
    currency = str(obj.get("currency") or "").upper()
    if event_type == "charge.refunded":
        charge_id = _id(obj.get("id"))
        embedded = obj.get("refunds")
        listed = embedded if isinstance(embedded, dict) else {}
        complete = isinstance(listed.get("data"), list) and not listed.get("has_more")
        if not complete and charge_id is None:
            raise UnusableEvent("charge.refunded without its refunds or its charge id")
        return Movement(
            "refund",
            currency=currency,
            legs=refund_legs(listed["data"]) if complete else (),
            occurred_at=occurred_at,
            charge_id=charge_id,
            refunds_listed=complete,
            **common,
        )

    dispute_id = _id(obj.get("id"))
    amount = _amount(obj.get("amount"), "dispute amount")
    status = str(obj.get("status") or "")
    holds_funds = not status.startswith("warning_")  # inquiries move no money
    common.update(
        dispute_id=dispute_id,
        currency=currency,
        holds_funds=holds_funds,
        occurred_at=occurred_at,
        amount=amount,
        charge_id=_id(obj.get("charge")),
        dispute_status=status or None,
        dispute_reason=_text(obj.get("reason"), 64),
    )
    if event_type == "charge.dispute.created":
        legs = ((f"refund#{dispute_id}", amount),) if holds_funds else ()
        return Movement("dispute_opened", legs=legs, **common)
    if status == "lost":
        return Movement("dispute_lost", **common)
    if status in ("won", "warning_closed"):
        legs = ((f"payment#{dispute_id}.reinstated", amount),) if holds_funds else ()
        return Movement("dispute_won", legs=legs, **common)
    return Movement("ignored", **base)  # closed in another state: nothing to do yet
