"""How an off-session attempt's answer from Stripe becomes succeeded, declined (the debtor's) or error (ours)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import stripe
from recobro.payments import stripe_api
from recobro.plans import cards


class FakePaymentIntents:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.requests: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def create(self, params: dict[str, Any], options: dict[str, Any]) -> Any:
        self.requests.append((params, options))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def charge(monkeypatch: pytest.MonkeyPatch, answer: Any, ui: str = "card_element") -> tuple[cards.ChargeOutcome, Any]:
    intents = FakePaymentIntents(answer)
    fake = SimpleNamespace(v1=SimpleNamespace(payment_intents=intents))
    monkeypatch.setattr(stripe_api, "client", lambda: fake)
    monkeypatch.setenv("STRIPE_UI", ui)
    outcome = cards.charge_off_session(
        amount=2500,
        currency="EUR",
        customer_id="cus_1",
        payment_method_id="pm_1",
        metadata={"merchant_id": "m", "claim_id": "clm_1", "plan_id": "plan_1", "plan_charge": "1"},
        idempotency_key="key-1",
    )
    return outcome, intents


def test_a_confirmed_charge_succeeds_and_carries_its_request(monkeypatch: pytest.MonkeyPatch):
    outcome, intents = charge(monkeypatch, SimpleNamespace(id="pi_ok", status="succeeded"))
    assert outcome == cards.ChargeOutcome("succeeded", "pi_ok")
    params, options = intents.requests[0]
    assert options == {"idempotency_key": "key-1"}
    assert (params["off_session"], params["confirm"], params["currency"], params["amount"]) == (True, True, "eur", 2500)
    assert "automatic_payment_methods" not in params  # localstripe knows no such parameter


def test_with_stripe_itself_no_redirect_methods_are_offered(monkeypatch: pytest.MonkeyPatch):
    _, intents = charge(monkeypatch, SimpleNamespace(id="pi_ok", status="succeeded"), ui="payment_element")
    assert intents.requests[0][0]["automatic_payment_methods"] == {"enabled": True, "allow_redirects": "never"}


def test_a_decline_is_the_cards_and_names_stripes_decline_code(monkeypatch: pytest.MonkeyPatch):
    body = {"error": {"code": "card_declined", "decline_code": "insufficient_funds", "payment_intent": {"id": "pi_d"}}}
    declined = stripe.CardError("Your card was declined.", None, "card_declined", json_body=body, http_status=402)
    outcome, _ = charge(monkeypatch, declined)
    assert outcome == cards.ChargeOutcome("declined", "pi_d", "insufficient_funds")


def test_an_intent_waiting_for_3d_secure_is_a_decline_off_session(monkeypatch: pytest.MonkeyPatch):
    outcome, _ = charge(monkeypatch, SimpleNamespace(id="pi_3ds", status="requires_action"))
    assert outcome == cards.ChargeOutcome("declined", "pi_3ds", "authentication_required")


@pytest.mark.parametrize(
    "failure",
    [stripe.APIConnectionError("network down"), stripe.RateLimitError("slow down"), stripe.APIError("oops")],
)
def test_stripe_failing_is_ours_not_the_debtors(monkeypatch: pytest.MonkeyPatch, failure: Exception):
    outcome, _ = charge(monkeypatch, failure)
    assert outcome.result == "error" and outcome.payment_intent is None
