"""When reminders fall due: the strategy's steps in the debtor's timezone, once per step, never as a
backlog burst."""

from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from recobro.reminders import schedule
from recobro.reminders.schedule import (
    ACTION_SHARDS,
    CONTACT_WINDOW,
    InstallmentDue,
    action_shard,
    parse_utc_iso,
    utc_iso,
)
from recobro.strategies.builtin import built_in
from recobro.strategies.parser import parse_strategy

# The fixed schedule reminders had before strategies: still a fine strategy to test the planning on.
OVERDUE_ONLY = parse_strategy(
    """
name: overdue-only
steps:
  - {day: 1, channel: email, variants: [{template: reminder, control: true}]}
  - {day: 7, channel: email, variants: [{template: reminder, control: true}]}
  - {day: 15, channel: email, variants: [{template: reminder, control: true}]}
  - {day: 30, channel: email, variants: [{template: reminder, control: true}]}
"""
)
next_action = partial(schedule.next_action, strategy=OVERDUE_ONLY)
candidate_actions = partial(schedule.candidate_actions, strategy=OVERDUE_ONLY)

ZONES = ["Europe/Madrid", "America/Sao_Paulo", "America/New_York", "Asia/Tokyo", "Pacific/Auckland", "UTC"]


def test_first_reminder_is_at_nine_local_the_day_after_the_due_date():
    due = [InstallmentDue(1, date(2026, 10, 1), 2500)]
    action = next_action(due, "Europe/Madrid", now=datetime(2026, 9, 1, tzinfo=UTC), reminded_through=None)
    assert action is not None
    assert action.key == "1:d+1.email"
    assert action.at.astimezone(ZoneInfo("Europe/Madrid")) == datetime(
        2026, 10, 2, 9, 0, tzinfo=ZoneInfo("Europe/Madrid")
    )


def test_a_claim_that_arrives_far_overdue_gets_one_reminder_for_its_latest_step():
    due = [InstallmentDue(1, date(2026, 8, 1), 2500)]
    now = datetime(2026, 8, 20, tzinfo=UTC)
    first = next_action(due, "UTC", now, None)
    assert first is not None and first.step == "d+15.email"
    second = next_action(due, "UTC", now, first.at)
    assert second is not None and second.step == "d+30.email" and second.at > now


def test_a_backlog_reminder_due_at_night_waits_for_the_morning():
    due = [InstallmentDue(1, date(2026, 8, 1), 2500)]
    night = datetime(2026, 8, 20, 23, 30, tzinfo=ZoneInfo("Europe/Madrid"))
    action = next_action(due, "Europe/Madrid", night.astimezone(UTC), None)
    assert action is not None
    assert action.at.astimezone(ZoneInfo("Europe/Madrid")) == datetime(
        2026, 8, 21, 8, 30, tzinfo=ZoneInfo("Europe/Madrid")
    )


def test_paid_installments_get_no_reminders():
    due = [InstallmentDue(1, date(2026, 8, 1), 0), InstallmentDue(2, date(2026, 9, 1), 0)]
    assert next_action(due, "UTC", datetime(2026, 12, 1, tzinfo=UTC), None) is None


installments = st.lists(
    st.tuples(st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31)), st.integers(0, 10_000)),
    min_size=1,
    max_size=6,
).map(lambda items: [InstallmentDue(n, d, a) for n, (d, a) in enumerate(sorted(items), start=1)])


@settings(max_examples=200, deadline=None)
@given(
    installments, st.sampled_from(ZONES), st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2029, 6, 1))
)
def test_every_reminder_is_at_nine_in_the_debtors_own_time(items, zone, _now):
    for action in candidate_actions(items, zone):
        local = action.at.astimezone(ZoneInfo(zone))
        assert (local.hour, local.minute) == (9, 0)
        assert action.at.tzinfo is not None


@settings(max_examples=200, deadline=None)
@given(
    installments,
    st.sampled_from(ZONES),
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2029, 6, 1)),
    st.lists(st.integers(min_value=0, max_value=72), min_size=1, max_size=40),
)
def test_running_the_planner_repeatedly_plans_each_step_at_most_once(items, zone, start, hops):
    """Whatever the clock does between runs, no (installment, step) is planned twice, and every
    action planned was due when it was planned."""
    now = start.replace(tzinfo=UTC)
    reminded: datetime | None = None
    planned: list[str] = []
    for hours in hops:
        now += timedelta(hours=hours, minutes=hours * 7 % 60)
        while (action := next_action(items, zone, now, reminded)) is not None and action.at <= now:
            planned.append(action.key)
            reminded = action.at
            local = now.astimezone(ZoneInfo(zone)).time()
            assert CONTACT_WINDOW[0] <= local < CONTACT_WINDOW[1], f"planned at {local} local"
    assert len(planned) == len(set(planned))
    assert len(planned) <= len(items) * len(OVERDUE_ONLY.steps)


@given(st.datetimes(timezones=st.just(UTC)))
def test_index_timestamps_sort_like_the_instants_they_name(moment):
    moment = moment.replace(microsecond=0)
    assert parse_utc_iso(utc_iso(moment)) == moment
    later = moment + timedelta(seconds=1)
    assert utc_iso(moment) < utc_iso(later) or later.year > 9999


def test_claims_spread_over_every_shard():
    shards = {action_shard(f"clm_{n:06d}") for n in range(2000)}
    assert len(shards) == ACTION_SHARDS


def test_the_default_strategy_starts_three_days_before_the_due_date_at_its_own_hour():
    due = [InstallmentDue(1, date(2026, 10, 1), 2500)]
    action = schedule.next_action(due, "America/Sao_Paulo", datetime(2026, 9, 1, tzinfo=UTC), None, strategy=built_in())
    assert action is not None and action.key == "1:d-3.email"
    assert action.at.astimezone(ZoneInfo("America/Sao_Paulo")) == datetime(
        2026, 9, 28, 10, 0, tzinfo=ZoneInfo("America/Sao_Paulo")
    )


def test_a_learned_send_time_moves_only_the_steps_that_state_no_hour():
    due = [InstallmentDue(1, date(2026, 10, 1), 2500)]
    actions = schedule.candidate_actions(due, "Europe/Madrid", built_in(), time(19, 30))
    local = {a.step: a.at.astimezone(ZoneInfo("Europe/Madrid")).time() for a in actions}
    assert local["d+1.email"] == time(19, 30)  # no hour in the strategy: the debtor's hour
    assert local["d-3.email"] == time(10, 0)  # the strategy says 10:00
    assert local["d+3.sms"] == time(12, 0)


def test_an_offer_before_the_due_date_is_never_planned_after_it():
    due = [InstallmentDue(1, date(2026, 10, 1), 2500)]
    # Created on the due date, before the +1 step: the -3 offer has lapsed, the +1 email is next.
    action = schedule.next_action(due, "UTC", datetime(2026, 10, 1, 7, tzinfo=UTC), None, strategy=built_in())
    assert action is not None and action.key == "1:d+1.email"
    assert action.at == datetime(2026, 10, 2, 9, tzinfo=UTC)
