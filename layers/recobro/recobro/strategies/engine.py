"""What a strategy would do for one claim: its steps as instants, and which of them are due now.

Pure: the caller gathers a claim's facts (ClaimFacts) and the clock; nothing here reads storage.
The planner calls `due_steps` and `next_step_at`; the simulation calls `schedule`. Guardrails are
not applied here: they always apply on top, in recobro.guardrails.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from recobro.strategies.schema import CONDITION_FIELDS, Step, Strategy


@dataclass(frozen=True)
class InstallmentFacts:
    number: int
    due_date: date  # in the debtor's calendar
    outstanding: int  # minor units still unpaid


@dataclass(frozen=True)
class ClaimFacts:
    """Everything a condition may test, gathered once per claim by the caller."""

    claim_id: str
    timezone: str
    installments: tuple[InstallmentFacts, ...]
    status: str = "open"
    segment: str = "default"
    score_band: str | None = None
    locale: str = "en"
    channels_available: frozenset[str] = frozenset({"email"})
    last_message_opened: bool = False
    last_message_clicked: bool = False
    promise_state: str = "none"
    promise_due: date | None = None  # an unkept promise's date: guardrails hold contacts until then
    plan_active: bool = False
    opted_out_channels: frozenset[str] = frozenset()
    reminded_through: datetime | None = None  # steps at or before it are handled
    send_time: time | None = None  # the debtor's learned local send time, for steps that state no hour


Decision = Literal["send", "skip"]


@dataclass(frozen=True)
class VariantOption:
    template: str
    weight: int
    control: bool


@dataclass(frozen=True)
class PlannedStep:
    """One step of the strategy for one installment, at the instant the strategy asks for."""

    installment: int
    step_id: str
    day: int
    channel: str
    at: datetime  # UTC
    timezone: str
    variants: tuple[VariantOption, ...]
    early_payment_discount_percent: int | None = None
    failed_conditions: tuple[str, ...] = ()  # plain words of every condition that does not hold
    decision: Decision = "send"
    reason: str | None = None  # why a step is skipped: "conditions" or "superseded"

    @property
    def key(self) -> str:
        """The planner's "<installment>:<step>" key, unique per claim."""
        return f"{self.installment}:{self.step_id}"

    @property
    def local_at(self) -> datetime:
        return self.at.astimezone(ZoneInfo(self.timezone))

    @property
    def conditions_met(self) -> bool:
        return not self.failed_conditions

    @property
    def control(self) -> str:
        return next(v.template for v in self.variants if v.control)

    def with_decision(self, decision: Decision, reason: str | None) -> PlannedStep:
        return replace(self, decision=decision, reason=reason)


# ---------------------------------------------------------------- conditions


def _locale_matches(expected: str, actual: str) -> bool:
    expected, actual = expected.casefold(), actual.casefold()
    return expected == actual or ("-" not in expected and actual.split("-")[0] == expected)


def _one(name: str, expected: Any, actual: Any) -> bool:
    """Equality of one expected value with the fact, as each field defines it."""
    if name == "channel_available":
        return bool(expected in actual)
    if name == "locale":
        return _locale_matches(str(expected), str(actual))
    return bool(expected == actual)


_ORDER = {"lt": operator.lt, "lte": operator.le, "gt": operator.gt, "gte": operator.ge}


def _holds(name: str, op: str, expected: Any, actual: Any) -> bool:
    if actual is None:  # a fact we do not have (no score yet) satisfies only the negative operators
        return op in ("ne", "not_in")
    if op == "eq":
        return _one(name, expected, actual)
    if op == "ne":
        return not _one(name, expected, actual)
    if op == "in":
        return any(_one(name, e, actual) for e in expected)
    if op == "not_in":
        return not any(_one(name, e, actual) for e in expected)
    return bool(_ORDER[op](actual, expected))


@dataclass(frozen=True)
class _Moment:
    """The facts that depend on which installment a step is for and on which day it falls."""

    amount_due: int
    days_past_due: int
    installment_number: int


def _fact(name: str, facts: ClaimFacts, moment: _Moment) -> Any:
    if name in ("amount_due", "days_past_due", "installment_number"):
        return getattr(moment, name)
    if name == "channel_available":
        return facts.channels_available
    return getattr(facts, name)


def failed_conditions(step: Step, facts: ClaimFacts, moment: _Moment) -> tuple[str, ...]:
    """The conditions of `step` that do not hold, in words ("amount_due gte 5000"); () when all hold."""
    failed = []
    for name, operators in step.conditions.items():
        assert name in CONDITION_FIELDS  # the parser refuses anything else
        actual = _fact(name, facts, moment)
        for op, expected in operators.items():
            if not _holds(name, op, expected, actual):
                failed.append(f"{name} {op} {expected!r}")
    return tuple(failed)


