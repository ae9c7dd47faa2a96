"""The Stripe calls behind plans: a customer, SetupIntents that save a card, off-session charges.

Everything Stripe says is read server-side; the browser only ever holds a client secret.
With Stripe itself (the Payment Element UI) SetupIntents and PaymentIntents use automatic
payment methods without redirects, so an off-session confirm needs no return_url. localstripe
(the card element UI, recobro.payments.stripe_api.ui) knows neither parameter and saves cards
only, so there they are left out: that one switch stays the only difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe
from stripe.params import CustomerCreateParams, PaymentIntentCreateParams, SetupIntentCreateParams

from recobro.payments import stripe_api


@dataclass(frozen=True)
class SavedCard:
    """A SetupIntent as Stripe reports it."""

    id: str
    status: str
    customer: str | None
    payment_method: str | None
    metadata: dict[str, str]


@dataclass(frozen=True)
class ChargeOutcome:
    """What one off-session attempt did: succeeded, declined (the card's fault) or error (ours)."""

    result: str  # succeeded | declined | error
    payment_intent: str | None = None
    code: str | None = None  # Stripe's decline or error code; never card data


def _id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    found = getattr(value, "id", None)
    return found if isinstance(found, str) else None


def _automatic_methods() -> bool:
    return stripe_api.ui() == "payment_element"


def create_customer(merchant_id: str, claim_id: str, debtor_id: str) -> str:
    """A Stripe customer for the claim's saved card; no contact data leaves us."""
    params: CustomerCreateParams = {
        "metadata": {"merchant_id": merchant_id, "claim_id": claim_id, "debtor_id": debtor_id}
    }
    customer = stripe_api.client().v1.customers.create(
        params=params, options={"idempotency_key": f"recobro-customer-{merchant_id}-{claim_id}"}
    )
    return str(customer.id)


def create_setup_intent(customer_id: str, metadata: dict[str, str]) -> tuple[str, str]:
    """(SetupIntent id, client secret) for saving a card for later off-session charges."""
    params: SetupIntentCreateParams = {"customer": customer_id, "usage": "off_session", "metadata": metadata}
    if _automatic_methods():
        params["automatic_payment_methods"] = {"enabled": True, "allow_redirects": "never"}
    intent = stripe_api.client().v1.setup_intents.create(params=params)
    return str(intent.id), str(intent.client_secret)


def retrieve_setup_intent(setup_intent_id: str) -> SavedCard | None:
    """The SetupIntent as Stripe has it now, or None if Stripe knows no such SetupIntent."""
    if not setup_intent_id.startswith("seti_") or len(setup_intent_id) > 255:
        return None
    try:
        intent = stripe_api.client().v1.setup_intents.retrieve(setup_intent_id)
    except stripe.InvalidRequestError:
        return None
    metadata: dict[str, Any] = intent.metadata.to_dict() if intent.metadata is not None else {}
    return SavedCard(
        id=str(intent.id),
        status=str(intent.status),
        customer=_id(intent.customer),
        payment_method=_id(intent.payment_method),
        metadata={str(k): str(v) for k, v in metadata.items()},
    )


def charge_off_session(
    *,
    amount: int,
    currency: str,
    customer_id: str,
    payment_method_id: str,
    metadata: dict[str, str],
    idempotency_key: str,
) -> ChargeOutcome:
    """One confirmed off-session PaymentIntent; the idempotency key makes a repeat the same charge."""
    params: PaymentIntentCreateParams = {
        "amount": amount,
        "currency": currency.lower(),
        "customer": customer_id,
        "payment_method": payment_method_id,
        "off_session": True,
        "confirm": True,
        "metadata": metadata,
    }
    if _automatic_methods():
        params["automatic_payment_methods"] = {"enabled": True, "allow_redirects": "never"}
    try:
        intent = stripe_api.client().v1.payment_intents.create(
            params=params, options={"idempotency_key": idempotency_key}
        )
    except stripe.CardError as exc:
        error = exc.error
        code = (error.decline_code if error is not None else None) or exc.code or "card_declined"
        return ChargeOutcome("declined", _id(error.payment_intent) if error is not None else None, str(code))
    except stripe.StripeError as exc:
        # Network, rate limits, Stripe's own errors, a request Stripe refuses: ours to fix, not the debtor's.
        return ChargeOutcome("error", None, str(getattr(exc, "code", None) or type(exc).__name__))
    if intent.status in ("succeeded", "processing"):
        return ChargeOutcome("succeeded", str(intent.id))
    # Off session nobody can answer 3-D Secure: Stripe leaves the intent waiting for an action.
    return ChargeOutcome("declined", str(intent.id), "authentication_required")
