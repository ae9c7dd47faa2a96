"""A claim's timeline: its events and its messages, merged in time order, in plain words.

Each message slot contributes one entry per decision in its log (planned, deferred, blocked,
skipped, sent, failed), with the guardrail's rule in plain words and the debtor's local time; a
sent reminder names its variant and the chance it was chosen with; and what came of it (opened,
clicked, counted as a success for its variant) follows as entries of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from recobro import events, guardrails
from recobro.claims.service import get_claim
from recobro.money import format_money
from recobro.optimise import bandit
from recobro.reminders.schedule import utc_iso_micro
from recobro.storage.models import DecisionMap, Message, claim_ref


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
        "claim.discount_applied": lambda: (
            f"Early-payment discount of {format_money(int(data['amount']), str(data['currency']), 'en-GB')}"
            f" applied to installment {data.get('installment')}"
        ),
        "message.received": lambda: f"Debtor wrote by {data.get('channel')}: {data.get('text')}",
    }
    return words.get(event.type, lambda: event.type)()


SKIP_WORDS = {
    "installment_paid": "the installment is paid",
    "no_email": "the debtor has no email address",
    "claim_not_found": "the claim or its debtor no longer exists",
}


def _local(moment: datetime, since: datetime, timezone: str) -> str:
    """'08:30 Europe/Madrid', and ' on 2026-10-03' when that is not the local day of `since`."""
    zone = ZoneInfo(timezone)
    local = moment.astimezone(zone)
    words = f"{local.strftime('%H:%M')} {timezone}"
    if local.date() != since.astimezone(zone).date():
        words += f" on {local.date().isoformat()}"
    return words


def _rule_words(rule: str | None, channel: str) -> str:
    if rule == "opted_out":
        return f"the debtor opted out of {channel}"
    if rule in guardrails.RULE_WORDS:
        return guardrails.RULE_WORDS[rule]
    return SKIP_WORDS.get(rule or "", rule or "no reason given")


def _chance(probability: float) -> str:
    if 0 < probability < 0.01:
        return "under 1%"
    return f"{probability:.0%}"


def _sent_words(message: Message, slot_step: str) -> str:
    """' as step d+3.sms, variant firm (chance 62%)': what a sent reminder was and how its variant was chosen."""
    alternative = f" as step {message.step}" if message.step and message.step != slot_step else ""
    return alternative + _variant_words(message)


def _variant_words(message: Message) -> str:
    variant = message.variant
    if variant is None:
        return ""
    if (message.stats_arm or "").startswith(bandit.HOLDOUT_ARM_PREFIX):
        return f", control variant {variant} (holdout: this debtor always gets the control)"
    probabilities: dict[str, float] = json.loads(message.probabilities) if message.probabilities else {}
    if len(probabilities) == 1:
        return f", variant {variant} (the only one)"
    if variant in probabilities:
        return f", variant {variant} (chance {_chance(float(probabilities[variant]))})"
    return f", variant {variant}"


REWARD_WORDS = {
    "click": f"clicked within {bandit.CLICK_REWARD_WINDOW.days} days",
    "payment": f"paid within {bandit.PAYMENT_REWARD_WINDOW.days} days",
}


def _engagement_entries(message: Message, name: str, data: dict[str, Any], timezone: str) -> list[TimelineEntry]:
    """Opened, clicked and rewarded: what the debtor did with a sent reminder, and what it earned its variant."""
    since = message.sent_at or message.created_at
    entries = []
    for kind, last, count in (
        ("opened", message.last_opened_at, message.open_count),
        ("clicked", message.last_clicked_at, message.click_count),
    ):
        if last is None:
            continue
        times = int(count or 1)
        when = _local(last, since, timezone)
        summary = f"{name} {kind} at {when}" if times == 1 else f"{name} {kind} ({times} times, last at {when})"
        entries.append(
            TimelineEntry(
                at=utc_iso_micro(last), type=f"message.{kind}", summary=summary, data={**data, "count": times}
            )
        )
    if message.rewarded_at is not None:
        arm = message.stats_arm or ""
        holdout = arm.startswith(bandit.HOLDOUT_ARM_PREFIX)
        variant = message.variant or arm.removeprefix(bandit.HOLDOUT_ARM_PREFIX)
        whose = f"the holdout's control variant {variant}" if holdout else f"variant {variant}"
        why = REWARD_WORDS.get(str(message.reward_kind), str(message.reward_kind))
        entries.append(
            TimelineEntry(
                at=utc_iso_micro(message.rewarded_at),
                type="message.rewarded",
                summary=f"{name} counted as a success for {whose} ({why})",
                data={**data, "reward_kind": message.reward_kind, "arm": arm},
            )
        )
    return entries


def _decision_summary(
    name: str, outcome: str, decision: DecisionMap, channel: str, timezone: str, sent_words: str = ""
) -> str:
    rule, until = decision.rule, decision.until
    if outcome == "planned":
        return f"{name} planned" + (f" for {_local(until, decision.at, timezone)}" if until else "")
    if outcome == "deferred":
        return f"{name} deferred to {_local(until or decision.at, decision.at, timezone)}: {_rule_words(rule, channel)}"
    if outcome == "blocked":
        return f"{name} blocked: {_rule_words(rule, channel)}"
    if outcome == "skipped":
        return f"{name} not sent: {_rule_words(rule, channel)}"
    if outcome == "sent":
        return f"{name} sent by {channel}{sent_words}"
    if outcome == "failed":
        return f"{name} failed to send by {channel}; it is tried again"
    return f"{name}: {outcome}"


def _message_entries(message: Message, timezone: str) -> list[TimelineEntry]:
    """One entry per decision on the message slot (its log), then its engagement and reward, in plain words."""
    step = message.message_id.split("#")[-1]
    installment = int(message.message_id.split("#")[1])
    name = f"Reminder {step} for installment {installment}"
    data: dict[str, Any] = {"channel": message.channel, "step": step, "installment": installment}
    if message.variant is not None:
        data["variant"] = message.variant
    if message.probabilities is not None:
        data["probabilities"] = json.loads(message.probabilities)
    log = list(message.decisions or [])
    if not log:  # written before the decision log existed
        at = message.sent_at or message.created_at
        log = [DecisionMap(at=at, outcome=message.status, rule=message.reason)]  # type: ignore[no-untyped-call]
    entries = []
    for n, decision in enumerate(log):
        outcome = str(decision.outcome)
        if outcome == "sending" and n < len(log) - 1:
            continue  # a step on the way to sent or failed
        extra = {"reason": decision.rule, "rule": decision.rule}
        if decision.until is not None:
            extra["until"] = utc_iso_micro(decision.until)
        entries.append(
            TimelineEntry(
                at=utc_iso_micro(decision.at),
                type=f"message.{outcome}",
                summary=_decision_summary(
                    name, outcome, decision, str(message.channel), timezone, _sent_words(message, step)
                ),
                data={**data, **extra},
            )
        )
    return entries + _engagement_entries(message, name, data, timezone)


def claim_timeline(merchant_id: str, claim_id: str) -> dict[str, Any]:
    claim = get_claim(merchant_id, claim_id)
    entries = [
        TimelineEntry(at=utc_iso_micro(e.created_at), type=e.type, summary=_summary(e), data=e.data)
        for e in events.timeline(merchant_id, claim_id)
    ]
    for message in Message.query(claim_ref(merchant_id, claim_id)):
        entries += _message_entries(message, str(claim.timezone))
    entries.sort(key=lambda entry: entry.at)
    return Timeline(claim_id=claim_id, data=entries).model_dump(mode="json")
