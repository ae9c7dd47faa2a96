"""Allocating money to installments: oldest open installment first, excess kept as credit.

Pure functions over amounts in minor units. A refund takes back credit first, then unpays
installments newest first, so the oldest debt stays settled longest. An early-payment discount
(recobro.claims.early_payment) settles part of one installment without money; a refund leaves it
in place. For every sequence of payments, discounts and refunds: sum(paid) + sum(discounted) +
due == total, 0 <= paid_i + discounted_i <= amount_i, credit >= 0.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Balance:
    amounts: tuple[int, ...]  # each installment's amount, in installment order
    paid: tuple[int, ...]  # what is paid of each
    credit: int = 0  # received beyond the total
    discounted: tuple[int, ...] = ()  # settled of each by an early-payment discount; () when none

    @property
    def total(self) -> int:
        return sum(self.amounts)

    @property
    def amount_paid(self) -> int:
        return sum(self.paid)

    @property
    def amount_discounted(self) -> int:
        return sum(self.discounted)

    @property
    def amount_due(self) -> int:
        return self.total - self.amount_paid - self.amount_discounted

    def discounted_of(self, index: int) -> int:
        return self.discounted[index] if self.discounted else 0

    def owed(self, number: int) -> int:
        """What installment `number` (from 1) still owes."""
        index = number - 1
        return self.amounts[index] - self.paid[index] - self.discounted_of(index)


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
        take = min(remaining, owed - paid[index] - balance.discounted_of(index))
        if take > 0:
            paid[index] += take
            remaining -= take
            moved.append((index + 1, take))
    after = Balance(balance.amounts, tuple(paid), balance.credit + remaining, balance.discounted)
    return Allocation(after, tuple(moved), remaining)


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
    after = Balance(balance.amounts, tuple(paid), balance.credit - from_credit, balance.discounted)
    return Allocation(after, tuple(moved), from_credit)


def apply_discount(balance: Balance, number: int, amount: int) -> Balance:
    """Settle `amount` of installment `number` (from 1) without money; at most what it still owes."""
    if amount <= 0:
        raise ValueError("a discount is a positive amount")
    if amount > balance.owed(number):
        raise ValueError("a discount cannot exceed what the installment still owes")
    discounted = list(balance.discounted or (0,) * len(balance.amounts))
    discounted[number - 1] += amount
    return Balance(balance.amounts, balance.paid, balance.credit, tuple(discounted))
