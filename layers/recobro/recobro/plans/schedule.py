"""Installment plans as pure arithmetic: which plans a claim allows, their charges, moving a day.

No I/O and no clock: callers pass "today" in the debtor's own calendar. Money is integer minor
units; a split never loses or invents a cent. Days of the month stop at 28 so every month has
the chosen day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

LAST_DAY_OF_MONTH = 28
DAYS_OF_MONTH: tuple[int, ...] = tuple(range(1, LAST_DAY_OF_MONTH + 1))


@dataclass(frozen=True)
class PlanRules:
    """The merchant's limits (PlanRulesMap), as plain values."""

    min_installments: int
    max_installments: int
    min_installment_amount: int  # minor units
    max_days_to_move: int = 10


@dataclass(frozen=True)
class PlanOption:
    """One number of installments a debtor may choose for `amount`."""

    installment_count: int
    smallest_charge: int
    largest_charge: int


@dataclass(frozen=True)
class Charge:
    number: int  # 1-based
    charge_date: date  # in the debtor's calendar
    amount: int  # minor units


@dataclass(frozen=True)
class Installment:
    """A payment date that a move may change: a claim installment or a plan charge."""

    number: int
    due_date: date
    paid: bool


class MoveRefused(ValueError):
    """The move would break the merchant's limit; `number` names the first installment that does."""

    def __init__(self, number: int, old: date, new: date, max_days: int) -> None:
        super().__init__(f"installment {number} would move from {old} to {new}, more than {max_days} days later")
        self.number = number
        self.old = old
        self.new = new
        self.max_days = max_days


def plan_options(amount: int, rules: PlanRules) -> list[PlanOption]:
    """Every installment count within the rules whose smallest charge still meets the minimum."""
    options = []
    for count in range(max(rules.min_installments, 1), rules.max_installments + 1):
        smallest = amount // count
        if smallest < rules.min_installment_amount or smallest <= 0:
            break  # more installments only make each charge smaller
        options.append(PlanOption(count, smallest, smallest + (1 if amount % count else 0)))
    return options


def allows(amount: int, rules: PlanRules, count: int, day_of_month: int) -> bool:
    return day_of_month in DAYS_OF_MONTH and any(o.installment_count == count for o in plan_options(amount, rules))


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, day.day)


def first_charge_date(day_of_month: int, today_local: date) -> date:
    """The first `day_of_month` strictly after today."""
    candidate = today_local.replace(day=day_of_month)
    return candidate if candidate > today_local else _add_months(candidate, 1)


def split(amount: int, count: int, day_of_month: int, today_local: date) -> list[Charge]:
    """`count` monthly charges on `day_of_month` from the first such day after today.

    Amounts differ by at most one minor unit and sum to `amount` exactly; the earlier charges
    carry the remainder.
    """
    if count < 1 or amount < count:
        raise ValueError("a plan needs at least one charge and at least one minor unit per charge")
    if day_of_month not in DAYS_OF_MONTH:
        raise ValueError(f"day_of_month is 1..{LAST_DAY_OF_MONTH}")
    base, remainder = divmod(amount, count)
    first = first_charge_date(day_of_month, today_local)
    return [
        Charge(number, _add_months(first, number - 1), base + (1 if number <= remainder else 0))
        for number in range(1, count + 1)
    ]


def move_day(
    installments: Sequence[Installment], day_of_month: int, today_local: date, max_days: int
) -> dict[int, date]:
    """New due dates for the unpaid installments: each to `day_of_month` (at most 28) of its own
    month, never before today, and never more than `max_days` after its old date (MoveRefused).

    Paid installments keep their dates and are left out of the result; moving earlier is always
    within the limit.
    """
    if day_of_month < 1:
        raise ValueError("day_of_month starts at 1")
    day = min(day_of_month, LAST_DAY_OF_MONTH)
    moved: dict[int, date] = {}
    for installment in installments:
        if installment.paid:
            continue
        old = installment.due_date
        new = max(old.replace(day=day), today_local)
        if (new - old).days > max_days:
            raise MoveRefused(installment.number, old, new, max_days)
        moved[installment.number] = new
    return moved
