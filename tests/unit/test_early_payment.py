"""Early-payment offers: the discount's money, when an offer is made, and when a payment earns it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from recobro.claims.allocation import Balance, apply_discount, apply_payment, apply_refund
from recobro.claims.early_payment import InstallmentState, compute_offer, discount_due, discount_for, end_of_day

MADRID = "Europe/Madrid"
DUE = date(2026, 10, 1)
BEFORE = datetime(2026, 9, 28, 8, 0, tzinfo=UTC)


def one(amount: int, paid: int = 0, due: date = DUE) -> list[InstallmentState]:
    return [InstallmentState(1, due, amount, paid), InstallmentState(2, due + timedelta(days=31), amount, 0)]


def test_two_percent_of_25_euros_is_50_cents_off_and_24_50_to_pay():
    offer = compute_offer(one(2500), 1, 2, MADRID, "EUR", BEFORE)
    assert offer is not None
    assert (offer.discount, offer.amount_to_pay, offer.outstanding) == (50, 2450, 2500)
    assert offer.valid_until == datetime(2026, 10, 1, 23, 59, 59, 999999, tzinfo=ZoneInfo(MADRID))
    assert offer.valid_until.tzinfo is UTC and offer.due_date == DUE


def test_the_discount_rounds_down_never_up():
    assert discount_for(2499, 2) == 49  # 49.98 cents
    assert discount_for(49, 2) == 0


@pytest.mark.parametrize(
    ("installments", "now", "why"),
    [
        (one(2500, paid=100), BEFORE, "partly paid"),
        (one(2500, paid=2500), BEFORE, "paid"),
        (one(49), BEFORE, "the discount rounds to nothing"),
        (one(2500), datetime(2026, 10, 1, 22, 0, tzinfo=UTC), "past midnight in Madrid on the due date"),
    ],
)
def test_no_offer_when_it_could_not_be_honoured(installments, now, why):
    assert compute_offer(installments, 1, 2, MADRID, "EUR", now) is None, why


def test_the_offer_lasts_until_the_end_of_the_due_date_in_the_debtors_own_timezone():
    late_evening = datetime(2026, 10, 1, 21, 59, tzinfo=UTC)  # 23:59 in Madrid
    assert compute_offer(one(2500), 1, 2, MADRID, "EUR", late_evening) is not None
    # The same instant is already 2 October in Tokyo.
    assert compute_offer(one(2500), 1, 2, "Asia/Tokyo", "EUR", late_evening) is None


def test_an_earlier_open_installment_is_part_of_paying_in_full():
    installments = [
        InstallmentState(1, date(2026, 9, 1), 1000, 400),
        InstallmentState(2, DUE, 2500, 0),
    ]
    offer = compute_offer(installments, 2, 2, MADRID, "EUR", BEFORE)
    assert offer is not None
    assert (offer.discount, offer.amount_to_pay) == (50, 600 + 2450)
    after = apply_payment(Balance((1000, 2500), (400, 0)), offer.amount_to_pay).balance
    assert discount_due(2, offer.discount, offer.valid_until, after, BEFORE) == 50


def test_a_payment_after_the_due_date_or_short_of_the_offer_earns_nothing():
    offer = compute_offer(one(2500), 1, 2, MADRID, "EUR", BEFORE)
    assert offer is not None
    paid = apply_payment(Balance((2500, 2500), (0, 0)), 2450).balance
    assert discount_due(1, 50, offer.valid_until, paid, offer.valid_until + timedelta(microseconds=1)) == 0
    short = apply_payment(Balance((2500, 2500), (0, 0)), 2449).balance
    assert discount_due(1, 50, offer.valid_until, short, BEFORE) == 0
    in_full = apply_payment(Balance((2500, 2500), (0, 0)), 2500).balance
    assert discount_due(1, 50, offer.valid_until, in_full, BEFORE) == 0  # nothing left to settle


def test_a_refund_takes_back_money_and_leaves_the_discount():
    paid = apply_payment(Balance((2500,), (0,)), 2450).balance
    settled = apply_discount(paid, 1, 50)
    assert settled.amount_due == 0 and settled.amount_discounted == 50
    refunded = apply_refund(settled, 2450).balance
    assert refunded.paid == (0,) and refunded.discounted == (50,) and refunded.amount_due == 2450


def test_a_discount_never_exceeds_what_the_installment_owes():
    with pytest.raises(ValueError):
        apply_discount(Balance((2500,), (2460,)), 1, 50)


@given(
    amount=st.integers(min_value=1, max_value=10**12),
    percent=st.integers(min_value=1, max_value=50),
    later=st.integers(min_value=0, max_value=10**12),
    paid_before=st.booleans(),
)
def test_the_money_of_any_offer_adds_up_and_paying_it_on_time_settles_the_installment(
    amount: int, percent: int, later: int, paid_before: bool
):
    installments = [InstallmentState(1, DUE, amount, 0), InstallmentState(2, DUE + timedelta(days=30), later or 1, 0)]
    offer = compute_offer(installments, 1, percent, MADRID, "EUR", BEFORE)
    discount = discount_for(amount, percent)
    if discount == 0:
        assert offer is None
        return
    assert offer is not None
    assert isinstance(offer.discount, int) and isinstance(offer.amount_to_pay, int)
    assert offer.discount == discount >= 0
    assert offer.discount + offer.amount_to_pay == offer.outstanding == amount
    assert offer.discount * 100 <= amount * percent < (offer.discount + 1) * 100

    balance = Balance((amount, later or 1), (0, 0))
    paid_at = offer.valid_until if paid_before else BEFORE
    after = apply_payment(balance, offer.amount_to_pay).balance
    earned = discount_due(1, offer.discount, offer.valid_until, after, paid_at)
    assert earned == offer.discount
    settled = apply_discount(after, 1, earned)
    assert settled.owed(1) == 0 and settled.owed(2) == (later or 1)
    assert settled.amount_paid + settled.amount_discounted + settled.amount_due == settled.total
    assert settled.credit == 0


def test_end_of_day_survives_a_dst_change():
    # 25 October 2026: clocks go back in Madrid; the day still ends at 23:59:59 local (22:59:59 UTC).
    assert end_of_day(date(2026, 10, 25), MADRID) == datetime(2026, 10, 25, 22, 59, 59, 999999, tzinfo=UTC)


books = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(min_value=1, max_value=10**9)),
        st.tuples(st.just("refund"), st.integers(min_value=1, max_value=10**9)),
        st.tuples(st.just("discount"), st.integers(min_value=1, max_value=10**9)),
    ),
    max_size=40,
)


@given(st.lists(st.integers(min_value=1, max_value=10**8), min_size=1, max_size=6), books)
def test_payments_discounts_and_refunds_in_any_order_keep_the_books_exact(amounts, steps):
    balance = Balance(tuple(amounts), tuple(0 for _ in amounts))
    received = 0
    for kind, amount in steps:
        if kind == "pay":
            balance = apply_payment(balance, amount).balance
            received += amount
        elif kind == "refund":
            amount = min(amount, received)
            if amount:
                balance = apply_refund(balance, amount).balance
                received -= amount
        else:
            number = 1 + amount % len(amounts)
            owed = balance.owed(number)
            if owed:
                balance = apply_discount(balance, number, 1 + amount % owed)
        assert balance.amount_paid + balance.amount_discounted + balance.amount_due == sum(amounts)
        for index, whole in enumerate(amounts):
            assert min(balance.paid[index], balance.discounted_of(index)) >= 0
            assert balance.paid[index] + balance.discounted_of(index) <= whole
        assert balance.amount_paid + balance.credit == received  # discounts never count as money
