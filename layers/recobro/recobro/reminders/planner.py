"""Planning: find claims whose next reminder is due, enqueue one job each, move the claim on.

Reads only the sparse by_next_action index, one Query per shard (never a Scan), and pages
through any volume. Jobs are enqueued before the claim is advanced: a crash in between means a
duplicate job, which the sender absorbs (its message key is unique per claim, installment and
step), never a lost reminder. Running twice, or two runs overlapping, enqueues nothing new.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from pynamodb.exceptions import UpdateError

from recobro import clock, config
from recobro.claims.service import installments_due
from recobro.reminders.jobs import ReminderJob
from recobro.reminders.schedule import all_shards, next_action, parse_utc_iso, utc_iso
from recobro.storage.models import Claim

SQS_BATCH = 10


@dataclass
class PlanResult:
    due: int = 0
    enqueued: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"due": self.due, "enqueued": self.enqueued, "skipped": self.skipped}


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
    )


def _advance(claim: Claim, now: datetime) -> bool:
    """Mark the claim's due reminder as handled and point it at the next one."""
    seen = claim.next_action_at
    reminded = parse_utc_iso(str(seen))
    upcoming = next_action(installments_due(claim), claim.timezone, now, reminded)
    actions: list[Any] = [Claim.reminded_through.set(seen)]
    if upcoming is None:
        actions += [Claim.next_action.remove(), Claim.next_action_at.remove(), Claim.action_shard.remove()]
    else:
        actions += [Claim.next_action.set(upcoming.key), Claim.next_action_at.set(utc_iso(upcoming.at))]
    try:
        claim.update(actions=actions, condition=Claim.next_action_at == seen)
    except UpdateError:
        return False  # another run moved it first
    return True


def plan_due_reminders(now: datetime | None = None) -> PlanResult:
    moment = now or clock.now()
    result = PlanResult()
    batch: list[Claim] = []
    for claim in due_claims(moment):
        result.due += 1
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
