"""Domain events: what happened to a claim, written in the same transaction as the change.

They are the claim's timeline (GET /v1/claims/{id}/timeline) and the source of outbound
webhooks: after a transaction commits, its events are handed to `recobro.webhooks.publish`.
Event types are the public webhook names (claim.created, payment.succeeded, ...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from recobro import clock
from recobro.ids import new_id
from recobro.reminders.schedule import utc_iso_micro
from recobro.storage.models import ClaimEvent, claim_ref

EVENT_TYPES = (
    "claim.created",
    "claim.updated",
    "claim.status_changed",
    "claim.paused",
    "claim.resumed",
    "claim.paid",
    "claim.cancelled",
    "claim.written_off",
    "payment.succeeded",
    "payment.refunded",
    "payment.failed",
    "dispute.opened",
    "dispute.closed",
    "debtor.updated",
    "debtor.opted_out",
    "promise.made",
    "help.requested",
    "plan.started",
    "plan.missed",
    "plan.card_updated",
    "plan.completed",
    "plan.cancelled",
    "claim.payment_day_moved",
    "claim.discount_applied",
    "message.received",
)


@dataclass(frozen=True)
class Event:
    """One thing that happened; `data` is the JSON object merchants receive as the payload."""

    type: str
    merchant_id: str
    claim_id: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: new_id("evt"))
    created_at: datetime = field(default_factory=clock.now)

    def to_item(self) -> ClaimEvent:
        return ClaimEvent(
            claim_ref=claim_ref(self.merchant_id, self.claim_id),
            event_key=f"{utc_iso_micro(self.created_at)}#{self.id}",
            event_id=self.id,
            type=self.type,
            merchant_id=self.merchant_id,
            claim_id=self.claim_id,
            data=json.dumps(self.data, separators=(",", ":"), sort_keys=True),
            created_at=self.created_at,
        )

    @classmethod
    def from_item(cls, item: ClaimEvent) -> Event:
        return cls(
            type=item.type,
            merchant_id=item.merchant_id,
            claim_id=item.claim_id,
            data=json.loads(item.data),
            id=item.event_id,
            created_at=item.created_at,
        )

    def envelope(self) -> dict[str, Any]:
        """The webhook body, shaped like Stripe's events."""
        return {
            "id": self.id,
            "object": "event",
            "type": self.type,
            "created": int(self.created_at.timestamp()),
            "data": {"object": self.data},
        }


def published(happened: list[Event]) -> None:
    """Hand committed events to outbound webhooks."""
    if not happened:
        return
    try:
        from recobro.webhooks import publish
    except ImportError:  # webhooks land in a parallel change; until then events are only stored
        return
    publish(happened)


def timeline(merchant_id: str, claim_id: str) -> list[Event]:
    """Every event of one claim, oldest first."""
    return [Event.from_item(item) for item in ClaimEvent.query(claim_ref(merchant_id, claim_id))]
