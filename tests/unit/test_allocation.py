"""Money rules of payments and refunds, as properties over any sequence of them."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from recobro.claims.allocation import Balance, apply_payment, apply_refund
from recobro.claims.lifecycle import after_action, after_money_moved
from recobro.errors import Conflict


def fresh(*amounts: int) -> Balance:
    return Balance(tuple(amounts), tuple(0 for _ in amounts))


def test_a_payment_settles_the_oldest_installment_first():
    result = apply_payment(fresh(2500, 2500, 2500), 3000)
    assert result.balance.paid == (2500, 500, 0)
    assert result.to_installments == ((1, 2500), (2, 500))
    assert result.to_credit == 0


def test_an_overpayment_becomes_credit():
    result = apply_payment(fresh(1000, 1000), 2500)
    assert result.balance.paid == (1000, 1000)
    assert result.balance.credit == 500
    assert result.balance.amount_due == 0


def test_a_refund_takes_credit_first_then_the_newest_installment():
    paid = apply_payment(fresh(1000, 1000, 1000), 3200).balance
    refunded = apply_refund(paid, 700)
    assert refunded.to_credit == 200
    assert refunded.balance.paid == (1000, 1000, 500)
    assert refunded.balance.credit == 0


def test_refunding_more_than_was_received_is_refused():
    with pytest.raises(ValueError):
        apply_refund(apply_payment(fresh(1000), 400).balance, 401)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(min_value=1, max_value=10**9)),
        st.tuples(st.just("refund"), st.integers(min_value=1, max_value=10**9)),
    ),
    max_size=40,
)


@settings(max_examples=300)
@given(st.lists(st.integers(min_value=1, max_value=10**8), min_size=1, max_size=12), operations)
def test_any_sequence_of_payments_and_refunds_keeps_the_books_exact(amounts, steps):
    balance = fresh(*amounts)
    received = 0
    for kind, amount in steps:
        if kind == "pay":
            allocation = apply_payment(balance, amount)
            received += amount
        else:
            amount = min(amount, received)
            if amount == 0:
                continue
            allocation = apply_refund(balance, amount)
            received -= amount
        moved = sum(a for _, a in allocation.to_installments) + allocation.to_credit
        assert moved == amount  # every cent lands somewhere, exactly once
        balance = allocation.balance
        assert balance.amount_paid + balance.amount_due == sum(amounts)
        assert all(0 <= p <= a for p, a in zip(balance.paid, balance.amounts, strict=True))
        assert balance.credit >= 0
        assert balance.amount_paid + balance.credit == received
        # Installments are paid in order: no later one holds money while an earlier one is open.
        first_open = next((i for i, (p, a) in enumerate(zip(balance.paid, amounts, strict=True)) if p < a), None)
        if first_open is not None:
            assert all(p == 0 for p in balance.paid[first_open + 1 :])


@pytest.mark.parametrize(
    ("action", "current"),
    [
        ("pause", "paused"),
        ("pause", "paid"),
        ("resume", "open"),
        ("cancel", "paid"),
        ("cancel", "cancelled"),
        ("write_off", "written_off"),
        ("write_off", "cancelled"),
        ("resume", "written_off"),
    ],
)
def test_disallowed_transitions_are_conflicts_naming_the_current_status(action, current):
    with pytest.raises(Conflict) as caught:
        after_action(action, current, 1000, 0)
    assert caught.value.body()["error"]["code"] == "invalid_status_transition"
    assert caught.value.body()["error"]["current_status"] == current


def test_resuming_returns_to_what_the_balance_says():
    assert after_action("resume", "paused", 1000, 0) == "open"
    assert after_action("resume", "paused", 1000, 400) == "partially_paid"


def test_settling_a_held_or_written_off_claim_makes_it_paid():
    for held in ("paused", "disputed", "written_off"):
        assert after_money_moved(held, 1000, 1000) == "paid"
        assert after_money_moved(held, 1000, 999) == held
    assert after_money_moved("paid", 1000, 200) == "partially_paid"
