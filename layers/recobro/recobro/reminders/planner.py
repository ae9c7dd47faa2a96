"""Planning: find claims whose next reminder is due, enqueue one job each, move the claim on.

Reads only the sparse by_next_action index, one Query per shard (never a Scan), and pages
through any volume. Jobs are enqueued before the claim is advanced: a crash in between means a
duplicate job, which the sender absorbs (its message key is unique per claim, installment and
step), never a lost reminder. Running twice, or two runs overlapping, enqueues nothing new.

The send instant comes from recobro.guardrails, as the sender's re-check does: a claim due now
but outside its merchant's contact window (in the debtor's timezone) or over the weekly cap is not
enqueued but moved to the instant the guardrails give, and the next reminder is planned at an
instant they allow. Each planned or deferred reminder is logged on its message slot in the same
transaction that moves the claim, so the log costs no extra request.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3

from recobro import clock, config
from recobro.claims.service import upcoming_reminder
from recobro.guardrails import Decision
from recobro.merchants import cached_merchant
from recobro.reminders import decisions
from recobro.reminders.jobs import ReminderJob
from recobro.reminders.schedule import all_shards, parse_utc_iso, utc_iso
from recobro.storage.models import Claim, Message, claim_ref
from recobro.storage.transactions import TransactionConflict, Write, commit

SQS_BATCH = 10


@dataclass
class PlanResult:
    due: int = 0
    enqueued: int = 0
    skipped: int = 0
    deferred: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"due": self.due, "enqueued": self.enqueued, "skipped": self.skipped, "deferred": self.deferred}


@functools.lru_cache(maxsize=1)
def _sqs() -> Any:
    return boto3.client("sqs")


def due_claims(now: datetime) -> Iterator[Claim]:
    until = utc_iso(now)
    for shard in all_shards():
        yield from Claim.by_next_action.query(shard, Claim.next_action_at <= until)


def _job(claim: Claim) -> ReminderJob:
    installment, step = str(claim.next_action).split(":", 1)
    return ReminderJob(
        merchant_id=claim.merchant_id,
        claim_id=claim.claim_id,
        installment=int(installment),
        step=step,
        planned_for=str(claim.next_action_at),
        debtor_id=claim.debtor_id,
        after=claim.reminded_through,
    )


def _channel(claim: Claim) -> str:
    return decisions.channel_of_step(_job(claim).step)


def _slot(claim: Claim) -> Message:
    return Message(claim_ref=claim_ref(claim.merchant_id, claim.claim_id), message_id=_job(claim).message_id)


def _advance(claim: Claim, now: datetime) -> bool:
    """Mark the claim's due reminder as handled (logged as planned) and point it at the next one."""
    seen = claim.next_action_at
    reminded = parse_utc_iso(str(seen))
    upcoming = upcoming_reminder(claim, now, reminded)
    actions: list[Any] = [Claim.reminded_through.set(seen)]
    if upcoming is None:
        actions += [Claim.next_action.remove(), Claim.next_action_at.remove(), Claim.action_shard.remove()]
    else:
        at = decisions.send_instant(claim, cached_merchant(claim.merchant_id), upcoming.at)
        actions += [Claim.next_action.set(upcoming.key), Claim.next_action_at.set(utc_iso(at))]
    try:
        commit(
            [
                # Only next_action_at guards this: the sender's own write to the claim (a job of
                # this run may already be sending) must not undo the planner's step.
                Write(claim, condition=Claim.next_action_at == seen, actions=actions, add_version_condition=False),
                Write(_slot(claim), actions=decisions.planned_actions(now, reminded, _channel(claim))),
            ]
        )
    except TransactionConflict:
        return False  # another run moved it first
    return True


def _postpone(claim: Claim, decision: Decision, now: datetime) -> str:
    """Move a claim that is due but may not be contacted yet to the instant the guardrails give.

    "postponed"; "moved" if another run moved the claim first; "enqueue" if the reminder's slot
    was settled already (sent, blocked, skipped): the job then goes out and is answered as a
    duplicate, which moves the claim on as usual.
    """
    seen = claim.next_action_at
    assert decision.at is not None
    try:
        commit(
            [
                Write(
                    claim,
                    condition=Claim.next_action_at == seen,
                    actions=[Claim.next_action_at.set(utc_iso(decision.at))],
                ),
                Write(
                    _slot(claim),
                    condition=decisions.slot_free(now),
                    actions=decisions.log_actions("deferred", now, _channel(claim), decision.rule, decision.at),
                ),
            ]
        )
    except TransactionConflict as conflict:
        return "moved" if 0 in conflict.failed else "enqueue"
    return "postponed"


def plan_due_reminders(now: datetime | None = None) -> PlanResult:
    moment = now or clock.now()
    result = PlanResult()
    batch: list[Claim] = []
    for claim in due_claims(moment):
        result.due += 1
        timing = decisions.timing(claim, cached_merchant(claim.merchant_id), moment)
        postponed = _postpone(claim, timing, moment) if timing.outcome == "deferred" else "enqueue"
        if postponed != "enqueue":
            result.deferred += postponed == "postponed"
            result.skipped += postponed == "moved"
            continue
        batch.append(claim)
        if len(batch) == SQS_BATCH:
            _flush(batch, moment, result)
            batch = []
    if batch:
        _flush(batch, moment, result)
    return result


def _flush(claims: list[Claim], now: datetime, result: PlanResult) -> None:
    response = _sqs().send_message_batch(
        QueueUrl=config.message_jobs_queue_url(),
        Entries=[{"Id": str(n), "MessageBody": _job(c).model_dump_json()} for n, c in enumerate(claims)],
    )
    sent = {int(entry["Id"]) for entry in response.get("Successful", [])}
    for n, claim in enumerate(claims):
        if n not in sent:
            result.skipped += 1  # left due: the next run retries it
            continue
        if _advance(claim, now):
            result.enqueued += 1
        else:
            result.skipped += 1
