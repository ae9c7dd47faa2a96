"""Which status a claim may move to, and the status its balance implies.

open -> partially_paid -> paid follows the money; paused, disputed and hardship are holds: a
merchant pauses, the debtor's page (or a Stripe dispute) disputes, the page asks for hardship.
cancelled and written_off end collection. Anything not listed here is refused with a 409 that
names the current status.
"""

from __future__ import annotations

from recobro.errors import Conflict

BALANCE_STATUSES = frozenset({"open", "partially_paid", "paid"})
HOLD_STATUSES = frozenset({"paused", "disputed", "hardship"})
FINAL_STATUSES = frozenset({"cancelled", "written_off"})
COLLECTING = frozenset({"open", "partially_paid"})

# What a merchant may do explicitly, from which statuses.
ACTIONS: dict[str, frozenset[str]] = {
    "pause": frozenset({"open", "partially_paid"}),
    "resume": frozenset({"paused", "disputed", "hardship"}),
    "cancel": frozenset({"open", "partially_paid", "paused", "disputed", "hardship"}),
    "write_off": frozenset({"open", "partially_paid", "paused", "disputed", "hardship"}),
}
ACTION_TARGET = {"pause": "paused", "cancel": "cancelled", "write_off": "written_off"}

# Money can arrive on any claim that still has a debt to settle, written off ones included
# (recoveries happen); a cancelled claim no longer represents a debt.
ACCEPTS_PAYMENTS = frozenset({"open", "partially_paid", "paid", "paused", "disputed", "hardship", "written_off"})


# `amount_paid` below is what is settled: money received plus early-payment discounts
# (recobro.claims.amounts.settled).


def balance_status(amount_total: int, amount_paid: int) -> str:
    if amount_paid >= amount_total:
        return "paid"
    return "partially_paid" if amount_paid > 0 else "open"


def after_money_moved(current: str, amount_total: int, amount_paid: int) -> str:
    """The status once a payment or refund has changed the balance."""
    settled = amount_paid >= amount_total
    if current in BALANCE_STATUSES:
        return balance_status(amount_total, amount_paid)
    if settled and current in HOLD_STATUSES | {"written_off"}:
        return "paid"  # settling ends any hold, and recovers a written-off debt
    return current


def after_action(action: str, current: str, amount_total: int, amount_paid: int) -> str:
    """The status after a merchant's explicit action, or Conflict if it is not allowed now."""
    if current not in ACTIONS[action]:
        raise Conflict(
            f"A claim that is {current} cannot be {_past[action]}.",
            code_override="invalid_status_transition",
            current_status=current,
        )
    if action == "resume":
        return balance_status(amount_total, amount_paid)
    return ACTION_TARGET[action]


_past = {"pause": "paused", "resume": "resumed", "cancel": "cancelled", "write_off": "written off"}
