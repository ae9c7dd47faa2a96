"""A merchant's explicit decisions on a claim: pause and resume, cancel, write off.

Each is one transaction (the claim under its version, and its events). Holds and endings take
the claim out of the reminder index; resuming puts it back, with at most one catch-up reminder.
"""

from __future__ import annotations

from recobro import clock, events
from recobro.claims import lifecycle
from recobro.claims.amounts import settled
from recobro.claims.changes import change_claim
from recobro.claims.service import event_data, schedule_next_reminder
from recobro.storage.models import Claim

ACTION_EVENTS = {
    "pause": "claim.paused",
    "resume": "claim.resumed",
    "cancel": "claim.cancelled",
    "write_off": "claim.written_off",
}


def act(merchant_id: str, claim_id: str, action: str, reason: str | None) -> Claim:
    def decide(claim: Claim) -> list[events.Event]:
        previous = claim.status
        claim.status = lifecycle.after_action(action, previous, int(claim.amount_total), settled(claim))
        claim.status_reason = reason if action != "resume" else None
        claim.updated_at = clock.now()
        schedule_next_reminder(claim)
        data = {**event_data(claim), "previous_status": previous, "reason": reason}
        return [
            events.Event(ACTION_EVENTS[action], merchant_id, claim_id, data),
            events.Event("claim.status_changed", merchant_id, claim_id, data),
        ]

    return change_claim(merchant_id, claim_id, decide)
