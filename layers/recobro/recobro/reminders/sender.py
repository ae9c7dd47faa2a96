"""Sending one reminder job: re-check, claim the message slot, render, send, record.

The message item's key (claim, installment, step) is taken with a conditional write before
anything is sent, so a duplicate job or a redelivered batch never sends twice. If the send
itself fails the slot is released and the error propagates, so SQS retries the job.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pynamodb.exceptions import PutError

from recobro import clock, config, links
from recobro.channels import email as email_channel
from recobro.claims.service import OPEN_STATUSES, amount_due
from recobro.merchants import cached_merchant
from recobro.reminders.jobs import ReminderJob
from recobro.rendering import render
from recobro.storage.models import Claim, Debtor, Merchant, Message, claim_ref

MESSAGE_RETENTION = timedelta(days=730)
STALE_SENDING = timedelta(minutes=3)  # the message-jobs queue's visibility timeout


def _load(job: ReminderJob) -> tuple[Claim | None, Debtor | None, Merchant | None]:
    try:
        claim = Claim.get(job.merchant_id, job.claim_id, consistent_read=True)  # see a payment made just now
    except Claim.DoesNotExist:
        return None, None, None
    try:
        debtor: Debtor | None = Debtor.get(claim.merchant_id, claim.debtor_id)
    except Debtor.DoesNotExist:
        debtor = None
    return claim, debtor, cached_merchant(claim.merchant_id)


def _skip_reason(job: ReminderJob, claim: Claim | None, debtor: Debtor | None) -> str | None:
    if claim is None or debtor is None:
        return "claim_not_found"
    if claim.status not in OPEN_STATUSES:
        return f"claim_{claim.status}"
    if claim.plan is not None and claim.plan.status == "active":
        return "plan_active"  # planned before the plan started; its charges collect the claim now
    installment = next((i for i in claim.installments if int(i.number) == job.installment), None)
    if installment is None or int(installment.amount_paid) >= int(installment.amount):
        return "installment_paid"
    if not debtor.email:
        return "no_email"
    return None


def _reserve(job: ReminderJob, status: str, reason: str | None = None) -> bool:
    now = clock.now()
    message = Message(
        claim_ref=claim_ref(job.merchant_id, job.claim_id),
        message_id=job.message_id,
        channel="email",
        status=status,
        reason=reason,
        template="reminder",
        created_at=now,
        expires_at=int((now + MESSAGE_RETENTION).timestamp()),
    )
    try:
        message.save(
            condition=Message.message_id.does_not_exist()
            | (Message.status == "failed")
            # A sender that died mid-send (timeout, crash) left "sending": after the queue's
            # visibility timeout its job is redelivered, and may take the slot over.
            | ((Message.status == "sending") & (Message.created_at < now - STALE_SENDING)),
        )
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


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
    }
    return email_channel.Email(
        to=str(debtor.email),
        subject=render("email/reminder.subject.txt.j2", debtor.locale, **context).strip(),
        text=render("email/reminder.txt.j2", debtor.locale, **context),
        html=render("email/reminder.html.j2", debtor.locale, **context),
        from_name=merchant_name,
        headers={"X-Recobro-Claim-Id": claim.claim_id, "X-Recobro-Message-Id": job.message_id},
    )


def send_reminder(job: ReminderJob) -> dict[str, Any]:
    """Send the job's reminder unless it was sent already or no longer applies."""
    claim, debtor, merchant = _load(job)
    reason = _skip_reason(job, claim, debtor)
    if reason is not None or claim is None or debtor is None:
        _reserve(job, "skipped", reason)
        return {"status": "skipped", "reason": reason}
    # Everything that can fail before the send happens before the slot is taken, so a failure
    # here leaves the job free to be retried.
    expected_version = int(claim.link_version or 0) + 1
    message = _compose(job, claim, debtor, merchant, expected_version)
    if not _reserve(job, "sending"):
        return {"status": "duplicate"}
    # A new reminder carries a new link, which revokes the older ones (ADR 0008).
    link_version = links.new_link_version(claim.merchant_id, claim.claim_id)
    if link_version != expected_version:
        message = _compose(job, claim, debtor, merchant, link_version)
    ref = claim_ref(job.merchant_id, job.claim_id)
    try:
        provider_id = email_channel.send(message)
    except Exception:
        Message(claim_ref=ref, message_id=job.message_id).update(actions=[Message.status.set("failed")])
        raise
    Message(claim_ref=ref, message_id=job.message_id).update(
        actions=[
            Message.status.set("sent"),
            Message.provider_message_id.set(provider_id),
            Message.sent_at.set(clock.now()),
            Message.locale.set(debtor.locale),
        ]
    )
    return {"status": "sent", "message_id": job.message_id}
