"""Thompson sampling over a step's template variants, with a permanent holdout that gets the control.

Pure: no AWS, no clock. One bandit runs per (merchant, step, segment); its state is, per variant,
how many reminders it sent and how many of those earned the reward:

    reward = the debtor clicked the reminder's link within 3 days of the send,
             or the claim received a payment within 7 days of the send
             (each message earns at most one reward; recobro.optimise.stats enforces it).

Each variant's conversion rate has the posterior Beta(1 + rewards, 1 + sends - rewards) (a uniform
prior). Thompson sampling sends each variant with the probability that it is the best one under
those posteriors. That probability is estimated by Monte Carlo with a fixed number of draws, and
the variant is then drawn from the estimate itself, so the probabilities written to the decision
log are exactly the probabilities the choice was made with (usable for unbiased off-policy
estimates later).

A debtor whose id hashes into the holdout (default 5 %) always gets the control variant, for as
long as the debtor exists: the holdout measures what optimisation adds over never optimising.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

HOLDOUT_SHARE = 0.05
DEFAULT_DRAWS = 1000
CLICK_REWARD_WINDOW = timedelta(days=3)
PAYMENT_REWARD_WINDOW = timedelta(days=7)
HOLDOUT_ARM_PREFIX = "holdout:"  # holdout sends are counted apart, so they never feed the bandit
_HOLDOUT_SALT = "recobro-holdout-v1"


@dataclass(frozen=True)
class ArmStats:
    """What one variant did so far in one (merchant, step, segment)."""

    sends: int = 0
    rewards: int = 0

    @property
    def posterior(self) -> tuple[float, float]:
        """Beta(alpha, beta) of the variant's conversion rate, from a uniform Beta(1, 1) prior."""
        rewards = max(0, min(self.rewards, self.sends))
        return 1.0 + rewards, 1.0 + (self.sends - rewards)


@dataclass(frozen=True)
class Choice:
    """The variant to send and why: for the sender, the stats and the decision log."""

    variant: str
    probabilities: dict[str, float]  # variant -> probability it was sent with; sums to 1
    holdout: bool  # the debtor is in the permanent holdout: the control was forced
    rule: str  # holdout_control | single_variant | thompson_sampling

    @property
    def arm(self) -> str:
        """The stats row this send is counted in (and a reward credited to)."""
        return f"{HOLDOUT_ARM_PREFIX}{self.variant}" if self.holdout else self.variant


def holdout_position(debtor_id: str) -> float:
    """A fixed number in [0, 1) for the debtor: stable across runs, machines and Python versions."""
    digest = hashlib.sha256(f"{_HOLDOUT_SALT}:{debtor_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_holdout(debtor_id: str, share: float = HOLDOUT_SHARE) -> bool:
    """Whether the debtor is in the holdout of size `share`; a debtor in it stays in it."""
    return holdout_position(debtor_id) < share


def rng_for(key: str) -> random.Random:
    """A generator seeded by `key` (e.g. the message's id): a redelivered job chooses the same variant."""
    return random.Random(f"recobro-variant:{key}")  # noqa: S311 - sampling, not secrecy


def win_probabilities(
    variants: Sequence[str], stats: Mapping[str, ArmStats], rng: random.Random, draws: int = DEFAULT_DRAWS
) -> dict[str, float]:
    """Monte Carlo estimate of P(variant has the highest conversion rate) under the posteriors."""
    _check_variants(variants)
    if draws < 1:
        raise ValueError("draws must be at least 1")
    if len(variants) == 1:
        return {variants[0]: 1.0}
    posteriors = [(stats.get(v) or ArmStats()).posterior for v in variants]
    wins = [0] * len(variants)
    beta = rng.betavariate
    for _ in range(draws):
        samples = [beta(a, b) for a, b in posteriors]
        wins[samples.index(max(samples))] += 1
    return {v: wins[i] / draws for i, v in enumerate(variants)}


def sample(probabilities: Mapping[str, float], rng: random.Random) -> str:
    """One variant drawn with the given probabilities (in their order)."""
    point = rng.random() * sum(probabilities.values())
    last = ""
    for variant, probability in probabilities.items():
        if probability <= 0:
            continue
        last = variant
        point -= probability
        if point < 0:
            return variant
    if not last:
        raise ValueError("no variant has a positive probability")
    return last  # rounding left a sliver past the end


def choose(
    variants: Sequence[str],
    stats: Mapping[str, ArmStats],
    rng: random.Random,
    holdout: float = HOLDOUT_SHARE,
    *,
    debtor_id: str,
    control: str | None = None,
    draws: int = DEFAULT_DRAWS,
) -> Choice:
    """The variant for one reminder to `debtor_id`, and the probabilities it was chosen with.

    `variants` are the step's variants in the strategy's order; the control is `control` or, by
    default, the first. `stats` maps variant -> ArmStats (rows for other names are ignored, so the
    holdout's own rows can be passed along). `holdout` is the share of debtors held out.
    """
    _check_variants(variants)
    if not 0 <= holdout < 1:
        raise ValueError("the holdout share must be in [0, 1)")
    control = variants[0] if control is None else control
    if control not in variants:
        raise ValueError(f"the control {control!r} is not one of the variants")
    if in_holdout(debtor_id, holdout):
        return Choice(control, {v: 1.0 if v == control else 0.0 for v in variants}, True, "holdout_control")
    if len(variants) == 1:
        return Choice(control, {control: 1.0}, False, "single_variant")
    probabilities = win_probabilities(variants, stats, rng, draws)
    return Choice(sample(probabilities, rng), probabilities, False, "thompson_sampling")


def _check_variants(variants: Sequence[str]) -> None:
    if not variants:
        raise ValueError("a step needs at least one variant")
    if len(set(variants)) != len(variants):
        raise ValueError("variant names must be unique")
    if any(v.startswith(HOLDOUT_ARM_PREFIX) for v in variants):
        raise ValueError(f"variant names may not start with {HOLDOUT_ARM_PREFIX!r}")
