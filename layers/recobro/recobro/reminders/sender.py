"""Sending one reminder job: pick the strategy step, re-check every guardrail, choose the variant,
take the message slot, render, send through the step's channel, record.

The message item's key (claim, installment, step) is taken with a conditional write before
anything is sent, so a duplicate job or a redelivered batch never sends twice. If the send
itself fails the slot is released and the error propagates, so SQS retries the job.

The step: of the claim's strategy steps due between the job's `after` and its own step's instant
(its backlog), the latest whose conditions hold on the claim and debtor as they are now
(recobro.strategies.engine.due_steps); usually that is the job's own step. Guardrails
(recobro.guardrails) are checked against the claim and debtor read just now (consistent). A
blocked reminder is recorded with its rule; a deferred one is recorded and the claim's next action
moved to the deferred instant, so the planner brings it back then. Taking the slot is one
transaction with the claim: it bumps the link version, adds this contact to the claim's rolling
contact list, makes this the claim's latest message, and holds only if the claim has not changed
since it was read, so a payment, hold, promise or a concurrent reminder in between sends the job
round again instead of past a guardrail. The variant is chosen by Thompson sampling
(recobro.optimise) and counted in the same transaction that records the send.

DynamoDB requests per reminder sent: one BatchGetItem (claim and debtor), one TransactWriteItems
(slot and claim), one TransactWriteItems (sent, variant counted). The strategy version, the
merchant and the variants' statistics are cached per container.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from recobro import clock, guardrails
from recobro.claims import early_payment
from recobro.claims.amounts import installment_owed
from recobro.claims.service import send_time_of
from recobro.guardrails import Decision
from recobro.merchants import cached_merchant
from recobro.optimise import stats
from recobro.reminders import decisions
from recobro.reminders.compose import Outgoing, Reminder, compose
from recobro.reminders.jobs import ReminderJob
from recobro.reminders.schedule import action_shard, parse_utc_iso, utc_iso
from recobro.storage.batch import read_all
from recobro.storage.models import Claim, Debtor, Merchant, Message, claim_ref
from recobro.storage.transactions import TransactionConflict, Write, commit
from recobro.strategies import engine
from recobro.strategies import store as strategies
from recobro.strategies.schema import Step

# How often a job re-reads the claim when it changed between the read and taking the slot.
CLAIM_RACE_ATTEMPTS = 5
CONTACT_FIELDS = {"email": "email", "sms": "phone", "whatsapp": "phone"}


def _load(job: ReminderJob) -> tuple[Claim | None, Debtor | None, Merchant | None]:
    """The claim and its debtor in one consistent BatchGetItem (a payment made just now shows)."""
    if job.debtor_id is not None:
        batch = read_all([(Claim, job.merchant_id, job.claim_id), (Debtor, job.merchant_id, job.debtor_id)])
        claim, debtor = (
            batch.get(Claim, job.merchant_id, job.claim_id),
            batch.get(Debtor, job.merchant_id, job.debtor_id),
        )
    else:  # a job planned before jobs carried the debtor
        claim = read_all([(Claim, job.merchant_id, job.claim_id)]).get(Claim, job.merchant_id, job.claim_id)
        debtor = None
    if claim is None:
        return None, None, None
    if debtor is None or debtor.debtor_id != claim.debtor_id:
        try:
            debtor = Debtor.get(claim.merchant_id, claim.debtor_id)
        except Debtor.DoesNotExist:
            debtor = None
    return claim, debtor, cached_merchant(claim.merchant_id)


@dataclass(frozen=True)
class Chosen:
    """The strategy step this job sends, for which installment."""

    step: Step
    installment: int


def _choose_step(job: ReminderJob, claim: Claim, debtor: Debtor) -> Chosen | str:
    """The step to send, or why none is: "step_not_in_strategy", "installment_paid" or the plain
    words of the conditions that do not hold ("conditions: channel_available eq 'sms'")."""
    strategy = strategies.claim_strategy(claim)
    own = next((s for s in strategy.steps if s.step_id == job.step), None)
    installment = next((i for i in claim.installments if int(i.number) == job.installment), None)
    if own is None or installment is None:
        return "step_not_in_strategy"
    if not any(installment_owed(i) > 0 for i in claim.installments):
        return "installment_paid"
    facts = strategies.facts_for(claim, debtor)
    own_at = engine.step_instant(
        datetime.fromisoformat(installment.due_date).date(), own, claim.timezone, send_time_of(claim)
    )
    after = parse_utc_iso(job.after) if job.after else None
    # The job's own step always counts, even when a deferral already moved reminded_through past it.
    since = own_at - timedelta(microseconds=1) if after is not None and after >= own_at else after
    due = engine.due_steps(strategy, replace(facts, reminded_through=since), own_at)
    chosen = next((p for p in due if p.decision == "send"), None)
    if chosen is not None:
        step = next(s for s in strategy.steps if s.step_id == chosen.step_id)
        return Chosen(step, chosen.installment)
    if installment_owed(installment) <= 0:
        return "installment_paid"
    mine = next((p for p in due if p.installment == job.installment and p.step_id == job.step), None)
    failed = mine.failed_conditions if mine is not None else ()
    return "conditions: " + "; ".join(failed) if failed else "conditions"


def _slot(job: ReminderJob) -> Message:
    return Message(claim_ref=claim_ref(job.merchant_id, job.claim_id), message_id=job.message_id)


def _record(job: ReminderJob, outcome: str, channel: str, rule: str | None) -> bool:
    """Log a skip or block on the job's slot; False if the slot was sent or settled already."""
    now = clock.now()
    try:
        _slot(job).update(
            actions=decisions.log_actions(outcome, now, channel, rule), condition=decisions.slot_free(now)
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _defer(job: ReminderJob, claim: Claim, channel: str, decision: Decision) -> str:
    """Record the deferral and point the claim's next action at its instant (unless a later step
    of the claim falls due before it: that step goes instead, as a backlog becomes one reminder)."""
    assert decision.at is not None
    now = clock.now()
    writes = [
        Write(
            _slot(job),
            condition=decisions.slot_free(now),
            actions=decisions.log_actions("deferred", now, channel, decision.rule, decision.at),
        )
    ]
    current = parse_utc_iso(claim.next_action_at) if claim.next_action_at else None
    if current is None or current > decision.at:
        writes.append(
            Write(
                claim,
                actions=[
                    Claim.next_action.set(f"{job.installment}:{job.step}"),
                    Claim.next_action_at.set(utc_iso(decision.at)),
                    Claim.action_shard.set(action_shard(claim.claim_id)),
                ],
            )
        )
    try:
        commit(writes)
    except TransactionConflict as conflict:
        return "duplicate" if 0 in conflict.failed else "claim_changed"
    return "deferred"


def _take_slot(
    job: ReminderJob, claim: Claim, channel: str, now: datetime, link_version: int, offer: early_payment.Offer | None
) -> str:
    """Take the slot and count the contact on the claim, if the claim is as it was read."""
    contacts = decisions.contacts_after(claim, job.message_id, now)
    try:
        commit(
            [
                Write(
                    _slot(job),
                    condition=decisions.slot_free(now),
                    actions=decisions.log_actions("sending", now, channel),
                ),
                # A new reminder carries a new link, which revokes the older ones (ADR 0008).
                Write(
                    claim,
                    actions=[
                        Claim.link_version.set(link_version),
                        Claim.recent_contacts.set(contacts),
                        Claim.last_message_id.set(job.message_id),
                        Claim.last_message_opened.remove(),
                        Claim.last_message_clicked.remove(),
                        *(early_payment.offer_actions(offer) if offer else []),
                    ],
                ),
            ]
        )
    except TransactionConflict as conflict:
        return "duplicate" if 0 in conflict.failed else "claim_changed"
    return "taken"


def send_reminder(job: ReminderJob) -> dict[str, Any]:
    """Send the job's reminder unless it was sent already or a guardrail says no (or not yet)."""
    for _ in range(CLAIM_RACE_ATTEMPTS):
        outcome = _attempt(job)
        if outcome.get("status") != "claim_changed":
            return outcome
    raise RuntimeError("the claim kept changing; the job is retried")  # SQS redelivers it


def _attempt(job: ReminderJob) -> dict[str, Any]:
    claim, debtor, merchant = _load(job)
    now = clock.now()
    planned_channel = decisions.channel_of_step(job.step)
    if claim is None or debtor is None:
        _record(job, "skipped", planned_channel, "claim_not_found")
        return {"status": "skipped", "reason": "claim_not_found"}
    # What holds the whole claim (paid, paused, disputed, a promise) is said before any step is chosen.
    held = decisions.decide(claim, debtor, merchant, planned_channel, now, ignore=job.message_id)
    if held.outcome == "blocked" and held.rule != "opted_out":
        recorded = _record(job, "blocked", planned_channel, held.rule)
        return {"status": "blocked" if recorded else "duplicate", "rule": held.rule}
    chosen = _choose_step(job, claim, debtor)
    if isinstance(chosen, str):
        _record(job, "skipped", planned_channel, chosen)
        return {"status": "skipped", "reason": chosen}
    channel = chosen.step.channel
    decision = decisions.decide(claim, debtor, merchant, channel, now, ignore=job.message_id)
    if decision.outcome == "blocked":
        recorded = _record(job, "blocked", channel, decision.rule)
        return {"status": "blocked" if recorded else "duplicate", "rule": decision.rule}
    if not getattr(debtor, CONTACT_FIELDS[channel]):
        reason = f"no_{CONTACT_FIELDS[channel]}"
        _record(job, "skipped", channel, reason)
        return {"status": "skipped", "reason": reason}
    if decision.outcome == "deferred":
        status = _defer(job, claim, channel, decision)
        return {"status": status, "rule": decision.rule, "until": utc_iso(decision.at or now)}
    return _send(job, claim, debtor, merchant, chosen, now)


def _send(
    job: ReminderJob, claim: Claim, debtor: Debtor, merchant: Merchant | None, chosen: Chosen, now: datetime
) -> dict[str, Any]:
    step, channel = chosen.step, chosen.step.channel
    segment = claim.segment or strategies.DEFAULT_SEGMENT
    choice = stats.choose_variant(
        claim.merchant_id,
        step.step_id,
        segment,
        [v.template for v in step.variants],
        debtor_id=claim.debtor_id,
        message_key=f"{claim_ref(claim.merchant_id, claim.claim_id)}#{job.message_id}",
        control=step.control.template,
        cached=True,
    )
    # Everything that can fail before the send happens before the slot is taken, so a failure
    # here leaves the job free to be retried.
    link_version = int(claim.link_version or 0) + 1
    epo = step.early_payment_offer
    offer = early_payment.offer_for(claim, chosen.installment, epo.discount_percent, now) if epo else None
    reminder = Reminder(claim, debtor, merchant, chosen.installment, job.message_id, link_version, offer)
    outgoing = compose(reminder, channel, choice.variant)
    refused = _refusal(outgoing)
    if refused is not None:
        outcome = "blocked" if refused == "missing_opt_out" else "skipped"
        _record(job, outcome, channel, refused)
        return {"status": outcome, "reason": refused}
    taken = _take_slot(job, claim, channel, now, link_version, offer)
    if taken != "taken":
        return {"status": taken}
    try:
        provider_id = outgoing.send()
    except Exception:
        _slot(job).update(actions=decisions.log_actions("failed", clock.now(), channel))
        raise
    # The contact's instant is the one the guardrails allowed and the claim's contact list holds,
    # so the weekly cap counts exactly the times the timeline shows.
    sent = [
        *decisions.log_actions("sent", now, channel, choice.rule, template=outgoing.template),
        Message.provider_message_id.set(provider_id),
        Message.sent_at.set(now),
        Message.locale.set(debtor.locale),
        Message.step.set(step.step_id),
    ]
    writes = stats.send_writes(
        claim.merchant_id,
        claim.claim_id,
        job.message_id,
        step=step.step_id,
        segment=segment,
        choice=choice,
        debtor_id=claim.debtor_id,
        timezone=claim.timezone,
        message_actions=sent,
    )
    try:
        commit(writes)
    except TransactionConflict:  # counted already by an earlier attempt of this very send
        commit([Write(_slot(job), actions=sent)])
    return {"status": "sent", "message_id": job.message_id, "channel": channel, "variant": choice.variant}


def _refusal(outgoing: Outgoing) -> str | None:
    if outgoing.refused is not None:
        return outgoing.refused
    return guardrails.check_opt_out(outgoing.carries_opt_out(), outgoing.channel).rule
