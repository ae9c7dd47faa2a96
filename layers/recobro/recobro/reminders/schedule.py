"""When a claim's reminders fall due: pure date arithmetic in the debtor's own timezone.

Every unpaid installment gets the steps of the claim's strategy (recobro.strategies), each on its
day relative to the due date at its local hour (or the debtor's learned send time). Which of the
steps due at once is sent, and whether its conditions hold, is the sender's call
(recobro.strategies.engine.due_steps); here only the instants are planned. A claim that arrives
already far overdue gets one reminder for its latest missed step, never a burst of catch-up
messages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from recobro import guardrails
from recobro.strategies.engine import due_date_begins, step_instant
from recobro.strategies.schema import Strategy

SEND_AT_LOCAL = time(9, 0)
# Nobody is contacted outside these local hours; a reminder that falls due outside them waits
# for DEFERRED_SEND_AT_LOCAL. recobro.guardrails owns these rules (and each merchant's narrower ones).
CONTACT_WINDOW = (guardrails.EARLIEST_CONTACT, guardrails.LATEST_CONTACT)
DEFERRED_SEND_AT_LOCAL = guardrails.DEFERRED_SEND_AT
ACTION_SHARDS = 16


@dataclass(frozen=True)
class InstallmentDue:
    number: int
    due_date: date
    outstanding: int  # minor units still unpaid


@dataclass(frozen=True)
class ReminderAction:
    installment: int
    step: str
    at: datetime  # aware UTC
    # A pre-due step (an offer before the due date) expires when its due date begins: it is never
    # sent late, not even as the last step of a backlog.
    expires_at: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.installment}:{self.step}"

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


def utc_iso(moment: datetime) -> str:
    """The sortable string stored in the time index: 2026-10-02T07:00:00Z."""
    # isoformat zero-pads every field (strftime's %Y does not below year 1000), so strings sort.
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def utc_iso_micro(moment: datetime) -> str:
    """Like utc_iso with microseconds: for keys where many items share a second."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_utc_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.removesuffix("Z")).replace(tzinfo=UTC)


def action_shard(claim_id: str) -> str:
    digest = hashlib.sha256(claim_id.encode()).digest()
    return f"s{int.from_bytes(digest[:4], 'big') % ACTION_SHARDS:02d}"


def all_shards() -> list[str]:
    return [f"s{n:02d}" for n in range(ACTION_SHARDS)]


def local_moment(day: date, timezone: str) -> datetime:
    """SEND_AT_LOCAL on `day` in `timezone`, as UTC (DST handled by zoneinfo)."""
    return datetime.combine(day, SEND_AT_LOCAL, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def next_contact_moment(now: datetime, timezone: str) -> datetime:
    """`now` if it is inside the default contact window in the debtor's zone, else the next
    deferred send time (DST-safe; the planner narrows it further per merchant)."""
    return guardrails.next_window_instant(now, timezone) or now


def candidate_actions(
    installments: Iterable[InstallmentDue], timezone: str, strategy: Strategy, send_time: time | None = None
) -> list[ReminderAction]:
    actions = [
        ReminderAction(
            i.number,
            step.step_id,
            step_instant(i.due_date, step, timezone, send_time),
            due_date_begins(i.due_date, timezone) if step.day < 0 else None,
        )
        for i in installments
        if i.outstanding > 0
        for step in strategy.steps
    ]
    return sorted(actions, key=lambda a: (a.at, a.installment, a.step))


def next_action(
    installments: Sequence[InstallmentDue],
    timezone: str,
    now: datetime,
    reminded_through: datetime | None,
    paused_until: datetime | None = None,
    *,
    strategy: Strategy,
    send_time: time | None = None,
) -> ReminderAction | None:
    """The one reminder to plan next, or None when nothing more is owed or planned.

    Actions at or before `reminded_through` have been handled. Of those already past `now`,
    only the latest counts, so a backlog becomes one reminder. While paused (a promise), the
    clock counts from `paused_until`: what fell due meanwhile becomes one reminder then.
    """
    if paused_until is not None and paused_until > now:
        now = paused_until
    pending = [
        a
        for a in candidate_actions(installments, timezone, strategy, send_time)
        if (reminded_through is None or a.at > reminded_through) and not a.expired(now)
    ]
    if not pending:
        return None
    past = [a for a in pending if a.at <= now]
    if not past:
        return pending[0]
    latest = past[-1]
    return ReminderAction(latest.installment, latest.step, max(latest.at, next_contact_moment(now, timezone)))
