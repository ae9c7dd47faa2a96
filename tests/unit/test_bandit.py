"""Thompson sampling with a holdout: what a merchant's traffic split looks like as results come in."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from recobro.optimise import bandit
from recobro.optimise.bandit import ArmStats

VARIANTS = ["friendly", "firm", "short"]

arm_stats = st.builds(
    lambda sends, share: ArmStats(sends, int(sends * share)),
    st.integers(min_value=0, max_value=5000),
    st.floats(min_value=0, max_value=1),
)


@settings(max_examples=60, deadline=None)
@given(
    variants=st.lists(st.text("abcdefgh", min_size=1, max_size=6), min_size=1, max_size=5, unique=True),
    stats=st.lists(arm_stats, min_size=5, max_size=5),
    seed=st.integers(0, 2**32),
    debtor=st.text(min_size=1, max_size=20),
)
def test_probabilities_sum_to_one_and_the_choice_is_one_of_them(
    variants: list[str], stats: list[ArmStats], seed: int, debtor: str
) -> None:
    table = dict(zip(variants, stats, strict=False))
    choice = bandit.choose(variants, table, random.Random(seed), debtor_id=debtor, draws=200)
    assert set(choice.probabilities) == set(variants)
    assert sum(choice.probabilities.values()) == pytest.approx(1.0)
    assert all(0.0 <= p <= 1.0 for p in choice.probabilities.values())
    assert choice.variant in variants
    assert choice.probabilities[choice.variant] > 0  # never sends what it logged as impossible


def test_holdout_is_about_five_percent_of_debtors() -> None:
    debtors = [f"m-shop#dbt_{n:06d}" for n in range(40_000)]
    held = sum(bandit.in_holdout(d) for d in debtors)
    assert 0.045 < held / len(debtors) < 0.055


@given(st.text(min_size=1, max_size=40), st.integers(0, 2**32), st.integers(0, 2**32))
def test_a_debtor_in_the_holdout_always_gets_the_control(debtor: str, seed_a: int, seed_b: int) -> None:
    stats = {"friendly": ArmStats(1000, 10), "firm": ArmStats(1000, 400)}  # firm is far better
    first = bandit.choose(["friendly", "firm"], stats, random.Random(seed_a), debtor_id=debtor, draws=50)
    again = bandit.choose(["friendly", "firm"], stats, random.Random(seed_b), debtor_id=debtor, draws=50)
    assert first.holdout == again.holdout == bandit.in_holdout(debtor)
    if first.holdout:
        assert first.variant == again.variant == "friendly"
        assert first.probabilities == {"friendly": 1.0, "firm": 0.0}
        assert first.arm == "holdout:friendly"
        assert first.rule == "holdout_control"


def test_holdout_membership_is_a_fixed_function_of_the_id() -> None:
    # The same ids fall in the same place in every process (no PYTHONHASHSEED dependence).
    assert bandit.holdout_position("m-shop#dbt_000001") == bandit.holdout_position("m-shop#dbt_000001")
    held = next(d for d in (f"dbt_{n}" for n in range(1000)) if bandit.in_holdout(d))
    assert all(bandit.in_holdout(held) for _ in range(10))
    assert bandit.in_holdout(held, share=0.5)  # a larger holdout keeps everyone a smaller one had
    assert not bandit.in_holdout(held, share=0.0)


def test_an_explicit_control_is_what_the_holdout_gets() -> None:
    held = next(d for d in (f"dbt_{n}" for n in range(1000)) if bandit.in_holdout(d))
    choice = bandit.choose(VARIANTS, {}, random.Random(1), debtor_id=held, control="firm")
    assert choice.variant == "firm"
    with pytest.raises(ValueError, match="control"):
        bandit.choose(VARIANTS, {}, random.Random(1), debtor_id=held, control="nope")


def _outside_holdout(count: int) -> list[str]:
    return [d for d in (f"dbt_{n}" for n in range(count * 2)) if not bandit.in_holdout(d)][:count]


def test_a_clearly_better_variant_gets_most_traffic_after_enough_data() -> None:
    stats = {"friendly": ArmStats(2000, 100), "firm": ArmStats(2000, 300), "short": ArmStats(2000, 110)}
    rng = random.Random(7)
    sent = Counter(bandit.choose(VARIANTS, stats, rng, debtor_id=d, draws=300).variant for d in _outside_holdout(500))
    assert sent["firm"] > 0.95 * 500


def test_with_no_data_traffic_is_split_evenly() -> None:
    rng = random.Random(3)
    probabilities = bandit.win_probabilities(VARIANTS, {}, rng, draws=6000)
    assert all(abs(p - 1 / 3) < 0.03 for p in probabilities.values())


def test_a_learning_loop_shifts_traffic_to_the_best_variant() -> None:
    """Sends with feedback from a population whose best variant is known: the bandit finds it."""
    truth = {"friendly": 0.05, "firm": 0.12, "short": 0.06}
    world = random.Random(11)
    stats = {v: ArmStats() for v in VARIANTS}
    late = Counter[str]()
    for number, debtor in enumerate(_outside_holdout(1500)):
        choice = bandit.choose(VARIANTS, stats, random.Random(number), debtor_id=debtor, draws=100)
        reward = world.random() < truth[choice.variant]
        old = stats[choice.variant]
        stats[choice.variant] = ArmStats(old.sends + 1, old.rewards + int(reward))
        if number >= 1000:
            late[choice.variant] += 1
    assert late["firm"] > 0.6 * sum(late.values())


def test_a_single_variant_is_always_sent() -> None:
    choice = bandit.choose(["only"], {}, random.Random(0), debtor_id=_outside_holdout(1)[0])
    assert choice == bandit.Choice("only", {"only": 1.0}, False, "single_variant")


def test_the_same_message_key_chooses_the_same_variant() -> None:
    stats = {"friendly": ArmStats(50, 5), "firm": ArmStats(50, 6), "short": ArmStats(50, 5)}
    debtor = _outside_holdout(1)[0]
    picks = {
        bandit.choose(VARIANTS, stats, bandit.rng_for("m#clm_1#msg#001#7"), debtor_id=debtor).variant for _ in range(5)
    }
    assert len(picks) == 1


def test_posterior_counts_rewards_and_failures() -> None:
    assert ArmStats().posterior == (1.0, 1.0)
    assert ArmStats(10, 3).posterior == (4.0, 8.0)
    assert ArmStats(2, 5).posterior == (3.0, 1.0)  # a stray extra reward never makes beta negative


def test_rows_that_are_not_variants_are_ignored() -> None:
    stats = {"friendly": ArmStats(10, 1), "holdout:friendly": ArmStats(10**6, 10**6)}
    probabilities = bandit.win_probabilities(["friendly", "firm"], stats, random.Random(0), draws=100)
    assert set(probabilities) == {"friendly", "firm"}


@pytest.mark.parametrize(
    ("variants", "message"),
    [([], "at least one"), (["a", "a"], "unique"), (["holdout:a"], "may not start")],
)
def test_bad_variant_lists_are_refused(variants: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bandit.choose(variants, {}, random.Random(0), debtor_id="d")


def test_bad_holdout_shares_are_refused() -> None:
    with pytest.raises(ValueError, match="holdout"):
        bandit.choose(VARIANTS, {}, random.Random(0), holdout=1.0, debtor_id="d")
