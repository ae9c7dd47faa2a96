"""Guardrails hold whatever happens: any zone, any clock around DST changes, any order of events.

The property tests simulate a claim's life: payments, holds, promises, plans and opt-outs arrive
in random order among contact attempts; each attempt is decided by the guardrails; an allowed
contact is sent at once, a deferred one is tried again at its decided instant (as the planner
and sender do: re-checked then), a blocked one is dropped. An oracle written independently of
the module then counts violations of the rules in the issue, which must be zero.
"""

from __future__ import annotations

import functools
import heapq
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from recobro import guardrails
from recobro.guardrails import ClaimState, MerchantRules, ProposedContact, evaluate

CHANNELS = ("email", "sms", "whatsapp")
STATUSES = ("open", "partially_paid", "paid", "cancelled", "written_off", "paused", "disputed", "hardship")
# Zones worth visiting often: DST both ways, far offsets, half and quarter hours, skipped days, and
# the few whose clocks changed inside contact hours.
FOCUS_ZONES = (
    "Europe/Madrid",
    "America/Sao_Paulo",
    "America/New_York",
    "America/St_Johns",
    "Pacific/Kiritimati",
    "Pacific/Apia",
    "Pacific/Chatham",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Easter",
    "Africa/Khartoum",
    "Antarctica/Vostok",
    "America/Santiago",
    "Asia/Gaza",
    "UTC",
)
WEEK = timedelta(hours=168)


@functools.lru_cache(maxsize=4096)
def transitions(zone_name: str, year: int) -> tuple[datetime, ...]:
    """The instants in `year` when the zone's UTC offset changes, to the second."""
    zone = ZoneInfo(zone_name)
    found = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    offset = moment.astimezone(zone).utcoffset()
    while moment < end:
        later = moment + timedelta(hours=6)
        later_offset = later.astimezone(zone).utcoffset()
        if later_offset != offset:
            low, high = moment, later
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if middle.astimezone(zone).utcoffset() == offset else (low, middle)
            found.append(high.replace(microsecond=0))
            offset = later_offset
        moment = later
    return tuple(found)


zones = st.one_of(st.sampled_from(FOCUS_ZONES), st.sampled_from(sorted(available_timezones())))


@st.composite
def clocks(draw: st.DrawFn, zone: str) -> datetime:
    """An instant, often within a day and a half of one of the zone's clock changes."""
    year = draw(st.integers(1980, 2045))
    changes = transitions(zone, year)
    near_a_change = draw(st.booleans())
    if changes and near_a_change:
        near = draw(st.sampled_from(changes))
        return near + timedelta(seconds=draw(st.integers(-36 * 3600, 36 * 3600)))
    start = datetime(year, 1, 1, tzinfo=UTC)
    return start + timedelta(seconds=draw(st.integers(0, 365 * 86400)))


