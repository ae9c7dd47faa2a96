"""Sending one reminder job: re-check every guardrail, claim the message slot, render, send, record.

The message item's key (claim, installment, step) is taken with a conditional write before
anything is sent, so a duplicate job or a redelivered batch never sends twice. If the send
itself fails the slot is released and the error propagates, so SQS retries the job.

Guardrails (recobro.guardrails) are checked against the claim and debtor read just now
(consistent). A blocked reminder is recorded with its rule; a deferred one is recorded and the
claim's next action moved to the deferred instant, so the planner brings it back then. Taking the
slot is one transaction with the claim: it bumps the link version, adds this contact to the
claim's rolling contact list, and holds only if the claim has not changed since it was read, so a
payment, hold, promise or a concurrent reminder in between sends the job round again instead of
past a guardrail. DynamoDB requests per reminder sent: one BatchGetItem (claim and debtor), one
TransactWriteItems (slot and claim), one UpdateItem (sent).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from recobro import clock, config, guardrails, links, unsubscribe
from recobro.channels import email as email_channel
from recobro.claims.service import amount_due
from recobro.guardrails import Decision
from recobro.merchants import cached_merchant
from recobro.reminders import decisions
from recobro.reminders.jobs import ReminderJob
from recobro.reminders.schedule import action_shard, parse_utc_iso, utc_iso
from recobro.rendering import render
from recobro.storage.batch import read_all
from recobro.storage.models import Claim, Debtor, Merchant, Message, claim_ref
from recobro.storage.transactions import TransactionConflict, Write, commit

CHANNEL = "email"
# How often a job re-reads the claim when it changed between the read and taking the slot.
CLAIM_RACE_ATTEMPTS = 5


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


def _skip_reason(job: ReminderJob, claim: Claim | None, debtor: Debtor | None) -> str | None:
    """Why this job has nothing to send at all; the guardrails decide everything else."""
    if claim is None or debtor is None:
        return "claim_not_found"
    installment = next((i for i in claim.installments if int(i.number) == job.installment), None)
    if installment is None or int(installment.amount_paid) >= int(installment.amount):
        return "installment_paid"
    if not debtor.email:
        return "no_email"
    return None


def _record(job: ReminderJob, outcome: str, rule: str | None) -> bool:
    """Log a skip or block on the job's slot; False if the slot was sent or settled already."""
    now = clock.now()
    try:
        Message(claim_ref=claim_ref(job.merchant_id, job.claim_id), message_id=job.message_id).update(
            actions=decisions.log_actions(outcome, now, CHANNEL, rule), condition=decisions.slot_free(now)
        )
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _defer(job: ReminderJob, claim: Claim, decision: Decision) -> str:
    """Record the deferral and point the claim's next action at its instant (unless a later step
    of the claim falls due before it: that step goes instead, as a backlog becomes one reminder)."""
    assert decision.at is not None
    now = clock.now()
    message = Message(claim_ref=claim_ref(job.merchant_id, job.claim_id), message_id=job.message_id)
    writes = [
        Write(
            message,
            condition=decisions.slot_free(now),
            actions=decisions.log_actions("deferred", now, CHANNEL, decision.rule, decision.at),
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


def _take_slot(job: ReminderJob, claim: Claim, now: datetime, link_version: int) -> str:
    """Take the slot and count the contact on the claim, if the claim is as it was read."""
    message = Message(claim_ref=claim_ref(job.merchant_id, job.claim_id), message_id=job.message_id)
    contacts = decisions.contacts_after(claim, job.message_id, now)
    try:
        commit(
            [
                Write(
                    message, condition=decisions.slot_free(now), actions=decisions.log_actions("sending", now, CHANNEL)
                ),
                # A new reminder carries a new link, which revokes the older ones (ADR 0008).
                Write(claim, actions=[Claim.link_version.set(link_version), Claim.recent_contacts.set(contacts)]),
            ]
        )
    except TransactionConflict as conflict:
        return "duplicate" if 0 in conflict.failed else "claim_changed"
    return "taken"


def _compose(
    job: ReminderJob, claim: Claim, debtor: Debtor, merchant: Merchant | None, link_version: int
) -> email_channel.Email:
    merchant_name = merchant.display_name if merchant else job.merchant_id
    context = {
        "merchant_name": merchant_name,
        "support_email": merchant.support_email if merchant else "",
        "debtor_name": debtor.name,
        "description": claim.description,
        "amount_due": amount_due(claim),
        "amount_overdue": sum(
            int(i.amount) - int(i.amount_paid) for i in claim.installments if int(i.number) <= job.installment
        ),
        "currency": claim.currency,
        "due_date": next(i.due_date for i in claim.installments if int(i.number) == job.installment),
        "payment_url": links.payment_url(
            config.pages_base_url(), claim.merchant_id, claim.claim_id, link_version, claim.debtor_id
        ),
        "unsubscribe_url": unsubscribe.url(claim.merchant_id, claim.debtor_id, "email", claim.claim_id),
    }
    return email_channel.Email(
        to=str(debtor.email),
        subject=render("email/reminder.subject.txt.j2", debtor.locale, **context).strip(),
        text=render("email/reminder.txt.j2", debtor.locale, **context),
        html=render("email/reminder.html.j2", debtor.locale, **context),
        from_name=merchant_name,
        headers={
            "X-Recobro-Claim-Id": claim.claim_id,
            "X-Recobro-Message-Id": job.message_id,
            **email_channel.unsubscribe_headers(str(context["unsubscribe_url"])),
        },
    )


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
    if claim is not None and debtor is not None:
        decision = decisions.decide(claim, debtor, merchant, CHANNEL, now, ignore=job.message_id)
        if decision.outcome == "blocked":
            recorded = _record(job, "blocked", decision.rule)
            return {"status": "blocked" if recorded else "duplicate", "rule": decision.rule}
    reason = _skip_reason(job, claim, debtor)
    if reason is not None or claim is None or debtor is None:
        _record(job, "skipped", reason)
        return {"status": "skipped", "reason": reason}
    if decision.outcome == "deferred":
        status = _defer(job, claim, decision)
        return {"status": status, "rule": decision.rule, "until": utc_iso(decision.at or now)}
    # Everything that can fail before the send happens before the slot is taken, so a failure
    # here leaves the job free to be retried.
    link_version = int(claim.link_version or 0) + 1
    message = _compose(job, claim, debtor, merchant, link_version)
    carries = guardrails.check_opt_out(decisions.email_carries_opt_out(message), CHANNEL)
    if not carries.allowed:
        _record(job, "blocked", carries.rule)
        return {"status": "blocked", "rule": carries.rule}
    taken = _take_slot(job, claim, now, link_version)
    if taken != "taken":
        return {"status": taken}
    ref = claim_ref(job.merchant_id, job.claim_id)
    try:
        provider_id = email_channel.send(message)
    except Exception:
        Message(claim_ref=ref, message_id=job.message_id).update(
            actions=decisions.log_actions("failed", clock.now(), CHANNEL)
        )
        raise
    # The contact's instant is the one the guardrails allowed and the claim's contact list holds,
    # so the weekly cap counts exactly the times the timeline shows.
    Message(claim_ref=ref, message_id=job.message_id).update(
        actions=[
            *decisions.log_actions("sent", now, CHANNEL),
            Message.provider_message_id.set(provider_id),
            Message.sent_at.set(now),
            Message.locale.set(debtor.locale),
        ]
    )
    return {"status": "sent", "message_id": job.message_id}
