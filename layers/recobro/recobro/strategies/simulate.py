"""Running a strategy over claims without sending anything: what would go out, when, and what not.

Pure. Each claim's plan (recobro.strategies.engine) is walked in time order as if nobody paid or
answered; every step that would be sent passes through the guardrails with the contacts simulated
before it, so the weekly cap, the contact window, opt-outs and holds show up as they would live.
The merchant API feeds it the merchant's own claims; the CLI and `{"synthetic": N}` feed it a
generated sample (`synthetic_claims`), seeded so the same request shows the same claims.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from recobro import guardrails
from recobro.strategies.engine import ClaimFacts, InstallmentFacts, PlannedStep, plan_from
from recobro.strategies.schema import CHANNELS, PROMISE_STATES, SCORE_BANDS, Strategy

Outcome = Literal["send", "deferred", "blocked", "skipped"]


# ---------------------------------------------------------------- the guardrail step
# One function stands between the simulation and the guardrails, so switching to
# recobro.guardrails (issue #6, point 4) changes only `guardrail_check`.


@dataclass(frozen=True)
class ContactRules:
    """A merchant's contact settings, as the simulation needs them."""

    window_start: time = time(8, 0)
    window_end: time = time(21, 0)
    deferred_send_at: time = time(8, 30)
    max_contacts_per_week: int = 7


@dataclass(frozen=True)
class GuardVerdict:
    outcome: Literal["allowed", "deferred", "blocked"]
    rule: str | None = None
    words: str | None = None
    at: datetime | None = None  # when the contact would go out (allowed or deferred)


_HOLDS = {"paused": "paused", "disputed": "disputed", "hardship": "in hardship"}
_WEEK = timedelta(days=7)


def _next_opening(moment: datetime, timezone: str, rules: ContactRules) -> datetime:
    zone = ZoneInfo(timezone)
    local = moment.astimezone(zone)
    if rules.window_start <= local.time() < rules.window_end:
        return moment
    day = local.date() if local.time() < rules.window_start else local.date() + timedelta(days=1)
    return datetime.combine(day, rules.deferred_send_at, tzinfo=zone).astimezone(UTC)


def guardrail_check(
    facts: ClaimFacts, channel: str, at: datetime, recent: Sequence[datetime], rules: ContactRules
) -> GuardVerdict:
    """Whether a contact at `at` may happen then, later, or not at all: recobro.guardrails decides,
    exactly as the planner and the sender do."""
    decision = guardrails.evaluate(
        guardrails.ClaimState(facts.status, facts.promise_due, facts.plan_active),
        guardrails.ProposedContact(channel, facts.timezone, frozenset(facts.opted_out_channels), tuple(recent)),
        guardrails.MerchantRules(
            rules.window_start, rules.window_end, rules.deferred_send_at, rules.max_contacts_per_week
        ),
        at,
    )
    return GuardVerdict(decision.outcome, decision.rule, decision.words() if decision.rule else None, decision.at)