quarter_hours = st.integers(6 * 4, 23 * 4).map(lambda q: time(q // 4 % 24, q % 4 * 15))


@st.composite
def merchant_rules(draw: st.DrawFn) -> MerchantRules:
    """Any window a merchant might store, including ones wider than the law allows (clamped)."""
    start = draw(quarter_hours)
    end = draw(quarter_hours.filter(lambda t: t > start))
    return MerchantRules(start, end, draw(quarter_hours), draw(st.integers(1, 9)))


@dataclass(order=True)
class Event:
    at: datetime
    order: int
    kind: str = field(compare=False)
    value: str | int | None = field(compare=False, default=None)


EVENT_KINDS = st.one_of(
    st.tuples(st.just("attempt"), st.sampled_from(CHANNELS)),
    st.tuples(st.just("status"), st.sampled_from(STATUSES)),
    st.tuples(st.just("promise"), st.integers(0, 14)),
    st.tuples(st.just("promise_kept"), st.none()),
    st.tuples(st.just("plan"), st.integers(0, 1)),
    st.tuples(st.just("opt_out"), st.sampled_from(CHANNELS)),
)


@st.composite
def histories(draw: st.DrawFn, start: datetime) -> list[Event]:
    """A claim's events over three weeks, at random minutes, attempts the most frequent."""
    attempts = draw(st.lists(st.tuples(st.integers(0, 21 * 24 * 60), st.sampled_from(CHANNELS)), max_size=40))
    others = draw(st.lists(st.tuples(st.integers(0, 21 * 24 * 60), EVENT_KINDS), max_size=12))
    events = [Event(start + timedelta(minutes=m), 0, "attempt", c) for m, c in attempts]
    events += [Event(start + timedelta(minutes=m), 0, k, v) for m, (k, v) in others]
    order = draw(st.permutations(range(len(events))))  # same-minute events in any order
    return [replace(e, order=n) for e, n in zip(events, order, strict=True)]


@dataclass
class World:
    """The claim's true state while the simulation runs."""

    status: str = "open"
    promise_due: date | None = None
    plan_active: bool = False
    opted_out: set[str] = field(default_factory=set)

    def claim(self) -> ClaimState:
        return ClaimState(self.status, self.promise_due, self.plan_active)


@dataclass(frozen=True)
class Sent:
    at: datetime
    channel: str
    status: str
    promise_due: date | None
    plan_active: bool
    opted_out: frozenset[str]


def simulate(zone: str, rules: MerchantRules, events: list[Event]) -> tuple[list[Sent], list[guardrails.Decision]]:
    world = World()
    queue = list(events)
    heapq.heapify(queue)
    sent: list[Sent] = []
    decisions: list[guardrails.Decision] = []
    retries = 0
    while queue:
        event = heapq.heappop(queue)
        if event.kind == "status":
            world.status = str(event.value)
        elif event.kind == "promise":
            world.promise_due = event.at.astimezone(ZoneInfo(zone)).date() + timedelta(days=int(event.value or 0))
        elif event.kind == "promise_kept":
            world.promise_due = None
        elif event.kind == "plan":
            world.plan_active = bool(event.value)
        elif event.kind == "opt_out":
            world.opted_out.add(str(event.value))
        else:
            contact = ProposedContact(str(event.value), zone, frozenset(world.opted_out), tuple(s.at for s in sent))
            decision = evaluate(world.claim(), contact, rules, event.at)
            decisions.append(decision)
            if decision.outcome == "allowed":
                assert decision.at == event.at
                sent.append(
                    Sent(
                        event.at,
                        str(event.value),
                        world.status,
                        world.promise_due,
                        world.plan_active,
                        frozenset(world.opted_out),
                    )
                )
            elif decision.outcome == "deferred":
                assert decision.at is not None and decision.at > event.at, decision
                assert decision.rule in {"outside_window", "weekly_cap"}
                retries += 1
                assert retries < 10_000, "deferrals never settle"
                heapq.heappush(queue, Event(decision.at, event.order, "attempt", event.value))
            else:
                assert decision.rule is not None and decision.at is None
    return sent, decisions


def violations(zone: str, rules: MerchantRules, sent: list[Sent]) -> list[str]:
    """Every broken rule, checked from first principles rather than through the module."""
    found = []
    start = max(rules.window_start, time(8, 0))
    end = min(rules.window_end, time(21, 0))
    cap = min(rules.max_contacts_per_week, 7)
    for contact in sent:
        local = contact.at.astimezone(ZoneInfo(zone))
        if not start <= local.time() < end:
            found.append(f"outside window at {local.isoformat()}")
        if contact.channel in contact.opted_out:
            found.append(f"opted-out {contact.channel} at {local.isoformat()}")
        if contact.status not in {"open", "partially_paid"}:
            found.append(f"claim {contact.status} at {local.isoformat()}")
        if contact.plan_active:
            found.append(f"active plan at {local.isoformat()}")
        if contact.promise_due is not None and local.date() <= contact.promise_due:
            found.append(f"promise until {contact.promise_due} at {local.isoformat()}")
        within = [other for other in sent if contact.at - WEEK < other.at <= contact.at]
        if len(within) > cap:
            found.append(f"{len(within)} contacts in the 168 hours up to {local.isoformat()} (cap {cap})")
    return found


PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(data=st.data(), zone=zones, rules=merchant_rules())
def test_a_simulated_claim_life_breaks_no_guardrail(data: st.DataObject, zone: str, rules: MerchantRules) -> None:
    start = data.draw(clocks(zone))
    events = data.draw(histories(start))
    sent, _ = simulate(zone, rules, events)
    assert violations(zone, rules, sent) == []


@PROPERTY
@given(data=st.data(), zone=zones, rules=merchant_rules())
def test_many_attempts_on_an_open_claim_fill_the_cap_but_never_exceed_it(
    data: st.DataObject, zone: str, rules: MerchantRules
) -> None:
    """No holds, no opt-outs: the timing rules alone, under heavy pressure (bursts of attempts)."""
    effective = rules.effective()
    assume(effective.window_start < effective.window_end)  # settings refuse a window with no hours in it
    start = data.draw(clocks(zone))
    minutes = data.draw(st.lists(st.integers(0, 10 * 24 * 60), min_size=5, max_size=60))
    events = [Event(start + timedelta(minutes=m), n, "attempt", CHANNELS[n % 3]) for n, m in enumerate(minutes)]
    sent, decisions = simulate(zone, rules, events)
    assert violations(zone, rules, sent) == []
    # Nothing is lost: with no blocking events every attempt is eventually sent.
    assert len(sent) == len(events)
    assert all(d.rule != "no_contact_window" for d in decisions)


@PROPERTY
@given(data=st.data(), zone=zones, rules=merchant_rules())
def test_a_deferred_contact_is_allowed_at_its_instant_and_not_a_minute_before(
    data: st.DataObject, zone: str, rules: MerchantRules
) -> None:
    effective = rules.effective()
    assume(effective.window_start < effective.window_end)
    now = data.draw(clocks(zone))
    recent = data.draw(st.lists(st.integers(0, 7 * 24 * 60), max_size=9))
    contacts = tuple(now - timedelta(minutes=m) for m in recent)
    contact = ProposedContact("email", zone, frozenset(), contacts)
    claim = ClaimState("open")
    decision = evaluate(claim, contact, rules, now)
    assert decision.outcome in {"allowed", "deferred"}
    assert decision.at is not None
    assert evaluate(claim, contact, rules, decision.at).outcome == "allowed"
    if decision.outcome == "deferred":
        # No needless wait: a minute earlier is still outside the window or over the cap, unless
        # the deferral waited (as it should) for the merchant's later deferred send time that morning.
        earlier = decision.at - timedelta(minutes=1)
        if earlier > now and evaluate(claim, contact, rules, earlier).allowed:
            local = decision.at.astimezone(ZoneInfo(zone))
            assert local.time() == effective.deferred_send_at or local.time() > effective.deferred_send_at


@PROPERTY
@given(data=st.data(), zone=zones)
def test_outside_hours_the_default_deferral_is_half_past_eight_local(data: st.DataObject, zone: str) -> None:
    now = data.draw(clocks(zone))
    decision = evaluate(ClaimState("open"), ProposedContact("sms", zone), MerchantRules(), now)
    local = now.astimezone(ZoneInfo(zone))
    if time(8, 0) <= local.time() < time(21, 0):
        assert decision.outcome == "allowed"
        return
    assert decision.outcome == "deferred" and decision.rule == "outside_window" and decision.at is not None
    deferred = decision.at.astimezone(ZoneInfo(zone))
    # 08:30 wherever that wall-clock time exists (zones that skip it get the first valid moment).
    changes = transitions(zone, deferred.year) + transitions(zone, now.year)
    assume(all(abs(change - decision.at) > timedelta(days=2) for change in changes))
    assert deferred.time() == time(8, 30)
    assert decision.at - now <= timedelta(hours=36)


@given(
    zone=zones,
    status=st.sampled_from(STATUSES),
    channel=st.sampled_from(CHANNELS),
    opted=st.sets(st.sampled_from(CHANNELS)),
    plan=st.booleans(),
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
)
def test_blocking_rules_win_over_timing(
    zone: str, status: str, channel: str, opted: set[str], plan: bool, now: datetime
) -> None:
    decision = evaluate(
        ClaimState(status, plan_active=plan), ProposedContact(channel, zone, frozenset(opted)), MerchantRules(), now
    )
    should_block = status not in {"open", "partially_paid"} or plan or channel in opted
    assert (decision.outcome == "blocked") == should_block


# ---------------------------------------------------------------- examples a person can check


def _utc(zone: str, year: int, month: int, day: int, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def test_a_reminder_due_at_night_in_madrid_waits_until_half_past_eight():
    now = _utc("Europe/Madrid", 2026, 10, 2, 22, 15)
    decision = evaluate(ClaimState("open"), ProposedContact("email", "Europe/Madrid"), MerchantRules(), now)
    assert decision.outcome == "deferred" and decision.rule == "outside_window"
    assert decision.at == _utc("Europe/Madrid", 2026, 10, 3, 8, 30)
    assert decision.words() == "outside contact hours"


def test_a_narrower_merchant_window_defers_to_its_start_when_that_is_later_than_half_past_eight():
    rules = MerchantRules(time(10, 0), time(18, 0))
    now = _utc("America/New_York", 2026, 3, 8, 9, 0)  # DST began at 02:00 that morning
    decision = evaluate(ClaimState("open"), ProposedContact("sms", "America/New_York"), rules, now)
    assert decision.at == _utc("America/New_York", 2026, 3, 8, 10, 0)


def test_a_window_wider_than_the_law_is_narrowed():
    rules = MerchantRules(time(6, 0), time(23, 30), time(7, 0), 12)
    effective = rules.effective()
    assert (effective.window_start, effective.window_end, effective.max_contacts_per_week) == (
        time(8, 0),
        time(21, 0),
        7,
    )
    assert effective.deferred_send_at == time(8, 0)
    late = _utc("Europe/Madrid", 2026, 5, 4, 22, 0)
    assert evaluate(ClaimState("open"), ProposedContact("email", "Europe/Madrid"), rules, late).outcome == "deferred"


def test_khartoum_2000_skipped_noon_so_a_noon_window_opens_the_next_day():
    """On 2000-01-15 Khartoum's clocks jumped from 12:00 to 13:00: 12:30 did not exist that day."""
    rules = MerchantRules(time(12, 0), time(13, 0), time(12, 30))
    now = _utc("Africa/Khartoum", 2000, 1, 15, 9, 0)
    decision = evaluate(ClaimState("open"), ProposedContact("sms", "Africa/Khartoum"), rules, now)
    assert decision.outcome == "deferred" and decision.at is not None
    local = decision.at.astimezone(ZoneInfo("Africa/Khartoum"))
    assert local.date() == date(2000, 1, 16) and local.time() == time(12, 30)


def test_a_wall_time_that_happens_twice_inside_the_window_is_taken_the_first_time():
    """Easter Island, 1980-03-08: at 21:00 clocks went back to 20:00, so 20:30 happened twice."""
    rules = MerchantRules(time(20, 0), time(21, 0), time(20, 30))
    now = _utc("Pacific/Easter", 1980, 3, 8, 12, 0)
    decision = evaluate(ClaimState("open"), ProposedContact("sms", "Pacific/Easter"), rules, now)
    assert decision.at == _utc("Pacific/Easter", 1980, 3, 8, 20, 30, fold=0)
    # During the repeated hour the wall clock reads 20:xx again: still inside the window.
    second = _utc("Pacific/Easter", 1980, 3, 8, 20, 45, fold=1)
    assert second > _utc("Pacific/Easter", 1980, 3, 8, 20, 59)
    assert evaluate(ClaimState("open"), ProposedContact("sms", "Pacific/Easter"), rules, second).allowed


def test_a_spring_forward_gap_at_the_deferred_time_never_sends_before_the_window():
    """Madrid 2026-03-29 02:00 -> 03:00; a window opening at 08:00 is unaffected, but a time
    built naively inside a gap would shift: the deferral is checked after conversion."""
    now = _utc("Europe/Madrid", 2026, 3, 29, 1, 30)
    decision = evaluate(ClaimState("open"), ProposedContact("email", "Europe/Madrid"), MerchantRules(), now)
    assert decision.at == _utc("Europe/Madrid", 2026, 3, 29, 8, 30)


def test_kiritimati_skipped_new_years_eve_1994():
    """Kiritimati jumped from UTC-10 to UTC+14 and had no 31 December 1994."""
    now = _utc("Pacific/Kiritimati", 1994, 12, 30, 22, 0)
    decision = evaluate(ClaimState("open"), ProposedContact("sms", "Pacific/Kiritimati"), MerchantRules(), now)
    assert decision.at is not None
    local = decision.at.astimezone(ZoneInfo("Pacific/Kiritimati"))
    assert local.date() == date(1995, 1, 1) and local.time() == time(8, 30)


def test_st_johns_half_hour_offset():
    now = _utc("America/St_Johns", 2026, 11, 1, 7, 59)
    decision = evaluate(ClaimState("open"), ProposedContact("email", "America/St_Johns"), MerchantRules(), now)
    assert decision.at == _utc("America/St_Johns", 2026, 11, 1, 8, 30)
    assert evaluate(
        ClaimState("open"), ProposedContact("email", "America/St_Johns"), MerchantRules(), now + timedelta(minutes=1)
    ).allowed


def test_the_eighth_contact_in_a_week_waits_for_the_oldest_to_leave():
    zone = "Europe/Madrid"
    monday = _utc(zone, 2026, 6, 1, 10, 0)
    contacts = tuple(monday + timedelta(days=n, hours=n) for n in range(7))  # one a day, 10:00..16:00
    now = _utc(zone, 2026, 6, 7, 18, 0)
    contact = ProposedContact("sms", zone, recent_contacts=contacts)
    decision = evaluate(ClaimState("open"), contact, MerchantRules(), now)
    assert decision.outcome == "deferred" and decision.rule == "weekly_cap"
    assert decision.at == monday + WEEK  # Monday 10:00 next week, inside the window
    lower = MerchantRules(max_contacts_per_week=3)
    decision = evaluate(ClaimState("open"), ProposedContact("sms", zone, recent_contacts=contacts), lower, now)
    assert decision.at == contacts[4] + WEEK


def test_a_cap_that_clears_at_night_waits_for_the_window():
    """Madrid moved to summer time on 2026-03-29: 168 hours after 20:30 on the 28th is 21:30."""
    zone = "Europe/Madrid"
    contacts = (_utc(zone, 2026, 3, 28, 20, 30),)
    rules = MerchantRules(max_contacts_per_week=1)
    decision = evaluate(
        ClaimState("open"), ProposedContact("sms", zone, recent_contacts=contacts), rules, _utc(zone, 2026, 4, 1, 12)
    )
    assert decision.outcome == "deferred" and decision.rule == "weekly_cap"
    assert decision.at == _utc(zone, 2026, 4, 5, 8, 30)


@pytest.mark.parametrize(
    ("claim", "rule", "words"),
    [
        (ClaimState("paid"), "claim_paid", "the claim is paid"),
        (ClaimState("hardship"), "claim_on_hold", "the claim is in hardship"),
        (ClaimState("disputed"), "claim_on_hold", "the claim is disputed"),
        (ClaimState("open", promise_due=date(2026, 6, 10)), "promise_active", "the debtor promised to pay"),
        (ClaimState("partially_paid", plan_active=True), "plan_active", "an installment plan is collecting"),
    ],
)
def test_each_blocking_rule_names_itself(claim: ClaimState, rule: str, words: str):
    now = _utc("Europe/Madrid", 2026, 6, 10, 12)
    decision = evaluate(claim, ProposedContact("email", "Europe/Madrid"), MerchantRules(), now)
    assert decision.outcome == "blocked" and decision.rule == rule
    assert decision.words().startswith(words)


def test_a_promise_expires_at_the_end_of_its_day_in_the_debtors_calendar():
    claim = ClaimState("open", promise_due=date(2026, 6, 10))
    contact = ProposedContact("email", "Pacific/Kiritimati")
    assert not evaluate(claim, contact, MerchantRules(), _utc("Pacific/Kiritimati", 2026, 6, 10, 20, 59)).allowed
    assert evaluate(claim, contact, MerchantRules(), _utc("Pacific/Kiritimati", 2026, 6, 11, 9)).allowed


def test_opted_out_channel_and_missing_opt_out_are_blocked():
    contact = ProposedContact("email", "Europe/Madrid", frozenset({"email"}))
    now = _utc("Europe/Madrid", 2026, 6, 10, 12)
    decision = evaluate(ClaimState("open"), contact, MerchantRules(), now)
    assert (decision.rule, decision.words()) == ("opted_out", "the debtor opted out of email")
    sms = replace(contact, channel="sms")
    assert evaluate(ClaimState("open"), sms, MerchantRules(), now).allowed
    assert evaluate(ClaimState("open"), sms, MerchantRules(), now, has_opt_out=False).rule == "missing_opt_out"
    assert guardrails.check_opt_out(False, "sms").rule == "missing_opt_out"
    assert guardrails.check_opt_out(True, "sms").allowed


def test_naive_instants_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(ClaimState("open"), ProposedContact("email", "UTC"), MerchantRules(), datetime(2026, 1, 1))
