"""The optimisation bench's simulation gives sane numbers (smaller runs than `make bench`)."""

from __future__ import annotations

import pytest

from tests.perf import bench, optimise_bench


@pytest.fixture(scope="module")
def variants() -> dict[str, dict[str, float]]:
    result = optimise_bench.bench_variants(seed=5, sends=30_000)
    return {p["policy"]: p for p in result["policies"]}


def _policy(variants: dict[str, dict[str, float]], prefix: str) -> dict[str, float]:
    (policy,) = [p for name, p in variants.items() if name.startswith(prefix) and "holdout" not in name]
    return policy


def test_thompson_sampling_beats_an_equal_split_on_a_population_with_a_clear_best_arm(
    variants: dict[str, dict[str, float]],
) -> None:
    thompson = _policy(variants, "Thompson sampling")
    equal = _policy(variants, "equal split")
    oracle = _policy(variants, "oracle")
    assert thompson["expected"] > equal["expected"] * 1.05
    assert oracle["expected"] >= thompson["expected"]
    assert oracle["of_oracle"] == 1.0
    assert 0.0 < equal["expected_of_oracle"] < thompson["expected_of_oracle"] <= 1.0


def test_the_holdout_run_holds_out_about_five_percent(variants: dict[str, dict[str, float]]) -> None:
    held = next(p for p in variants.values() if p["held_out"])
    assert 0.03 * 30_000 < held["held_out"] < 0.07 * 30_000


def test_the_population_is_deterministic() -> None:
    assert optimise_bench.population(9, 200) == optimise_bench.population(9, 200)
    assert optimise_bench.population(9, 200) != optimise_bench.population(10, 200)


def test_the_oracle_knows_each_segments_best_variant() -> None:
    assert optimise_bench.best_variant("repeat_late") == "firm"
    assert optimise_bench.best_variant("first_time") == "short"
    for segment in optimise_bench.SEGMENTS:
        best = optimise_bench.best_variant(segment)
        for hour in optimise_bench.WINDOW_HOURS:
            chances = {
                v: optimise_bench.conversion_probability(segment, "sms", hour, v) for v in optimise_bench.VARIANTS
            }
            assert max(chances, key=chances.__getitem__) == best
            assert all(0 < c < 1 for c in chances.values())


def test_schedules_collect_no_more_than_is_owed_and_reminders_help() -> None:
    result = optimise_bench.bench_schedules(seed=3, count=1_500)
    rows = {r["schedule"]: r for r in result["schedules"]}
    for row in rows.values():
        assert 0 <= row["cash"] <= result["owed"]
        assert row["paid"] <= result["debtors"]
    assert rows["no reminders"]["messages"] == 0
    assert rows["no reminders"]["cash"] < rows["every 3 days by email"]["cash"]
    default = rows["default strategy (default.yaml)"]
    assert default["messages"] <= 6 * result["debtors"]
    assert default["messages"] < rows["every 3 days by email"]["messages"]


def test_the_section_renders() -> None:
    section = {
        "variants": optimise_bench.bench_variants(seed=1, sends=3_000),
        "schedules": optimise_bench.bench_schedules(seed=1, count=200),
    }
    text = bench.render_report({"optimise": section})
    assert "Thompson sampling" in text and "every 3 days by email" in text and "x oracle" in text
