"""A claim's timeline: its events and its messages, merged in time order, in plain words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict

from recobro import events
from recobro.claims.service import get_claim
from recobro.reminders.schedule import utc_iso_micro
from recobro.storage.models import Message, claim_ref


class TimelineEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: str
    type: str
    summary: str
    data: dict[str, Any]


class Timeline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: str = "list"
    claim_id: str
    data: list[TimelineEntry]


def _money(data: dict[str, Any]) -> str:
    return f"{data.get('amount')} {data.get('currency', '')}".strip()


def _plan(data: dict[str, Any]) -> str:
    plan = data.get("plan") or {}
    return f"{plan.get('installment_count')} monthly charges on day {plan.get('day_of_month')}"


def _summary(event: events.Event) -> str:
    data = event.data
    reason = f" ({data['reason']})" if data.get("reason") else ""
    declined = data.get("decline_code") or data.get("failure_code")
    words: dict[str, Callable[[], str]] = {
        "claim.created": lambda: f"Claim created for {data.get('amount_total')} {data.get('currency')}",
        "claim.status_changed": lambda: f"Status changed from {data.get('previous_status')} to {data.get('status')}",
        "claim.paused": lambda: f"Collection paused{reason}",
        "claim.resumed": lambda: "Collection resumed",
        "claim.paid": lambda: "Claim paid in full",
        "claim.cancelled": lambda: f"Claim cancelled{reason}",
        "claim.written_off": lambda: f"Claim written off{reason}",
        "payment.succeeded": lambda: f"Payment of {_money(data)} recorded ({data.get('external_reference')})",
        "payment.refunded": lambda: f"Refund of {_money(data)} recorded ({data.get('external_reference')})",
        "payment.failed": lambda: f"Payment of {_money(data)} failed ({declined})",
        "dispute.opened": lambda: f"Dispute of {_money(data)} opened ({data.get('reason') or data.get('status')})",
        "dispute.closed": lambda: f"Dispute of {_money(data)} closed: {data.get('outcome')}",
        "debtor.updated": lambda: "Debtor contact data updated",
        "debtor.opted_out": lambda: f"Debtor opted out of {data.get('channel')}",
        "promise.made": lambda: (
            f"Debtor promised to pay {data.get('promised_amount')} {data.get('currency', '')}"
            f" by {data.get('promised_by')}"
        ),
        "help.requested": lambda: (
            f"Debtor asked for help ({data.get('reason')}): {data.get('message') or 'no message'}"
        ),
        "plan.started": lambda: f"Installment plan started: {_plan(data)}",
        "plan.missed": lambda: "Installment plan missed a payment; the debtor was asked for another card",
        "plan.card_updated": lambda: "Installment plan resumed with another card",
        "plan.completed": lambda: "Installment plan completed",
        "plan.cancelled": lambda: "Installment plan cancelled",
        "claim.payment_day_moved": lambda: f"Payment day moved to day {data.get('day_of_month')} of the month",
        "message.received": lambda: f"Debtor wrote by {data.get('channel')}: {data.get('text')}",
    }
    return words.get(event.type, lambda: event.type)()


def _message_entries(message: Message) -> TimelineEntry:
    step = message.message_id.split("#")[-1]
    installment = int(message.message_id.split("#")[1])
    if message.status == "sent":
        summary = f"Reminder {step} for installment {installment} sent by {message.channel}"
    elif message.status == "skipped":
        summary = f"Reminder {step} for installment {installment} not sent: {message.reason}"
    else:
        summary = f"Reminder {step} for installment {installment}: {message.status}"
    at = message.sent_at or message.created_at
    return TimelineEntry(
        at=utc_iso_micro(at),
        type=f"message.{message.status}",
        summary=summary,
        data={"channel": message.channel, "step": step, "installment": installment, "reason": message.reason},
    )


def claim_timeline(merchant_id: str, claim_id: str) -> dict[str, Any]:
    get_claim(merchant_id, claim_id)
    entries = [
        TimelineEntry(at=utc_iso_micro(e.created_at), type=e.type, summary=_summary(e), data=e.data)
        for e in events.timeline(merchant_id, claim_id)
    ]
    entries += [_message_entries(m) for m in Message.query(claim_ref(merchant_id, claim_id))]
    entries.sort(key=lambda entry: entry.at)
    return Timeline(claim_id=claim_id, data=entries).model_dump(mode="json")
