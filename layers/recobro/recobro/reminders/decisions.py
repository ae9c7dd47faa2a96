"""Guardrails for stored claims, and the decision log on each message slot.

recobro.guardrails is pure; this module feeds it from the Claim, Debtor and Merchant items, so
the planner (when it picks a send instant) and the sender (just before sending) ask with the same
inputs. The contacts of the last 168 hours live on the Claim item (`recent_contacts`), which both
already read: checking the weekly cap costs no extra request.

Every decision about a reminder (planned, deferred, blocked, skipped, sending, sent, failed) is
appended to its Message item's `decisions` list with its rule; `status` and `reason` hold the
latest. The Message key is per (claim, installment, step), so however often a reminder is planned
or deferred it is sent at most once: a slot can be taken for sending only while it is free.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from pynamodb.expressions.condition import Condition

from recobro import guardrails
from recobro.claims.promises import state_of
from recobro.guardrails import ClaimState, Decision, MerchantRules, ProposedContact
from recobro.reminders.schedule import parse_utc_iso, utc_iso_micro
from recobro.storage.models import Claim, Debtor, DecisionMap, Merchant, Message
from recobro.strategies.schema import CHANNELS

MESSAGE_RETENTION = timedelta(days=730)
STALE_SENDING = timedelta(minutes=3)  # the message-jobs queue's visibility timeout


def rules_of(merchant: Merchant | None) -> MerchantRules:
    if merchant is None:
        return MerchantRules()
    window = merchant.contact_window
    send_at = getattr(window, "deferred_send_at", None)  # a later settings field; 08:30 until then
    return MerchantRules(
        window_start=guardrails.parse_clock(str(window.start)),
        window_end=guardrails.parse_clock(str(window.end)),
        deferred_send_at=guardrails.parse_clock(str(send_at)) if send_at else guardrails.DEFERRED_SEND_AT,
        max_contacts_per_week=int(merchant.max_contacts_per_week),
    )


def claim_state(claim: Claim) -> ClaimState:
    promise = claim.promise
    promise_due = date.fromisoformat(promise.due_date) if promise is not None and state_of(claim) != "kept" else None
    plan_active = claim.plan is not None and claim.plan.status == "active"
    return ClaimState(str(claim.status), promise_due, plan_active)


def recent_contacts(claim: Claim) -> dict[str, datetime]:
    stored: Mapping[str, Any] = claim.recent_contacts.as_dict() if claim.recent_contacts is not None else {}  # type: ignore[no-untyped-call]
    return {key: parse_utc_iso(str(value)) for key, value in stored.items()}


def contacts_after(claim: Claim, message_id: str, now: datetime) -> dict[str, str]:
    """The claim's rolling contact list once `message_id` is sent at `now`: older ones dropped."""
    kept = {key: at for key, at in recent_contacts(claim).items() if at > now - guardrails.CAP_PERIOD}
    kept[message_id] = now
    return {key: utc_iso_micro(at) for key, at in kept.items()}


def decide(
    claim: Claim,
    debtor: Debtor | None,
    merchant: Merchant | None,
    channel: str,
    now: datetime,
    *,
    has_opt_out: bool = True,
    ignore: str | None = None,
) -> Decision:
    """Every guardrail for a contact on `channel` now. `ignore` leaves out one message's own
    earlier contact (a retry of a send that failed after it was counted)."""
    opted_out = frozenset(debtor.opted_out_channels or ()) if debtor is not None else frozenset()
    contacts = tuple(at for key, at in recent_contacts(claim).items() if key != ignore)
    contact = ProposedContact(channel, str(claim.timezone), opted_out, contacts)
    return guardrails.evaluate(claim_state(claim), contact, rules_of(merchant), now, has_opt_out=has_opt_out)


def timing(claim: Claim, merchant: Merchant | None, at: datetime) -> Decision:
    """Whether a reminder falling due at `at` may go out then, or when: the window and the cap.

    Only the timing rules: what blocks a contact outright is decided at send time, against the
    claim and debtor as they are then.
    """
    contacts = tuple(recent_contacts(claim).values())
    contact = ProposedContact("any", str(claim.timezone), frozenset(), contacts)
    return guardrails.evaluate(ClaimState("open"), contact, rules_of(merchant), at)


def send_instant(claim: Claim, merchant: Merchant | None, at: datetime) -> datetime:
    decision = timing(claim, merchant, at)
    return decision.at if decision.at is not None else at


def channel_of_step(step_id: str) -> str:
    """The channel a step id names ("d+3.sms" -> "sms"); email for steps older than strategies."""
    channel = step_id.rsplit(".", 1)[-1]
    return channel if channel in CHANNELS else "email"


# ---------------------------------------------------------------- the decision log


def entry(outcome: str, at: datetime, rule: str | None = None, until: datetime | None = None) -> DecisionMap:
    return DecisionMap(at=at, outcome=outcome, rule=rule, until=until)  # type: ignore[no-untyped-call]


def log_actions(
    outcome: str,
    now: datetime,
    channel: str,
    rule: str | None = None,
    until: datetime | None = None,
    template: str | None = None,
) -> list[Any]:
    """Update actions that set the slot's status and append the decision to its log."""
    return [
        Message.status.set(outcome),
        Message.status_at.set(now),
        Message.reason.set(rule) if rule is not None else Message.reason.remove(),
        Message.channel.set(channel),
        Message.template.set(template if template is not None else Message.template | "reminder"),
        Message.created_at.set(Message.created_at | now),
        Message.expires_at.set(int((now + MESSAGE_RETENTION).timestamp())),
        Message.deferred_until.set(until) if until is not None else Message.deferred_until.remove(),
        Message.decisions.set((Message.decisions | []).append([entry(outcome, now, rule, until)])),
    ]


def planned_actions(now: datetime, planned_for: datetime, channel: str) -> list[Any]:
    """'planned' never replaces a later status: a job may run before its planning is recorded."""
    return [
        Message.status.set(Message.status | "planned"),
        Message.status_at.set(Message.status_at | now),
        Message.channel.set(Message.channel | channel),
        Message.template.set(Message.template | "reminder"),
        Message.created_at.set(Message.created_at | now),
        Message.expires_at.set(int((now + MESSAGE_RETENTION).timestamp())),
        Message.decisions.set((Message.decisions | []).append([entry("planned", now, None, planned_for)])),
    ]


def slot_free(now: datetime) -> Condition:
    """The slot may be taken (or a decision recorded on it): never once it was sent or skipped."""
    free: Condition = (
        Message.message_id.does_not_exist()
        | Message.status.is_in("planned", "deferred", "failed")
        # A sender that died mid-send (timeout, crash) left "sending": after the queue's
        # visibility timeout its job is redelivered, and may take the slot over.
        | ((Message.status == "sending") & (Message.status_at < now - STALE_SENDING))
        | (
            (Message.status == "sending")
            & Message.status_at.does_not_exist()
            & (Message.created_at < now - STALE_SENDING)
        )
    )
    return free
