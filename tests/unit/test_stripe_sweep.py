"""The sweep's pure parts: the event it synthesises maps like Stripe's own, and its settings."""

from __future__ import annotations

import pytest
from recobro.payments.mapping import movement_of
from recobro.payments.sweep import DEFAULT_DAYS, sweep_days, synthetic_event


def test_a_swept_payment_intent_maps_to_the_same_ledger_entry_as_its_webhook() -> None:
    payment_intent = {
        "id": "pi_123",
        "object": "payment_intent",
        "amount": 1800,
        "amount_received": 1800,
        "currency": "eur",
        "status": "succeeded",
        "created": 1_764_000_000,
        "metadata": {"merchant_id": "m-1", "claim_id": "clm_1"},
    }
    event = synthetic_event(payment_intent)
    assert event["id"] == "sweep_pi_123" and event["type"] == "payment_intent.succeeded"
    movement = movement_of(event)
    assert (movement.kind, movement.merchant_id, movement.claim_id) == ("payment", "m-1", "clm_1")
    assert movement.legs == (("payment#pi_123", 1800),)  # the key a late webhook writes too


@pytest.mark.parametrize(("value", "days"), [(None, DEFAULT_DAYS), ("7", 7), ("0", DEFAULT_DAYS), ("x", DEFAULT_DAYS)])
def test_the_window_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str | None, days: int) -> None:
    if value is None:
        monkeypatch.delenv("STRIPE_SWEEP_DAYS", raising=False)
    else:
        monkeypatch.setenv("STRIPE_SWEEP_DAYS", value)
    assert sweep_days() == days


def test_an_event_waiting_for_its_payment_looks_again_later_and_later_up_to_sqs_limit(monkeypatch) -> None:
    from recobro.payments import waiting

    monkeypatch.delenv("RECOBRO_STRIPE_MAX_WAIT_SECONDS", raising=False)  # the local stack shortens it

    delays = [waiting.delay_for(n) for n in range(8)]
    assert delays[0] == 30 and delays == sorted(delays) and max(delays) == waiting.MAX_DELAY_SECONDS
    assert sum(waiting.delay_for(n) for n in range(waiting.MAX_WAITS)) > 20 * 3600  # about a day before a human
