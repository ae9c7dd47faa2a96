"""Reminders "sent" at a chosen moment, written as the sender writes them, for reward and tracking tests.

The sender goes through the guardrails and the clock, so it cannot send a reminder 8 days ago;
these helpers write what a send leaves behind instead: the Message item (sent, its decision log,
the variant's probabilities), its count under the bandit arm (`stats.record_send`, the sender's
own call), and the claim's `last_message_id` with its engagement flags cleared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from recobro.optimise import bandit, stats, tracking
from recobro.storage.models import Claim, DecisionMap, Message, VariantStats, claim_ref

SEGMENT = "default"


@dataclass
class SentReminder:
    merchant_id: str
    claim_id: str
    message_id: str
    step: str
    arm_name: str

    def message(self) -> Message:
        return Message.get(claim_ref(self.merchant_id, self.claim_id), self.message_id, consistent_read=True)

    def arm(self) -> VariantStats:
        key = stats.stats_key(self.merchant_id, self.step, SEGMENT)
        return VariantStats.get(key, self.arm_name, consistent_read=True)

    def links(self, tracking_base_url: str) -> tracking.TrackedLinks:
        claim = Claim.get(self.merchant_id, self.claim_id, consistent_read=True)
        return tracking.tracked_links(
            self.merchant_id,
            self.claim_id,
            self.message_id,
            link_version=int(claim.link_version),
            debtor_id=claim.debtor_id,
            tracking_base_url=tracking_base_url,
        )


def choice(variant: str, probabilities: dict[str, float] | None = None, *, holdout: bool = False) -> bandit.Choice:
    rule = "holdout_control" if holdout else "thompson_sampling"
    return bandit.Choice(variant, probabilities or {variant: 1.0}, holdout, rule)


def send(
    merchant_id: str,
    claim_id: str,
    *,
    installment: int,
    step: str,
    sent_at: datetime,
    chosen: bandit.Choice,
    latest: bool = True,
) -> SentReminder:
    """Leave behind what the sender leaves for one email reminder sent at `sent_at`."""
    claim = Claim.get(merchant_id, claim_id, consistent_read=True)
    message_id = f"msg#{installment:03d}#{step}"
    Message(
        claim_ref=claim_ref(merchant_id, claim_id),
        message_id=message_id,
        channel="email",
        status="sent",
        template="reminder",
        locale="es",
        created_at=sent_at,
        sent_at=sent_at,
        status_at=sent_at,
        decisions=[DecisionMap(at=sent_at, outcome="sent")],
        probabilities=json.dumps(chosen.probabilities),
    ).save()
    assert stats.record_send(
        merchant_id,
        claim_id,
        message_id,
        step=step,
        segment=SEGMENT,
        choice=chosen,
        debtor_id=claim.debtor_id,
        timezone=claim.timezone,
    )
    if latest:
        claim.last_message_id = message_id
        claim.last_message_opened = None
        claim.last_message_clicked = None
        claim.save()
    return SentReminder(merchant_id, claim_id, message_id, step, chosen.arm)