def step_named(strategy: Strategy, step_id: str) -> Step | None:
    return next((s for s in strategy.steps if s.step_id == step_id), None)


# ---------------------------------------------------------------- the schedule


def step_instant(due_date: date, step: Step, timezone: str, send_time: time | None = None) -> datetime:
    """The step's local time on due date + day, as UTC (a local time lost to DST moves forward).

    A step that states its hour keeps it; one that does not goes out at `send_time` (the debtor's
    learned hour, recobro.optimise.send_hour) or else at the default 09:00.
    """
    at = time(step.hour) if step.hour is not None else (send_time or time(step.send_hour))
    local = datetime.combine(due_date + timedelta(days=step.day), at, tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC)


def due_date_begins(due_date: date, timezone: str) -> datetime:
    """Midnight starting the due date in the debtor's timezone, as UTC: when pre-due steps expire."""
    return datetime.combine(due_date, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def _moment(facts: ClaimFacts, installment: InstallmentFacts, day: date) -> _Moment:
    unpaid = [i for i in facts.installments if i.outstanding > 0]
    oldest = min(i.due_date for i in unpaid)
    return _Moment(
        amount_due=sum(i.outstanding for i in unpaid if i.due_date <= installment.due_date),
        days_past_due=(day - oldest).days,
        installment_number=installment.number,
    )


def schedule(strategy: Strategy, facts: ClaimFacts) -> list[PlannedStep]:
    """Every step for every unpaid installment, oldest first, with its conditions judged on today's
    facts (amount and days past due as they will be on the step's day if nothing is paid)."""
    planned = []
    for installment in facts.installments:
        if installment.outstanding <= 0:
            continue
        for step in strategy.steps:
            day = installment.due_date + timedelta(days=step.day)
            planned.append(
                PlannedStep(
                    installment=installment.number,
                    step_id=step.step_id,
                    day=step.day,
                    channel=step.channel,
                    at=step_instant(installment.due_date, step, facts.timezone, facts.send_time),
                    timezone=facts.timezone,
                    variants=tuple(VariantOption(v.template, v.weight, v.control) for v in step.variants),
                    early_payment_discount_percent=step.early_payment_offer.discount_percent
                    if step.early_payment_offer
                    else None,
                    failed_conditions=failed_conditions(step, facts, _moment(facts, installment, day)),
                )
            )
    return sorted(planned, key=lambda p: (p.at, p.installment, p.step_id))


def _pending(strategy: Strategy, facts: ClaimFacts) -> list[PlannedStep]:
    handled = facts.reminded_through
    return [p for p in schedule(strategy, facts) if handled is None or p.at > handled]


def due_steps(strategy: Strategy, facts: ClaimFacts, now: datetime) -> list[PlannedStep]:
    """The pending steps whose instant has come (at or before `now`), oldest first, each decided.

    At most one is "send": the latest whose conditions hold. A claim that arrives far overdue, or a
    planner that was down, so gets one message for its backlog, never a burst. Every other due step
    is "skip", with reason "conditions" (a condition did not hold) or "superseded" (a later step
    replaced it), so the caller can record each decision. Guardrails still apply to the one sent.
    """
    due = [p for p in _pending(strategy, facts) if p.at <= now]
    due_dates = {i.number: i.due_date for i in facts.installments}

    def expired(p: PlannedStep) -> bool:
        """A pre-due step is never sent once its due date has begun (a late "pay early" makes no sense)."""
        return p.day < 0 and now >= due_date_begins(due_dates[p.installment], facts.timezone)

    sendable = [p for p in due if p.conditions_met and not expired(p)]
    chosen = sendable[-1] if sendable else None

    def reason(p: PlannedStep) -> str:
        return "conditions" if not p.conditions_met else "expired" if expired(p) else "superseded"

    return [p.with_decision("send", None) if p is chosen else p.with_decision("skip", reason(p)) for p in due]


def next_step_at(strategy: Strategy, facts: ClaimFacts, after: datetime) -> datetime | None:
    """When the claim's next step falls due after `after` (its conditions are judged then), or None."""
    later = [p.at for p in _pending(strategy, facts) if p.at > after]
    return min(later) if later else None


@dataclass(frozen=True)
class Plan:
    """What a strategy does for one claim from `now` on: the backlog decided, then the future."""

    due: list[PlannedStep]
    upcoming: list[PlannedStep] = field(default_factory=list)


def plan_from(strategy: Strategy, facts: ClaimFacts, now: datetime) -> Plan:
    upcoming = [
        p.with_decision("send", None) if p.conditions_met else p.with_decision("skip", "conditions")
        for p in _pending(strategy, facts)
        if p.at > now
    ]
    return Plan(due_steps(strategy, facts, now), upcoming)


def steps_sent(plans: Sequence[PlannedStep]) -> list[PlannedStep]:
    return [p for p in plans if p.decision == "send"]
