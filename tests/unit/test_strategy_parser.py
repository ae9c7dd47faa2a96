"""Strategies as code: what the parser accepts, and where it says the problems are."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from recobro.strategies import parser
from recobro.strategies.parser import StrategyInvalid, parse_strategy, to_yaml
from recobro.strategies.schema import CHANNELS, CONDITION_FIELDS, Step, Strategy

DEFAULT = Path(parser.__file__).with_name("default.yaml")

GOOD = """\
name: gentle
description: Two emails and an SMS.
steps:
  - day: -3
    channel: email
    early_payment_offer: {discount_percent: 3}
    variants:
      - template: pre_due
        control: true
  - day: 5
    channel: sms
    hour: 12
    conditions:
      amount_due: {gte: 5000, lt: 100000}
      segment: {in: [vip, new-customer]}
      last_message_opened: {eq: false}
    variants:
      - {template: sms_short, control: true}
      - {template: sms_long, weight: 3}
"""


def errors_of(text: str) -> list[tuple[int, int, str, str]]:
    with pytest.raises(StrategyInvalid) as caught:
        parse_strategy(text)
    return [(e.line, e.column, e.pointer, e.message) for e in caught.value.errors]


def test_a_valid_strategy_reads_into_steps_with_stable_ids():
    strategy = parse_strategy(GOOD)
    assert strategy.name == "gentle"
    assert [s.step_id for s in strategy.ordered_steps()] == ["d-3.email", "d+5.sms"]
    sms = strategy.steps[1]
    assert sms.send_hour == 12 and strategy.steps[0].send_hour == 9
    assert sms.control.template == "sms_short"
    assert sms.conditions["amount_due"] == {"gte": 5000, "lt": 100000}


def test_the_shipped_default_strategy_is_valid_and_sensible():
    strategy = parse_strategy(DEFAULT.read_text())
    assert strategy.name == "default"
    assert [(s.day, s.channel) for s in strategy.ordered_steps()] == [
        (-3, "email"),
        (1, "email"),
        (3, "sms"),
        (7, "email"),
        (15, "whatsapp"),
        (30, "email"),
    ]
    assert strategy.steps[0].early_payment_offer is not None
    # every variant names a template that ships for its channel
    from recobro import config

    for step in strategy.steps:
        for variant in step.variants:
            assert list((config.templates_dir() / step.channel).glob(f"{variant.template}.*")), variant
    # every channel but email is used only where the debtor can be reached on it
    for step in strategy.steps:
        if step.channel != "email":
            assert step.conditions["channel_available"] == {"eq": step.channel}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("    channel: sms\n", "    channel: fax\n"), (11, 14, "/steps/1/channel", "channel is one of email")),
        (("    hour: 12\n", "    hour: 12\n    tone: firm\n"), (13, 5, "/steps/1/tone", "unknown field 'tone'")),
        (
            ("      amount_due:", "      amount_owed:"),
            (14, 7, "/steps/1/conditions/amount_owed", "unknown condition field 'amount_owed'"),
        ),
        (
            ("{gte: 5000,", "{like: 5000,"),
            (14, 20, "/steps/1/conditions/amount_due/like", "unknown operator 'like'"),
        ),
        (
            ("{gte: 5000,", '{gte: "5000",'),
            (14, 25, "/steps/1/conditions/amount_due/gte", "'amount_due' compares with a whole number"),
        ),
        (
            ("last_message_opened: {eq: false}", "last_message_opened: {gt: false}"),
            (16, 29, "/steps/1/conditions/last_message_opened/gt", "'last_message_opened' takes only eq, ne"),
        ),
        (
            ("segment: {in: [vip, new-customer]}", "segment: {in: vip}"),
            (15, 21, "/steps/1/conditions/segment/in", "'in' needs a list"),
        ),
        (("      - {template: sms_short, control: true}\n", ""), (18, 7, "/steps/1/variants", "exactly one variant")),
        (
            ("{template: sms_long, weight: 3}", "{template: sms_long, weight: 3, control: true}"),
            (19, 50, "/steps/1/variants/1/control", "exactly one variant must be the control"),
        ),
        (
            ("  - day: 5\n", "  - day: -3\n    channel: email\n"),
            (12, 5, "/steps/1/channel", "'channel' is given twice (first on line 11)"),
        ),
        (
            ("  - day: 5\n    channel: sms\n", "  - day: -3\n    channel: email\n"),
            (10, 10, "/steps/1/day", "steps 0 and 1 both send email on day -3"),
        ),
        (("  - day: -3\n", "  - day: 2\n"), (6, 5, "/steps/0/early_payment_offer", "an early payment offer needs")),
        (("  - day: 5\n", "  - day: 5.5\n"), (10, 10, "/steps/1/day", "valid integer")),
        (("name: gentle\n", "name: Gentle Touch\n"), (1, 7, "/name", "'name' is 1 to 64 lower-case")),
        (("name: gentle\n", ""), (1, 1, "/name", "'name' is required")),
        (("    hour: 12\n", "    hour: 24\n"), (12, 11, "/steps/1/hour", "less than or equal to 23")),
    ],
)
def test_every_error_names_its_line_column_and_path(change: tuple[str, str], expected: tuple[int, int, str, str]):
    old, new = change
    assert old in GOOD
    found = errors_of(GOOD.replace(old, new, 1))
    line, column, pointer, message = expected
    assert any((e[0], e[1], e[2]) == (line, column, pointer) and message in e[3] for e in found), found


def test_all_problems_are_reported_at_once_in_document_order():
    text = GOOD.replace("channel: sms", "channel: fax").replace("template: pre_due", "template: Pre Due")
    found = errors_of(text)
    assert [e[2] for e in found] == ["/steps/0/variants/0/template", "/steps/1/channel"]


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("name: [unclosed\n", 2, 1, "expected ',' or ']'"),
        ("- just\n- a list\n", 1, 1, "a strategy is a mapping"),
        ("", 1, 1, "a strategy is a mapping"),
        ("name: x\nbase: &b {day: 1}\nsteps: [*b]\n", 2, 7, "anchors (&name) are not allowed"),
        ("name: x\n---\nname: y\n", 2, 1, "expected a single document"),
    ],
)
def test_text_that_is_not_a_yaml_mapping_is_refused_with_a_position(text: str, line: int, column: int, message: str):
    [(got_line, got_column, _, got_message)] = errors_of(text)
    assert (got_line, got_column) == (line, column)
    assert message in got_message


def test_an_oversized_document_is_refused_before_parsing():
    assert "larger than" in errors_of("#" * (parser.MAX_YAML_BYTES + 1))[0][3]


# ---------------------------------------------------------------- properties

names = st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True)


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, dict[str, object]]:
    chosen = draw(st.lists(st.sampled_from(sorted(CONDITION_FIELDS)), unique=True, max_size=3))
    result: dict[str, dict[str, object]] = {}
    for name in chosen:
        spec = CONDITION_FIELDS[name]
        op = draw(st.sampled_from(spec.operators))
        if spec.kind == "int":
            value: st.SearchStrategy[object] = st.integers(-10_000, 10_000)
        elif spec.kind == "bool":
            value = st.booleans()
        elif spec.choices:
            value = st.sampled_from(spec.choices)
        else:
            value = names
        result[name] = {op: draw(st.lists(value, min_size=1, max_size=3) if op in ("in", "not_in") else value)}
    return result


@st.composite
def strategies(draw: st.DrawFn) -> Strategy:
    slots = draw(
        st.lists(st.tuples(st.integers(-30, 365), st.sampled_from(CHANNELS)), min_size=1, max_size=6, unique=True)
    )
    steps = []
    for day, channel in slots:
        templates = draw(st.lists(names, min_size=1, max_size=3, unique=True))
        control = draw(st.integers(0, len(templates) - 1))
        steps.append(
            Step.model_validate(
                {
                    "day": day,
                    "channel": channel,
                    "hour": draw(st.none() | st.integers(0, 23)),
                    "conditions": draw(conditions()),
                    "variants": [
                        {"template": t, "weight": draw(st.integers(1, 10)), "control": n == control}
                        for n, t in enumerate(templates)
                    ],
                    **(
                        {"early_payment_offer": {"discount_percent": draw(st.integers(1, 50))}}
                        if day < 0 and draw(st.booleans())
                        else {}
                    ),
                }
            )
        )
    return Strategy(
        name=draw(names),
        description=draw(
            st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")) | st.just("\n"), max_size=40)
        ),
        steps=steps,
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies())
def test_any_valid_strategy_survives_a_round_trip_through_yaml(strategy: Strategy):
    assert parse_strategy(to_yaml(strategy)) == strategy


# Mutations that break a valid document; each must be reported with a line inside the document.
MUTATIONS = [
    ("unknown field", lambda d, s: s.__setitem__("colour", "red")),
    ("bad channel", lambda d, s: s.__setitem__("channel", "pigeon")),
    ("day out of range", lambda d, s: s.__setitem__("day", 400)),
    ("day as text", lambda d, s: s.__setitem__("day", "3")),
    ("no variants", lambda d, s: s.__setitem__("variants", [])),
    ("no control", lambda d, s: [v.__setitem__("control", False) for v in s["variants"]]),
    ("unknown condition", lambda d, s: s.setdefault("conditions", {}).__setitem__("mood", {"eq": "ok"})),
    ("bad operator", lambda d, s: s.setdefault("conditions", {}).__setitem__("amount_due", {"about": 3})),
    ("bool as number", lambda d, s: s.setdefault("conditions", {}).__setitem__("installment_number", {"eq": True})),
    ("duplicate step", lambda d, s: d["steps"].append(dict(s))),
    ("bad hour", lambda d, s: s.__setitem__("hour", -1)),
]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies(), st.sampled_from(MUTATIONS), st.data())
def test_any_invalid_mutation_is_reported_with_a_line_in_the_document(strategy: Strategy, mutation, data):
    document = yaml.safe_load(to_yaml(strategy))
    step = data.draw(st.sampled_from(document["steps"]))
    _, mutate = mutation
    mutate(document, step)
    text = yaml.safe_dump(document, sort_keys=False)
    with pytest.raises(StrategyInvalid) as caught:
        parse_strategy(text)
    lines = len(text.splitlines())
    assert caught.value.errors
    for error in caught.value.errors:
        assert 1 <= error.line <= lines and error.column >= 1
        assert error.pointer.startswith("/steps/") or error.pointer in ("", "/name")
