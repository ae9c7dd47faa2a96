"""Opting a debtor out of one channel, from anywhere: the one-click unsubscribe, a STOP reply.

One transaction adds the channel to the debtor's opted_out_channels (an atomic set ADD, so two
opt-outs at once never undo each other) and writes `debtor.opted_out` on the claim's timeline.
The condition makes a repeat a no-op: no second event, no second confirmation.
"""

from __future__ import annotations

from recobro import clock, events
from recobro.storage.models import Debtor
from recobro.storage.transactions import TransactionConflict, Write, commit

CHANNELS = ("email", "sms", "whatsapp")


def opt_out(merchant_id: str, debtor_id: str, channel: str, claim_id: str | None, source: str) -> bool:
    """Stop `channel` for the debtor; True if this call changed anything (False: already stopped)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    key = Debtor(merchant_id=merchant_id, debtor_id=debtor_id)
    change = Write(
        key,
        actions=[Debtor.opted_out_channels.add({channel}), Debtor.updated_at.set(clock.now())],
        condition=Debtor.debtor_id.exists() & ~Debtor.opted_out_channels.contains(channel),
    )
    data = {"debtor_id": debtor_id, "channel": channel, "source": source}
    happened = [events.Event("debtor.opted_out", merchant_id, claim_id, data)] if claim_id else []
    try:
        commit([change, *(Write(e.to_item()) for e in happened)])
    except TransactionConflict:
        return False  # already opted out of this channel, or no such debtor
    events.published(happened)
    return True
