"""Plan arithmetic: options within the merchant's rules, exact splits, monthly dates, day moves."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from recobro.plans.schedule import (
    DAYS_OF_MONTH,
    Installment,
    MoveRefused,
    PlanRules,
    allows,
    move_day,
    plan_options,
    split,
)

DATES = st.dates(min_value=date(2024, 1, 1), max_value=date(2035, 12, 31))
DAYS = st.sampled_from(DAYS_OF_MONTH)
AMOUNTS = st.integers(min_value=1, max_value=10_000_000)


@st.composite
def rules(draw: st.DrawFn) -> PlanRules:
    low = draw(st.integers(2, 24))
    high = draw(st.integers(low, 24))
    return PlanRules(low, high, draw(st.integers(1, 100_000)), draw(st.integers(1, 31)))


def _months_apart(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def test_a_90_euro_claim_under_the_default_rules():
    options = plan_options(9001, PlanRules(2, 6, 1000))
    assert [o.installment_count for o in options] == [2, 3, 4, 5, 6]
    assert (options[1].smallest_charge, options[1].largest_charge) == (3000, 3001)
    assert [o.installment_count for o in plan_options(2500, PlanRules(2, 6, 1000))] == [2]
    assert plan_options(1999, PlanRules(2, 6, 1000)) == []


def test_split_starts_on_the_first_such_day_after_today():
    charges = split(9001, 3, 15, date(2026, 11, 25))
    assert [(c.number, c.charge_date.isoformat(), c.amount) for c in charges] == [
        (1, "2026-12-15", 3001),
        (2, "2027-01-15", 3000),
        (3, "2027-02-15", 3000),
    ]
    assert split(200, 2, 25, date(2026, 11, 25))[0].charge_date == date(2026, 12, 25)  # today is not "after"
    assert split(200, 2, 26, date(2026, 11, 25))[0].charge_date == date(2026, 11, 26)


@given(AMOUNTS, rules(), DAYS, DATES)
def test_every_allowed_plan_splits_exactly_into_monthly_charges_above_the_minimum(
    amount: int, plan_rules: PlanRules, day: int, today: date
):
    options = plan_options(amount, plan_rules)
    for option in options:
        count = option.installment_count
        assert plan_rules.min_installments <= count <= plan_rules.max_installments
        assert allows(amount, plan_rules, count, day)
        charges = split(amount, count, day, today)
        assert [c.number for c in charges] == list(range(1, count + 1))
        assert sum(c.amount for c in charges) == amount
        assert min(c.amount for c in charges) >= plan_rules.min_installment_amount
        assert max(c.amount for c in charges) - min(c.amount for c in charges) <= 1
        assert {c.amount for c in charges} <= {option.smallest_charge, option.largest_charge}
        dates = [c.charge_date for c in charges]
        assert all(d.day == day for d in dates)
        assert today < dates[0] <= today + timedelta(days=31)
        assert all(_months_apart(a, b) == 1 and a < b for a, b in pairwise(dates))


@given(AMOUNTS, rules(), st.integers(1, 30), DAYS)
def test_a_plan_outside_the_rules_is_never_allowed(amount: int, plan_rules: PlanRules, count: int, day: int):
    allowed = allows(amount, plan_rules, count, day)
    fits = plan_rules.min_installments <= count <= plan_rules.max_installments
    assert allowed == (fits and amount // count >= plan_rules.min_installment_amount)


def test_days_after_28_and_empty_plans_are_refused():
    assert not allows(9000, PlanRules(2, 6, 1000), 3, 29)
    assert not allows(9000, PlanRules(2, 6, 1000), 3, 0)
    with pytest.raises(ValueError):
        split(9000, 3, 31, date(2026, 1, 1))
    with pytest.raises(ValueError):
        split(2, 3, 10, date(2026, 1, 1))


# ---------------------------------------------------------------- moving the day


def test_moving_the_day_keeps_each_installment_in_its_month_and_paid_ones_in_place():
    schedule = [
        Installment(1, date(2026, 11, 5), paid=True),
        Installment(2, date(2026, 12, 5), paid=False),
        Installment(3, date(2027, 1, 5), paid=False),
    ]
    assert move_day(schedule, 12, date(2026, 11, 25), 10) == {2: date(2026, 12, 12), 3: date(2027, 1, 12)}
    assert move_day(schedule, 1, date(2026, 11, 25), 10) == {2: date(2026, 12, 1), 3: date(2027, 1, 1)}
    assert move_day(schedule, 31, date(2026, 11, 25), 31) == {2: date(2026, 12, 28), 3: date(2027, 1, 28)}
    with pytest.raises(MoveRefused) as refused:
        move_day(schedule, 20, date(2026, 11, 25), 10)
    assert refused.value.number == 2 and refused.value.new == date(2026, 12, 20)


def test_an_overdue_installment_moves_to_today_at_the_earliest():
    overdue = [Installment(1, date(2026, 11, 20), paid=False), Installment(2, date(2026, 12, 20), paid=False)]
    assert move_day(overdue, 10, date(2026, 11, 25), 10) == {1: date(2026, 11, 25), 2: date(2026, 12, 10)}
    with pytest.raises(MoveRefused):
        move_day(overdue, 10, date(2026, 12, 5), 10)  # 15 days after the old date


@st.composite
def schedules(draw: st.DrawFn) -> list[Installment]:
    first = draw(DATES)
    count = draw(st.integers(1, 12))
    gaps = draw(st.lists(st.integers(0, 62), min_size=count - 1, max_size=count - 1))
    dates = [first]
    for gap in gaps:
        dates.append(dates[-1] + timedelta(days=gap))
    return [Installment(n, d, draw(st.booleans())) for n, d in enumerate(dates, start=1)]


@given(schedules(), st.integers(1, 31), DATES, st.integers(1, 31))
def test_a_move_is_within_the_limits_or_refused_whole(
    schedule: list[Installment], day: int, today: date, max_days: int
):
    try:
        moved = move_day(schedule, day, today, max_days)
    except MoveRefused as refused:
        culprit = next(i for i in schedule if i.number == refused.number)
        assert not culprit.paid and (refused.new - culprit.due_date).days > max_days
        return
    assert set(moved) == {i.number for i in schedule if not i.paid}
    for installment in schedule:
        if installment.paid:
            continue
        new = moved[installment.number]
        assert new >= today
        assert (new - installment.due_date).days <= max_days
        if installment.due_date.replace(day=min(day, 28)) >= today:
            assert (new.year, new.month, new.day) == (
                installment.due_date.year,
                installment.due_date.month,
                min(day, 28),
            )
        else:
            assert new == today
    unpaid = [moved[i.number] for i in schedule if not i.paid]
    assert unpaid == sorted(unpaid)


@given(schedules(), st.integers(1, 28), DATES)
def test_moving_earlier_within_the_month_is_always_allowed_for_future_installments(
    schedule: list[Installment], day: int, today: date
):
    assume(all(i.due_date.replace(day=1) > today for i in schedule))
    assume(all(i.due_date.day >= day for i in schedule))
    moved = move_day(schedule, day, today, 1)
    assert all(moved[i.number].day == day for i in schedule if not i.paid)
