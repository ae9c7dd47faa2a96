"""A merchant's explicit decisions on a claim: pause and resume, cancel, write off.

Each is one transaction (the claim under its version, and its events). Holds and endings take
the claim out of the reminder index; resuming puts it back, with at most one catch-up reminder.
"""

from __future__ import annotations

from recobro import clock, events
from recobro.claims import lifecycle
from recobro.claims.service import event_data, get_claim, schedule_next_reminder
from recobro.errors import Conflict
from recobro.storage.models import Claim
from recobro.storage.transactions import TransactionConflict, Write, commit

ACTION_EVENTS = {
    "pause": "claim.paused",
    "resume": "claim.resumed",
    "cancel": "claim.cancelled",
    "write_off": "claim.written_off",
}


def act(merchant_id: str, claim_id: str, action: str, reason: str | None) -> Claim:
    for _ in range(10):
        claim = get_claim(merchant_id, claim_id, consistent=True)
        previous = claim.status
        claim.status = lifecycle.after_action(action, previous, int(claim.amount_total), int(claim.amount_paid))
        claim.status_reason = reason if action != "resume" else None
        claim.updated_at = clock.now()
        schedule_next_reminder(claim)
        data = {**event_data(claim), "previous_status": previous, "reason": reason}
        happened = [
            events.Event(ACTION_EVENTS[action], merchant_id, claim_id, data),
            events.Event("claim.status_changed", merchant_id, claim_id, data),
        ]
        try:
            commit([Write(claim), *(Write(e.to_item()) for e in happened)])
        except TransactionConflict:
            continue  # changed meanwhile: decide again on its new status
        events.published(happened)
        return claim
    raise Conflict("The claim is changing too fast; retry the request.", code_override="concurrent_update")
