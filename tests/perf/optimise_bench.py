"""Optimisation on a simulated population whose responses are known (issue 6, point 8).

    .venv/bin/python -m tests.perf.optimise_bench      (also a section of `make bench`)

Pure Python, seeded, a few seconds; it reports counts and ratios, never pass/fail:
(a) variant choice: conversions of Thompson sampling (recobro.optimise.bandit, with and without
    the 5 % holdout) as a share of an oracle that always sends the best variant, next to an
    equal split, over 100k sends. Each send goes to a debtor of one segment, at one step of the
    schedule (so on that step's channel) and at one local hour; whether it converts depends on
    segment, channel, hour and variant through the tables below. Rewards reach the bandit in
    batches, as they do in production (clicks and payments come days after the send).
    Every policy faces the same sends and the same random numbers, so only the choices differ.
(b) schedules: cash collected by the default strategy's schedule against a fixed "every 3 days
    by email" schedule (and the same capped at the default's message count), on one population
    whose daily chance to pay by itself, and to pay after a message by channel, is known.
The default schedule is the built-in default strategy itself (recobro/strategies/default.yaml,
read through recobro.strategies.builtin): -3 email, +1 email, +3 sms, +7 email, +15 whatsapp, +30
email. Its conditions hold for every simulated debtor until they pay: all have a phone, a debtor
who acts on a message pays (so "last message not clicked" holds while they still owe), and none
promises.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from recobro.optimise import bandit
from recobro.optimise.bandit import ArmStats
from recobro.strategies.builtin import built_in

SEED = 20260601
SENDS = 100_000
REWARD_BATCH = 2_500  # sends between two refreshes of the bandit's stats (delayed rewards)
DRAWS = 200  # Monte Carlo draws per probability refresh

# ---------------------------------------------------------------- the known population

SEGMENTS = {"first_time": 0.5, "repeat_late": 0.3, "high_balance": 0.2}  # share of debtors
DEFAULT_SCHEDULE: tuple[tuple[int, str], ...] = tuple((step.day, step.channel) for step in built_in().ordered_steps())
VARIANTS = ("friendly", "firm", "short")  # the first is the control
CLICK_RATE = {"email": 0.06, "sms": 0.09, "whatsapp": 0.12}
SEGMENT_RATE = {"first_time": 1.2, "repeat_late": 0.7, "high_balance": 0.9}
PEAK_HOUR = {"first_time": 19, "repeat_late": 12, "high_balance": 9}
VARIANT_LIFT = {
    "first_time": {"friendly": 1.0, "firm": 0.8, "short": 1.15},
    "repeat_late": {"friendly": 1.0, "firm": 1.45, "short": 1.1},
    "high_balance": {"friendly": 1.0, "firm": 1.2, "short": 0.85},
}
WINDOW_HOURS = range(8, 21)


def hour_factor(segment: str, hour: int) -> float:
    return 0.6 + 0.4 * math.exp(-(((hour - PEAK_HOUR[segment]) / 3) ** 2))


def conversion_probability(segment: str, channel: str, hour: int, variant: str) -> float:
    """The known chance that a send converts (click within 3 days or payment within 7)."""
    return CLICK_RATE[channel] * SEGMENT_RATE[segment] * hour_factor(segment, hour) * VARIANT_LIFT[segment][variant]


def best_variant(segment: str) -> str:
    return max(VARIANTS, key=lambda v: VARIANT_LIFT[segment][v])


# ---------------------------------------------------------------- (a) variant choice


@dataclass(frozen=True)
class Send:
    debtor_id: str
    segment: str
    step: int
    channel: str
    hour: int
    luck: float  # common random number: the send converts if luck < p(chosen variant)


def population(seed: int, sends: int, debtors: int = 20_000) -> list[Send]:
    rng = random.Random(seed)
    names, weights = list(SEGMENTS), list(SEGMENTS.values())
    segment_of = [rng.choices(names, weights)[0] for _ in range(debtors)]
    result = []
    for _ in range(sends):
        debtor = rng.randrange(debtors)
        step, channel = DEFAULT_SCHEDULE[rng.randrange(len(DEFAULT_SCHEDULE))]
        result.append(
            Send(f"dbt_{debtor:06d}", segment_of[debtor], step, channel, rng.choice(WINDOW_HOURS), rng.random())
        )
    return result


Policy = Callable[[Send, int], str]  # (send, index) -> variant


def _converts(send: Send, variant: str) -> tuple[bool, float]:
    """Whether the send converted, and its known chance to (summed: conversions without the noise)."""
    chance = conversion_probability(send.segment, send.channel, send.hour, variant)
    return send.luck < chance, chance


def run_fixed(sends: Sequence[Send], choose: Callable[[Send], str]) -> dict[str, Any]:
    outcomes = [_converts(s, choose(s)) for s in sends]
    return {"conversions": sum(c for c, _ in outcomes), "expected": sum(p for _, p in outcomes), "held_out": 0}


def run_thompson(sends: Sequence[Send], seed: int, holdout: float) -> dict[str, Any]:
    """The product's bandit, one per (step, segment), with stats refreshed every REWARD_BATCH sends."""
    rng = random.Random(seed)
    stats: dict[tuple[int, str], dict[str, ArmStats]] = {}
    pending: list[tuple[tuple[int, str], str, bool]] = []
    probabilities: dict[tuple[int, str], dict[str, float]] = {}
    conversions = held = 0
    expected = 0.0
    for index, send in enumerate(sends):
        if index % REWARD_BATCH == 0:
            for context, arm, converted in pending:
                old = stats.setdefault(context, {}).get(arm, ArmStats())
                stats[context][arm] = ArmStats(old.sends + 1, old.rewards + int(converted))
            pending.clear()
            probabilities.clear()
        context = (send.step, send.segment)
        if bandit.in_holdout(send.debtor_id, holdout):
            variant, arm = VARIANTS[0], bandit.HOLDOUT_ARM_PREFIX + VARIANTS[0]
            held += 1
        else:
            if context not in probabilities:
                probabilities[context] = bandit.win_probabilities(VARIANTS, stats.get(context, {}), rng, DRAWS)
            variant = arm = bandit.sample(probabilities[context], rng)
        converted, chance = _converts(send, variant)
        conversions += converted
        expected += chance
        pending.append((context, arm, converted))
    return {"conversions": conversions, "expected": expected, "held_out": held}


