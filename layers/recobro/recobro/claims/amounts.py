"""What a claim and each of its installments still owe, read from the stored item.

An installment is settled by money (amount_paid) and, when a debtor takes an early-payment offer,
by a discount (amount_discounted, recobro.claims.early_payment). Everything that asks "how much is
still owed" asks here, so a discount counts everywhere at once: amount_total = amount_paid +
amount_discounted + amount due, on the claim and on each installment.
"""

from __future__ import annotations

from recobro.claims.allocation import Balance
from recobro.storage.models import Claim, InstallmentMap


def installment_owed(installment: InstallmentMap) -> int:
    return int(installment.amount) - int(installment.amount_paid) - int(installment.amount_discounted or 0)


def claim_owed(claim: Claim) -> int:
    return int(claim.amount_total) - settled(claim)


def settled(claim: Claim) -> int:
    """What no longer has to be paid: money received plus discounts (statuses follow it)."""
    return int(claim.amount_paid) + int(claim.amount_discounted or 0)


def balance_of(claim: Claim) -> Balance:
    discounted = tuple(int(i.amount_discounted or 0) for i in claim.installments)
    return Balance(
        tuple(int(i.amount) for i in claim.installments),
        tuple(int(i.amount_paid) for i in claim.installments),
        int(claim.credit or 0),
        discounted if any(discounted) else (),
    )


def apply_balance(claim: Claim, balance: Balance) -> None:
    for index, installment in enumerate(claim.installments):
        installment.amount_paid = balance.paid[index]
        installment.amount_discounted = balance.discounted_of(index)
    claim.amount_paid = balance.amount_paid
    claim.amount_discounted = balance.amount_discounted
    claim.credit = balance.credit
