"""A debtor asks for help from the page: a reason, free text, and a hold where it applies.

Reasons that contest the debt (amount wrong, already paid, goods not received) put the claim on
the `disputed` hold; "cannot pay now" puts it on the `hardship` hold (the page then offers a
plan, a later date or a promise); "other" holds nothing. Either way the merchant gets a
`help.requested` webhook with the reason and the text, and the claim's timeline shows it. Holds
stop reminders until the merchant resumes the claim.
"""

from __future__ import annotations

from typing import Literal

from recobro import clock, events
from recobro.claims import lifecycle
from recobro.claims.changes import change_claim
from recobro.claims.ledger import _status_events
from recobro.claims.service import event_data, schedule_next_reminder
from recobro.errors import Conflict
from recobro.storage.models import Claim, HelpRequestMap

HelpReason = Literal["cannot_pay_now", "amount_wrong", "already_paid", "goods_not_received", "other"]
HELP_REASONS: tuple[str, ...] = HelpReason.__args__  # type: ignore[attr-defined]
HOLD_FOR_REASON: dict[str, str | None] = {
    "cannot_pay_now": "hardship",
    "amount_wrong": "disputed",
    "already_paid": "disputed",
    "goods_not_received": "disputed",
    "other": None,
}
MAX_MESSAGE_LENGTH = 2000


def request_help(merchant_id: str, claim_id: str, reason: str, message: str) -> Claim:
    if reason not in HOLD_FOR_REASON:
        raise ValueError(f"unknown help reason {reason!r}")

    def decide(claim: Claim) -> list[events.Event]:
        if claim.status in lifecycle.FINAL_STATUSES:
            raise Conflict(
                f"A claim that is {claim.status} is no longer collected.",
                code_override="invalid_status_transition",
                current_status=claim.status,
            )
        previous = claim.status
        hold = HOLD_FOR_REASON[reason]
        if hold is not None and previous in lifecycle.COLLECTING:
            claim.status = hold
            claim.status_reason = reason
        now = clock.now()
        claim.help_request = HelpRequestMap(reason=reason, requested_at=now)  # type: ignore[no-untyped-call]
        claim.updated_at = now
        schedule_next_reminder(claim)
        data = {**event_data(claim), "reason": reason, "message": message, "previous_status": previous}
        return [events.Event("help.requested", merchant_id, claim_id, data), *_status_events(claim, previous, reason)]

    return change_claim(merchant_id, claim_id, decide)
