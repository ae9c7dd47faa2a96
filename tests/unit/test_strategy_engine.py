"""due_steps and the schedule: which step of a strategy falls due when, and which would be sent."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from recobro.strategies import cli
from recobro.strategies.engine import ClaimFacts, InstallmentFacts, due_steps, next_step_at, schedule
from recobro.strategies.parser import parse_strategy
from recobro.strategies.simulate import ContactRules, guardrail_check, simulate, synthetic_claims

DEFAULT = Path(cli.__file__).with_name("default.yaml")

STRATEGY = parse_strategy(
    """\
name: test
steps:
  - day: -3
    channel: email
    hour: 10
    early_payment_offer: {discount_percent: 2}
    variants: [{template: pre_due, control: true}, {template: pre_due_b}]
  - day: 1
    channel: email
    variants: [{template: friendly, control: true}]
  - day: 3
    channel: sms
    conditions:
      channel_available: {eq: sms}
      amount_due: {gte: 5000}
    variants: [{template: sms, control: true}]
  - day: 7
    channel: whatsapp
    hour: 19
    conditions:
      locale: {in: [es, pt-BR]}
      score_band: {ne: A}
    variants: [{template: wa, control: true}]
"""
)


def facts(**overrides) -> ClaimFacts:
    base = {
        "claim_id": "clm_1",
        "timezone": "Europe/Madrid",
        "installments": (InstallmentFacts(1, date(2026, 10, 1), 3000), InstallmentFacts(2, date(2026, 11, 1), 3000)),
        "locale": "es-ES",
        "channels_available": frozenset({"email", "sms"}),
    }
    return ClaimFacts(**{**base, **overrides})


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_steps_fall_on_the_debtors_local_hour_relative_to_each_due_date():
    planned = schedule(STRATEGY, facts())
    first = planned[0]
    assert (first.installment, first.step_id) == (1, "d-3.email")
    assert first.local_at.isoformat() == "2026-09-28T10:00:00+02:00"
    assert first.at == utc("2026-09-28T08:00:00")
    assert first.early_payment_discount_percent == 2
    assert [v.template for v in first.variants] == ["pre_due", "pre_due_b"] and first.control == "pre_due"
    # after the end of summer time Madrid is UTC+1: the 09:00 step moves in UTC, not in local time
    nov = next(p for p in planned if p.installment == 2 and p.step_id == "d+1.email")
    assert nov.local_at.isoformat() == "2026-11-02T09:00:00+01:00"


def test_conditions_are_judged_per_installment_and_day():
    planned = {p.key: p for p in schedule(STRATEGY, facts())}
    # first installment alone owes 3000 < 5000: no SMS; by the second due date 6000 is owed
    assert planned["1:d+3.sms"].failed_conditions == ("amount_due gte 5000",)
    assert planned["2:d+3.sms"].conditions_met
    # es-ES matches "es"; no score yet satisfies "ne A"
    assert planned["1:d+7.whatsapp"].conditions_met
    english = {p.key: p for p in schedule(STRATEGY, facts(locale="en-GB", score_band="A"))}
    assert english["1:d+7.whatsapp"].failed_conditions == ("locale in ['es', 'pt-BR']", "score_band ne 'A'")


def test_a_paid_installment_gets_no_steps():
    paid_first = facts(
        installments=(InstallmentFacts(1, date(2026, 10, 1), 0), InstallmentFacts(2, date(2026, 11, 1), 3000))
    )
    assert {p.installment for p in schedule(STRATEGY, paid_first)} == {2}


def test_nothing_is_due_before_the_first_step():
    assert due_steps(STRATEGY, facts(), utc("2026-09-28T07:59:59")) == []
    [step] = due_steps(STRATEGY, facts(), utc("2026-09-28T08:00:00"))
    assert (step.key, step.decision) == ("1:d-3.email", "send")


def test_a_backlog_becomes_one_message_and_every_other_due_step_says_why_not():
    due = due_steps(STRATEGY, facts(), utc("2026-10-20T12:00:00"))
    assert [(p.key, p.decision, p.reason) for p in due] == [
        ("1:d-3.email", "skip", "expired"),  # an offer before the due date is never sent after it
        ("1:d+1.email", "skip", "superseded"),
        ("1:d+3.sms", "skip", "conditions"),
        ("1:d+7.whatsapp", "send", None),
    ]


def test_handled_steps_are_not_due_again_and_the_next_one_is_known():
    handled = facts(reminded_through=utc("2026-10-02T07:00:00"))
    assert due_steps(STRATEGY, handled, utc("2026-10-02T07:00:00")) == []
    assert next_step_at(STRATEGY, handled, utc("2026-10-02T07:00:00")) == utc("2026-10-04T07:00:00")
    assert (
        next_step_at(STRATEGY, facts(reminded_through=utc("2027-01-01T00:00:00")), utc("2027-01-01T00:00:00")) is None
    )


@settings(max_examples=60, deadline=None)
@given(
    now=st.datetimes(min_value=datetime(2026, 9, 1), max_value=datetime(2026, 12, 31)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
    handled=st.none()
    | st.datetimes(min_value=datetime(2026, 9, 1), max_value=datetime(2026, 12, 31)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
    timezone=st.sampled_from(["Europe/Madrid", "America/Sao_Paulo", "Pacific/Kiritimati", "America/St_Johns"]),
)
def test_due_steps_send_at_most_one_due_unhandled_step(now, handled, timezone):
    due = due_steps(STRATEGY, facts(timezone=timezone, reminded_through=handled), now)
    assert sum(p.decision == "send" for p in due) <= 1
    for p in due:
        assert p.at <= now and (handled is None or p.at > handled)
    sent = [p for p in due if p.decision == "send"]
    if sent:
        assert sent[0].conditions_met and all(
            p.at <= sent[0].at for p in due if p.conditions_met and p.reason != "expired"
        )
    for p in due:
        if p.reason == "expired":  # a pre-due step whose due date has begun
            assert p.day < 0


# ---------------------------------------------------------------- simulation and its guardrail step


def test_the_guardrail_step_defers_out_of_hours_and_over_the_cap_and_blocks_holds():
    rules = ContactRules(max_contacts_per_week=2)
    night = utc("2026-10-02T22:30:00")  # 00:30 in Madrid
    deferred = guardrail_check(facts(), "email", night, [], rules)
    assert (deferred.outcome, deferred.rule) == ("deferred", "outside_window")
    assert deferred.at == utc("2026-10-03T06:30:00")  # 08:30 in Madrid
    busy = [utc("2026-10-01T10:00:00"), utc("2026-10-02T10:00:00")]
    capped = guardrail_check(facts(), "email", utc("2026-10-03T10:00:00"), busy, rules)
    assert (capped.outcome, capped.rule, capped.at) == ("deferred", "weekly_cap", utc("2026-10-08T10:00:00"))
    assert guardrail_check(facts(status="disputed"), "email", night, [], rules).words == "the claim is disputed"
    assert guardrail_check(facts(opted_out_channels=frozenset({"sms"})), "sms", night, [], rules).rule == "opted_out"


def test_a_simulation_shows_each_step_with_its_outcome_in_utc_and_local_time():
    result = simulate(STRATEGY, [facts()], utc("2026-10-20T12:00:00"))
    steps = result["claims"][0]["steps"]
    whatsapp = next(s for s in steps if s["step"] == "d+7.whatsapp" and s["installment"] == 1)
    assert whatsapp["outcome"] == "send" and whatsapp["send_at"] == "2026-10-20T12:00:00Z"
    assert whatsapp["send_at_local"] == "2026-10-20T14:00:00+02:00"
    sms = next(s for s in steps if s["step"] == "d+3.sms" and s["installment"] == 1)
    assert sms["outcome"] == "skipped" and "amount_due gte 5000" in sms["reason"]
    assert result["totals"]["send"] == sum(s["outcome"] == "send" for s in steps)


def test_the_synthetic_sample_is_the_same_for_the_same_seed():
    now = utc("2026-10-20T12:00:00")
    assert synthetic_claims(20, now, seed=4) == synthetic_claims(20, now, seed=4)
    assert synthetic_claims(20, now, seed=4) != synthetic_claims(20, now, seed=5)


# ---------------------------------------------------------------- CLI


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_validates_the_default_strategy():
    code, out, _ = run_cli("strategy", "validate", str(DEFAULT))
    assert code == 0 and "ok (6 steps)" in out


def test_cli_prints_file_line_column_for_every_error(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps:\n  - day: 1\n    channel: fax\n    variants: [{template: a}]\n")
    code, _, err = run_cli("strategy", "validate", str(bad))
    assert code == 1
    assert err.splitlines() == [
        f"{bad}:4:14: channel is one of email, sms, whatsapp",
        f"{bad}:5:15: exactly one variant must be the control (control: true); none is",
    ]


def test_cli_simulates_offline_over_a_sample(tmp_path: Path):
    code, out, _ = run_cli(
        "strategy", "simulate", str(DEFAULT), "--claims", "5", "--at", "2026-10-20T12:00:00Z", "--json"
    )
    assert code == 0
    result = json.loads(out)
    assert len(result["claims"]) == 5 and result["strategy"] == "default"
    code, text, _ = run_cli("strategy", "simulate", str(DEFAULT), "--claims", "3", "--at", "2026-10-20T12:00:00Z")
    assert code == 0 and "totals: send" in text


@pytest.mark.parametrize("arguments", [["--claims", "0"], ["--at", "2026-10-20T12:00:00"]])
def test_cli_refuses_bad_options(arguments: list[str]):
    assert run_cli("strategy", "simulate", str(DEFAULT), *arguments)[0] == 2


def test_the_console_script_entry_point_runs_as_a_process(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps: 3\n")
    done = subprocess.run(
        [sys.executable, "-m", "recobro.strategies.cli", "strategy", "validate", str(bad)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"{bad}:2:8: Input should be a valid list"


def test_same_day_two_installments_still_one_message():
    close = facts(
        installments=(InstallmentFacts(1, date(2026, 10, 1), 3000), InstallmentFacts(2, date(2026, 10, 2), 3000))
    )
    due = due_steps(STRATEGY, close, utc("2026-10-05T12:00:00"))
    assert [p.key for p in due if p.decision == "send"] == ["2:d+3.sms"]
    assert all(p.at <= utc("2026-10-05T12:00:00") for p in due)
    assert timedelta(0) <= utc("2026-10-05T12:00:00") - due[-1].at