def bench_variants(seed: int = SEED, sends: int = SENDS) -> dict[str, Any]:
    population_ = population(seed, sends)
    oracle = run_fixed(population_, lambda s: best_variant(s.segment))
    split_rng = random.Random(seed + 1)
    equal = run_fixed(population_, lambda s: VARIANTS[split_rng.randrange(len(VARIANTS))])
    control = run_fixed(population_, lambda s: VARIANTS[0])
    thompson = run_thompson(population_, seed + 2, holdout=0.0)
    with_holdout = run_thompson(population_, seed + 2, holdout=bandit.HOLDOUT_SHARE)
    rows = [
        ("oracle (always the best variant)", oracle),
        ("Thompson sampling", thompson),
        (f"Thompson sampling, {bandit.HOLDOUT_SHARE:.0%} holdout on control", with_holdout),
        ("equal split", equal),
        ("control only", control),
    ]
    return {
        "sends": sends,
        "seed": seed,
        "reward_batch": REWARD_BATCH,
        "bandits": len(DEFAULT_SCHEDULE) * len(SEGMENTS),
        "policies": [
            {
                "policy": name,
                "conversions": r["conversions"],
                "of_oracle": r["conversions"] / oracle["conversions"] if oracle["conversions"] else None,
                "expected": r["expected"],
                "expected_of_oracle": r["expected"] / oracle["expected"] if oracle["expected"] else None,
                "held_out": r["held_out"],
            }
            for name, r in rows
        ],
    }


# ---------------------------------------------------------------- (b) schedules

HORIZON_DAYS = 45  # after this a claim leaves the reminder flow
SELF_CURE = {"first_time": 0.004, "repeat_late": 0.002, "high_balance": 0.003}  # daily chance to pay unprompted
RESPONSE = {"email": 0.08, "sms": 0.12, "whatsapp": 0.16}  # chance a message is acted on, fresh debtor
SEGMENT_RESPONSE = {"first_time": 1.2, "repeat_late": 0.7, "high_balance": 0.9}
PRE_DUE_BOOST = {"first_time": 1.5, "repeat_late": 1.0, "high_balance": 1.2}  # forgetting, not refusing
FATIGUE = 0.85  # each earlier message on the same channel dulls the next one
PAYS_WHEN_ACTING = 0.5


@dataclass(frozen=True)
class Debtor:
    segment: str
    amount: int  # minor units
    luck_self: tuple[float, ...]  # one number per day from -3 to HORIZON_DAYS
    luck_message: tuple[float, ...]


FIRST_DAY = -3


def debtors(seed: int, count: int = 5_000) -> list[Debtor]:
    rng = random.Random(seed)
    names, weights = list(SEGMENTS), list(SEGMENTS.values())
    days = HORIZON_DAYS - FIRST_DAY + 1
    return [
        Debtor(
            rng.choices(names, weights)[0],
            rng.randrange(2_000, 30_001, 100),
            tuple(rng.random() for _ in range(days)),
            tuple(rng.random() for _ in range(days)),
        )
        for _ in range(count)
    ]