# ---------------------------------------------------------------- simulation


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _local_iso(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds")


def _step_view(
    planned: PlannedStep, outcome: Outcome, verdict: GuardVerdict | None, send_at: datetime | None
) -> dict[str, Any]:
    reason = None
    if planned.reason == "conditions":
        reason = "a condition does not hold: " + "; ".join(planned.failed_conditions)
    elif planned.reason == "superseded":
        reason = "a later step of the backlog is sent instead"
    elif planned.reason == "expired":
        reason = "a step before the due date is not sent once the due date has come"
    elif verdict is not None and verdict.words:
        reason = verdict.words
    return {
        "installment": planned.installment,
        "step": planned.step_id,
        "day": planned.day,
        "channel": planned.channel,
        "planned_at": _iso(planned.at),
        "planned_at_local": _local_iso(planned.at, planned.timezone),
        "outcome": outcome,
        "send_at": _iso(send_at) if send_at else None,
        "send_at_local": _local_iso(send_at, planned.timezone) if send_at else None,
        "rule": (verdict.rule if verdict is not None else None) or planned.reason,
        "reason": reason,
        "failed_conditions": list(planned.failed_conditions),
        "variants": [{"template": v.template, "weight": v.weight, "control": v.control} for v in planned.variants],
        "early_payment_offer": {"discount_percent": planned.early_payment_discount_percent}
        if planned.early_payment_discount_percent
        else None,
    }


def simulate_claim(
    strategy: Strategy, facts: ClaimFacts, now: datetime, rules: ContactRules, recent: Sequence[datetime] = ()
) -> list[dict[str, Any]]:
    """Every step the strategy has for the claim from `now` on, each with its outcome."""
    plan = plan_from(strategy, facts, now)
    contacts = list(recent)
    steps = []
    for planned in [*plan.due, *plan.upcoming]:
        if planned.decision == "skip":
            steps.append(_step_view(planned, "skipped", None, None))
            continue
        verdict = guardrail_check(facts, planned.channel, max(planned.at, now), contacts, rules)
        if verdict.outcome == "blocked" or verdict.at is None:
            steps.append(_step_view(planned, "blocked", verdict, None))
            continue
        contacts.append(verdict.at)
        steps.append(_step_view(planned, "send" if verdict.outcome == "allowed" else "deferred", verdict, verdict.at))
    return steps


def facts_view(facts: ClaimFacts) -> dict[str, Any]:
    """The facts a simulation used, without contact data."""
    return {
        "status": facts.status,
        "timezone": facts.timezone,
        "segment": facts.segment,
        "score_band": facts.score_band,
        "locale": facts.locale,
        "channels_available": sorted(facts.channels_available),
        "last_message_opened": facts.last_message_opened,
        "last_message_clicked": facts.last_message_clicked,
        "promise_state": facts.promise_state,
        "installments": [
            {"number": i.number, "due_date": i.due_date.isoformat(), "outstanding": i.outstanding}
            for i in facts.installments
        ],
    }


def simulate(
    strategy: Strategy, claims: Sequence[ClaimFacts], now: datetime, rules: ContactRules = ContactRules()
) -> dict[str, Any]:
    """The simulation of `strategy` over `claims`: per claim its steps, and totals per outcome and channel."""
    results = []
    totals: Counter[str] = Counter()
    per_channel: Counter[tuple[str, str]] = Counter()
    for facts in claims:
        steps = simulate_claim(strategy, facts, now, rules)
        for step in steps:
            totals[step["outcome"]] += 1
            per_channel[(step["channel"], step["outcome"])] += 1
        results.append({"claim_id": facts.claim_id, "facts": facts_view(facts), "steps": steps})
    outcomes = ("send", "deferred", "blocked", "skipped")
    return {
        "object": "strategy_simulation",
        "strategy": strategy.name,
        "now": _iso(now),
        "totals": {o: totals[o] for o in outcomes},
        "by_channel": {c: {o: per_channel[(c, o)] for o in outcomes} for c in CHANNELS},
        "claims": results,
    }


# ---------------------------------------------------------------- a synthetic sample

SAMPLE_TIMEZONES = (
    "Europe/Madrid",
    "Europe/London",
    "America/Sao_Paulo",
    "America/Mexico_City",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Sydney",
)
SAMPLE_LOCALES = ("es-ES", "es-MX", "en-GB", "en-US", "pt-BR")


def synthetic_claims(
    count: int, now: datetime, seed: int = 0, segments: Sequence[str] = ("default",)
) -> list[ClaimFacts]:
    """`count` made-up claims around `now`: some not yet due, some weeks overdue, a few on hold or
    with a promise, on every channel mix. The same seed gives the same claims."""
    rng = random.Random(seed)  # noqa: S311 - a sample, not a secret
    claims = []
    for n in range(count):
        timezone = rng.choice(SAMPLE_TIMEZONES)
        today = now.astimezone(ZoneInfo(timezone)).date()
        first_due = today + timedelta(days=rng.randint(-35, 10))
        installments = tuple(
            InstallmentFacts(k + 1, first_due + timedelta(days=30 * k), rng.choice((1500, 2500, 4990, 12000)))
            for k in range(rng.randint(1, 3))
        )
        channels = {"email"} | {c for c in ("sms", "whatsapp") if rng.random() < 0.6}
        opted_out = frozenset(c for c in channels if rng.random() < 0.05)
        promise = rng.choices(PROMISE_STATES, weights=(85, 5, 5, 5))[0]
        status = rng.choices(("open", "partially_paid", "paused", "disputed"), weights=(80, 14, 3, 3))[0]
        claims.append(
            ClaimFacts(
                claim_id=f"sim_{seed}_{n:04d}",
                timezone=timezone,
                installments=installments,
                status=status,
                segment=rng.choice(tuple(segments)),
                score_band=rng.choice((*SCORE_BANDS, None)),
                locale=rng.choice(SAMPLE_LOCALES),
                channels_available=frozenset(channels - opted_out),
                opted_out_channels=opted_out,
                last_message_opened=rng.random() < 0.4,
                last_message_clicked=rng.random() < 0.15,
                promise_state=promise,
                promise_due=today + timedelta(days=rng.randint(0, 7)) if promise == "active" else None,
            )
        )
    return claims
