"""The pure mapping from a Stripe event to the money it moves."""

from __future__ import annotations

from typing import Any

import pytest
from recobro.payments.mapping import Failure, UnusableEvent, movement_of, with_refunds

META = {"merchant_id": "m-1", "claim_id": "clm_1"}


def _event(type_: str, obj: dict[str, Any], event_id: str = "evt_1") -> dict[str, Any]:
    return {"id": event_id, "type": type_, "created": 1_760_000_000, "data": {"object": obj}}


def test_a_succeeded_payment_intent_is_one_payment_keyed_by_its_id() -> None:
    m = movement_of(
        _event("payment_intent.succeeded", {"id": "pi_1", "amount_received": 1234, "currency": "eur", "metadata": META})
    )
    assert (m.kind, m.merchant_id, m.claim_id, m.currency) == ("payment", "m-1", "clm_1", "EUR")
    assert m.legs == (("payment#pi_1", 1234),)


def test_a_payment_intent_without_our_metadata_is_ignored() -> None:
    m = movement_of(_event("payment_intent.succeeded", {"id": "pi_2", "amount_received": 5, "metadata": {}}))
    assert m.kind == "ignored" and m.legs == ()


def test_a_failed_payment_moves_no_money() -> None:
    m = movement_of(_event("payment_intent.payment_failed", {"id": "pi_3", "amount": 500, "metadata": META}))
    assert m.kind == "payment_failed" and m.total == 0


def test_a_refunded_charge_lists_every_refund_by_its_id() -> None:
    charge = {
        "id": "ch_1",
        "payment_intent": "pi_1",
        "currency": "eur",
        "refunds": {
            "data": [
                {"id": "re_1", "amount": 300, "status": "succeeded"},
                {"id": "re_2", "amount": 200, "status": "failed"},
                {"id": "re_3", "amount": 100, "status": "pending"},
            ]
        },
    }
    m = movement_of(_event("charge.refunded", charge))
    assert m.kind == "refund" and m.payment_intent == "pi_1" and m.merchant_id is None
    assert m.legs == (("refund#re_1", 300), ("refund#re_3", 100))


def test_a_refund_without_its_list_asks_for_the_charges_refunds() -> None:
    m = movement_of(_event("charge.refunded", {"id": "ch_1", "payment_intent": "pi_1", "amount_refunded": 5}))
    assert (m.kind, m.legs, m.refunds_listed, m.charge_id) == ("refund", (), False, "ch_1")
    listed = with_refunds(
        m, [{"id": "re_1", "amount": 5, "status": "succeeded"}, {"id": "re_2", "amount": 9, "status": "canceled"}]
    )
    assert listed.legs == (("refund#re_1", 5),) and listed.refunds_listed


def test_a_truncated_refunds_list_is_not_trusted() -> None:
    charge = {
        "id": "ch_1",
        "payment_intent": "pi_1",
        "refunds": {"data": [{"id": "re_1", "amount": 1}], "has_more": True},
    }
    m = movement_of(_event("charge.refunded", charge))
    assert m.refunds_listed is False and m.legs == ()


def test_a_refund_with_neither_its_list_nor_its_charge_is_unusable() -> None:
    with pytest.raises(UnusableEvent):
        movement_of(_event("charge.refunded", {"payment_intent": "pi_1", "amount_refunded": 5}))


def test_a_failed_payment_keeps_stripes_reason_and_no_card_data() -> None:
    error = {
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
        "payment_method": {"id": "pm_1", "card": {"brand": "visa", "last4": "9995", "exp_month": 12}},
    }
    pi = {"id": "pi_9", "amount": 1500, "currency": "eur", "metadata": META, "last_payment_error": error}
    m = movement_of(_event("payment_intent.payment_failed", pi))
    assert m.failure == Failure("card_declined", "insufficient_funds", "Your card has insufficient funds.")
    assert (m.amount, m.legs) == (1500, ())
    assert "9995" not in repr(m) and "visa" not in repr(m)


@pytest.mark.parametrize(
    ("type_", "status", "kind", "legs"),
    [
        ("charge.dispute.created", "needs_response", "dispute_opened", (("refund#dp_1", 700),)),
        ("charge.dispute.created", "warning_needs_response", "dispute_opened", ()),
        ("charge.dispute.closed", "won", "dispute_won", (("payment#dp_1.reinstated", 700),)),
        ("charge.dispute.closed", "lost", "dispute_lost", ()),
        ("charge.dispute.closed", "warning_closed", "dispute_won", ()),
    ],
)
def test_disputes_take_money_back_and_a_win_returns_it(type_: str, status: str, kind: str, legs: tuple) -> None:
    dispute = {"id": "dp_1", "amount": 700, "currency": "eur", "status": status, "payment_intent": "pi_1"}
    m = movement_of(_event(type_, dispute))
    assert (m.kind, m.legs, m.dispute_id, m.payment_intent) == (kind, legs, "dp_1", "pi_1")


def test_other_event_types_are_ignored() -> None:
    assert movement_of(_event("customer.created", {"id": "cus_1"})).kind == "ignored"


def test_an_event_without_an_id_is_unusable() -> None:
    with pytest.raises(UnusableEvent):
        movement_of({"type": "payment_intent.succeeded"})


def test_an_installment_plans_charge_is_marked_as_such() -> None:
    plan = {**META, "plan_id": "plan_1", "plan_charge": "2"}
    m = movement_of(_event("payment_intent.succeeded", {"id": "pi_7", "amount_received": 2500, "metadata": plan}))
    assert m.plan_charge and m.legs == (("payment#pi_7", 2500),)
    page = movement_of(_event("payment_intent.succeeded", {"id": "pi_8", "amount_received": 2500, "metadata": META}))
    assert not page.plan_charge