def message_response(debtor: Debtor, day: int, channel: str, earlier_on_channel: int) -> float:
    boost = PRE_DUE_BOOST[debtor.segment] if day <= 0 else 1.0
    willingness = math.exp(-max(day, 0) / 40)
    return RESPONSE[channel] * SEGMENT_RESPONSE[debtor.segment] * boost * willingness * FATIGUE**earlier_on_channel


def run_schedule(population_: Sequence[Debtor], schedule: dict[int, str]) -> dict[str, int]:
    cash = messages = paid = 0
    for debtor in population_:
        sent_on: dict[str, int] = {}
        for day in range(FIRST_DAY, HORIZON_DAYS + 1):
            slot = day - FIRST_DAY
            paid_today = day > 0 and debtor.luck_self[slot] < SELF_CURE[debtor.segment]
            channel = schedule.get(day)
            if channel is not None and not paid_today:
                messages += 1
                chance = message_response(debtor, day, channel, sent_on.get(channel, 0)) * PAYS_WHEN_ACTING
                sent_on[channel] = sent_on.get(channel, 0) + 1
                paid_today = debtor.luck_message[slot] < chance
            if paid_today:
                cash += debtor.amount
                paid += 1
                break
    return {"cash": cash, "messages": messages, "paid": paid}


def bench_schedules(seed: int = SEED, count: int = 5_000) -> dict[str, Any]:
    population_ = debtors(seed, count)
    every_3_days = {day: "email" for day in range(1, HORIZON_DAYS + 1, 3)}
    capped = dict(sorted(every_3_days.items())[: len(DEFAULT_SCHEDULE)])
    schedules = [
        ("default strategy (default.yaml)", dict(DEFAULT_SCHEDULE)),
        ("every 3 days by email", every_3_days),
        (f"every 3 days by email, first {len(capped)}", capped),
        ("no reminders", {}),
    ]
    rows: list[dict[str, Any]] = [{"schedule": name, **run_schedule(population_, plan)} for name, plan in schedules]
    baseline = rows[1]["cash"]
    owed = sum(d.amount for d in population_)
    for row in rows:
        row["cash_vs_every_3_days"] = row["cash"] / baseline if baseline else None
        row["cash_per_message"] = row["cash"] / row["messages"] if row["messages"] else None
    return {"debtors": count, "owed": owed, "horizon_days": HORIZON_DAYS, "seed": seed, "schedules": rows}


# ---------------------------------------------------------------- report


def run(seed: int = SEED, sends: int = SENDS, debtor_count: int = 5_000) -> dict[str, Any]:
    started = time.perf_counter()
    result: dict[str, Any] = {"variants": bench_variants(seed, sends), "schedules": bench_schedules(seed, debtor_count)}
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def render(section: dict[str, Any]) -> str:
    from tests.perf.bench import format_table

    variants = section["variants"]
    rows = [
        [p["policy"], p["conversions"], p["of_oracle"], p["expected"], p["expected_of_oracle"], p["held_out"]]
        for p in variants["policies"]
    ]
    text = [
        f"Variant choice: conversions over {variants['sends']:,} simulated sends, {variants['bandits']} bandits "
        f"(step x segment), rewards every {variants['reward_batch']:,} sends\n"
        + format_table(
            ["policy", "conversions", "x oracle", "expected", "expected x oracle", "held out"],
            rows,
            [None, None, ".3f", ".0f", ".3f", None],
        )
    ]
    schedules = section["schedules"]
    rows = [
        [r["schedule"], r["messages"], r["paid"], r["cash"] / 100, r["cash_vs_every_3_days"], r["cash_per_message"]]
        for r in schedules["schedules"]
    ]
    text.append(
        f"Schedules: cash collected from {schedules['debtors']:,} simulated debtors owing "
        f"{schedules['owed'] / 100:,.0f} in {schedules['horizon_days']} days\n"
        + format_table(
            ["schedule", "messages", "paid", "cash", "x every 3 days", "cash/message (minor)"],
            rows,
            [None, None, None, ",.0f", ".3f", ".0f"],
        )
    )
    return "\n\n".join(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.optimise_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--sends", type=int, default=SENDS)
    parser.add_argument("--json", action="store_true", help="print the JSON instead of tables")
    args = parser.parse_args(argv)
    section = run(args.seed, args.sends)
    print(json.dumps(section, indent=2) if args.json else render(section))
    return 0


if __name__ == "__main__":
    sys.exit(main())
