"""Allocating money to installments: oldest open installment first, excess kept as credit.

Pure functions over amounts in minor units. A refund takes back credit first, then unpays
installments newest first, so the oldest debt stays settled longest. For every sequence of
payments and refunds: sum(paid) + due == total, 0 <= paid_i <= amount_i, credit >= 0.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Balance:
    amounts: tuple[int, ...]  # each installment's amount, in installment order
    paid: tuple[int, ...]  # what is paid of each
    credit: int = 0  # received beyond the total

    @property
    def total(self) -> int:
        return sum(self.amounts)

    @property
    def amount_paid(self) -> int:
        return sum(self.paid)

    @property
    def amount_due(self) -> int:
        return self.total - self.amount_paid


@dataclass(frozen=True)
class Allocation:
    balance: Balance
    to_installments: tuple[tuple[int, int], ...]  # (installment number, amount), numbers from 1
    to_credit: int


def apply_payment(balance: Balance, amount: int) -> Allocation:
    if amount <= 0:
        raise ValueError("a payment is a positive amount")
    remaining = amount
    paid = list(balance.paid)
    moved: list[tuple[int, int]] = []
    for index, owed in enumerate(balance.amounts):
        if remaining == 0:
            break
        take = min(remaining, owed - paid[index])
        if take > 0:
            paid[index] += take
            remaining -= take
            moved.append((index + 1, take))
    return Allocation(Balance(balance.amounts, tuple(paid), balance.credit + remaining), tuple(moved), remaining)


def apply_refund(balance: Balance, amount: int) -> Allocation:
    """Take `amount` back; the caller ensures it does not exceed what the payment left refundable."""
    if amount <= 0:
        raise ValueError("a refund is a positive amount")
    if amount > balance.amount_paid + balance.credit:
        raise ValueError("cannot refund more than was received")
    from_credit = min(balance.credit, amount)
    remaining = amount - from_credit
    paid = list(balance.paid)
    moved: list[tuple[int, int]] = []
    for index in reversed(range(len(paid))):
        if remaining == 0:
            break
        take = min(remaining, paid[index])
        if take > 0:
            paid[index] -= take
            remaining -= take
            moved.append((index + 1, take))
    return Allocation(Balance(balance.amounts, tuple(paid), balance.credit - from_credit), tuple(moved), from_credit)
