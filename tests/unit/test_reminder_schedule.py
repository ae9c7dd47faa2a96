"""When reminders fall due: in the debtor's timezone, once per step, never as a backlog burst."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from recobro.reminders.schedule import (
    ACTION_SHARDS,
    CONTACT_WINDOW,
    REMINDER_STEPS,
    InstallmentDue,
    action_shard,
    candidate_actions,
    next_action,
    parse_utc_iso,
    utc_iso,
)

ZONES = ["Europe/Madrid", "America/Sao_Paulo", "America/New_York", "Asia/Tokyo", "Pacific/Auckland", "UTC"]


def test_first_reminder_is_at_nine_local_the_day_after_the_due_date():
    due = [InstallmentDue(1, date(2026, 10, 1), 2500)]
    action = next_action(due, "Europe/Madrid", now=datetime(2026, 9, 1, tzinfo=UTC), reminded_through=None)
    assert action is not None
    assert action.key == "1:overdue_1"
    assert action.at.astimezone(ZoneInfo("Europe/Madrid")) == datetime(
        2026, 10, 2, 9, 0, tzinfo=ZoneInfo("Europe/Madrid")
    )


def test_a_claim_that_arrives_far_overdue_gets_one_reminder_for_its_latest_step():
    due = [InstallmentDue(1, date(2026, 8, 1), 2500)]
    now = datetime(2026, 8, 20, tzinfo=UTC)
    first = next_action(due, "UTC", now, None)
    assert first is not None and first.step == "overdue_15"
    second = next_action(due, "UTC", now, first.at)
    assert second is not None and second.step == "overdue_30" and second.at > now


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
    assert len(planned) <= len(items) * len(REMINDER_STEPS)


@given(st.datetimes(timezones=st.just(UTC)))
def test_index_timestamps_sort_like_the_instants_they_name(moment):
    moment = moment.replace(microsecond=0)
    assert parse_utc_iso(utc_iso(moment)) == moment
    later = moment + timedelta(seconds=1)
    assert utc_iso(moment) < utc_iso(later) or later.year > 9999


def test_claims_spread_over_every_shard():
    shards = {action_shard(f"clm_{n:06d}") for n in range(2000)}
    assert len(shards) == ACTION_SHARDS
