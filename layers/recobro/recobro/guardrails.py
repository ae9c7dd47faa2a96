"""Compliance guardrails: whether one proposed contact may happen now, later, or not at all.

Strategies decide what to say and when they would like to say it; these rules always apply on
top and no strategy can turn them off. Pure functions of their arguments (no AWS, no clock, no
I/O), so the planner, the sender and a strategy simulation all ask the same question and get the
same answer, and property tests can run them over any timezone and any order of events.

- A claim that is paid, cancelled or written off, or held (paused, disputed, hardship), or under an
  unexpired promise, or on an active installment plan, gets nothing: the contact is blocked.
- A channel the debtor opted out of is blocked; a message without its opt-out is blocked.
- Contacts happen only inside the contact window in the debtor's own timezone (08:00-21:00 by
  default; a merchant may narrow it, never widen it). Outside it, the contact is deferred to the
  merchant's deferred send time (08:30 by default, or the window's start if that is later).
- At most 7 contacts per claim in any 168 hours across all channels (a merchant may set fewer).
  Over the cap, the contact is deferred to when the oldest counted contact leaves the 168 hours,
  moved into the window if that falls outside it.

Local times are wall-clock times of real instants (zoneinfo): a contact is inside the window when
the instant, shown in the debtor's zone, reads between start and end. A deferral instant is built
from a local time and then checked the same way, so a local time that does not exist (a spring-
forward gap) or exists twice (a fall-back overlap) can never yield a contact outside the window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

EARLIEST_CONTACT = time(8, 0)
LATEST_CONTACT = time(21, 0)  # exclusive: 21:00:00 is outside
DEFERRED_SEND_AT = time(8, 30)
MAX_CONTACTS_PER_WEEK = 7
CAP_PERIOD = timedelta(hours=168)

ENDED_STATUSES = frozenset({"paid", "cancelled", "written_off"})
HOLD_STATUSES = frozenset({"paused", "disputed", "hardship"})
COLLECTING_STATUSES = frozenset({"open", "partially_paid"})

# How far ahead a deferral looks for a day whose window exists at all (a skipped calendar day, a
# gap swallowing a narrow window); real zones need at most two days.
_SEARCH_DAYS = 8

Outcome = Literal["allowed", "deferred", "blocked"]

# Plain words for each rule, for the timeline and the strategy simulation.
RULE_WORDS: dict[str, str] = {
    "claim_paid": "the claim is paid",
    "claim_cancelled": "the claim is cancelled",
    "claim_written_off": "the claim is written off",
    "claim_on_hold": "the claim is on hold",
    "claim_not_collecting": "the claim is not being collected",
    "promise_active": "the debtor promised to pay and the promise has not expired",
    "plan_active": "an installment plan is collecting the claim",
    "opted_out": "the debtor opted out of this channel",
    "missing_opt_out": "the message carries no opt-out",
    "outside_window": "outside contact hours",
    "weekly_cap": "the weekly contact limit was reached",
    "no_contact_window": "the merchant's contact hours leave no time to contact",
}


@dataclass(frozen=True)
class MerchantRules:
    """A merchant's contact settings; `effective()` narrows them to what the law of this module allows."""

    window_start: time = EARLIEST_CONTACT
    window_end: time = LATEST_CONTACT
    deferred_send_at: time = DEFERRED_SEND_AT
    max_contacts_per_week: int = MAX_CONTACTS_PER_WEEK

    def effective(self) -> MerchantRules:
        start = max(self.window_start.replace(tzinfo=None), EARLIEST_CONTACT)
        end = min(self.window_end.replace(tzinfo=None), LATEST_CONTACT)
        send_at = self.deferred_send_at.replace(tzinfo=None)
        if not start <= send_at < end:
            send_at = start
        cap = min(self.max_contacts_per_week, MAX_CONTACTS_PER_WEEK)
        return MerchantRules(start, end, send_at, cap)


@dataclass(frozen=True)
class ClaimState:
    """What the claim says about contacting at all.

    `promise_due` is the date (debtor's calendar) of a promise that has not been kept yet; None if
    there is none or it was kept. It stops contacts up to and including that local date.
    """

    status: str
    promise_due: date | None = None
    plan_active: bool = False


@dataclass(frozen=True)
class ProposedContact:
    channel: str
    timezone: str  # the debtor's IANA zone
    opted_out_channels: frozenset[str] = frozenset()
    # Instants of this claim's contacts (any channel) in at least the last 168 hours; older ones
    # are ignored, so callers may pass more.
    recent_contacts: tuple[datetime, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    rule: str | None = None  # the rule that blocked or deferred; None when allowed
    at: datetime | None = None  # allowed: now; deferred: the instant to try again (UTC)
    detail: str | None = None  # e.g. the hold status, for the plain words

    @property
    def allowed(self) -> bool:
        return self.outcome == "allowed"

    def words(self) -> str:
        base = RULE_WORDS.get(self.rule or "", self.rule or "")
        if self.rule == "claim_on_hold" and self.detail:
            return f"the claim is {'in hardship' if self.detail == 'hardship' else self.detail}"
        if self.rule == "opted_out" and self.detail:
            return f"the debtor opted out of {self.detail}"
        return base


def _blocked(rule: str, detail: str | None = None) -> Decision:
    return Decision("blocked", rule, None, detail)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("guardrails need timezone-aware instants")
    return moment.astimezone(UTC)


# ---------------------------------------------------------------- the window


def in_window(moment: datetime, timezone: str, rules: MerchantRules = MerchantRules()) -> bool:
    """Whether `moment`, read on a wall clock in `timezone`, is inside the merchant's window."""
    window = rules.effective()
    wall = moment.astimezone(ZoneInfo(timezone)).time()
    return window.window_start <= wall < window.window_end


def _opening(day: date, zone: ZoneInfo, window: MerchantRules) -> datetime | None:
    """The deferred send instant of a local day, or None if that day has none inside the window."""
    valid = []
    for fold in (0, 1):  # both readings of an ambiguous or non-existent local time
        moment = datetime.combine(day, window.deferred_send_at, tzinfo=zone).replace(fold=fold).astimezone(UTC)
        local = moment.astimezone(zone)
        if local.date() == day and window.window_start <= local.time() < window.window_end:
            valid.append(moment)
    return min(valid) if valid else None


def next_window_instant(now: datetime, timezone: str, rules: MerchantRules = MerchantRules()) -> datetime | None:
    """`now` if it is inside the window, else the next deferred send instant; None if there is none."""
    now = _aware(now)
    window = rules.effective()
    if window.window_start >= window.window_end:
        return None
    zone = ZoneInfo(timezone)
    if in_window(now, timezone, window):
        return now
    first = now.astimezone(zone).date()
    for offset in range(_SEARCH_DAYS):
        opening = _opening(first + timedelta(days=offset), zone, window)
        if opening is not None and opening > now:
            return opening
    return None


# ---------------------------------------------------------------- the cap


def cap_clears_at(moment: datetime, contacts: Iterable[datetime], cap: int) -> datetime | None:
    """`moment` if fewer than `cap` contacts lie in the 168 hours before it, else the instant when
    enough of them have left that period (None if `cap` allows no contact at all)."""
    if cap < 1:
        return None
    counted = sorted(c for c in (_aware(c) for c in contacts) if moment - c < CAP_PERIOD)
    if len(counted) < cap:
        return moment
    # The contact that must leave so only cap - 1 remain: it leaves exactly CAP_PERIOD after it was made.
    return counted[len(counted) - cap] + CAP_PERIOD


def contacts_in_period(contacts: Iterable[datetime], now: datetime) -> list[datetime]:
    """The contacts still counted at `now` (made less than 168 hours before it), oldest first:
    what a caller keeps of a rolling list."""
    now = _aware(now)
    return sorted(c for c in (_aware(c) for c in contacts) if now - c < CAP_PERIOD)


# ---------------------------------------------------------------- the decision


def _claim_rule(claim: ClaimState, local_today: date) -> Decision | None:
    if claim.status in ENDED_STATUSES:
        return _blocked(f"claim_{claim.status}")
    if claim.status in HOLD_STATUSES:
        return _blocked("claim_on_hold", claim.status)
    if claim.status not in COLLECTING_STATUSES:
        return _blocked("claim_not_collecting", claim.status)
    if claim.promise_due is not None and local_today <= claim.promise_due:
        return _blocked("promise_active")
    if claim.plan_active:
        return _blocked("plan_active")
    return None


def _timing(now: datetime, contact: ProposedContact, window: MerchantRules) -> Decision:
    """The earliest instant from `now` that is inside the window and under the cap."""
    moment: datetime | None = now
    first_rule: str | None = None
    # Each round moves past at least one counted contact or into a window, so this ends.
    for _ in range(len(contact.recent_contacts) + 2 * _SEARCH_DAYS + 2):
        assert moment is not None
        in_hours = next_window_instant(moment, contact.timezone, window)
        if in_hours is None:
            return _blocked("no_contact_window")
        if in_hours != moment:
            first_rule = first_rule or "outside_window"
            moment = in_hours
        cleared = cap_clears_at(moment, contact.recent_contacts, window.max_contacts_per_week)
        if cleared is None:
            return _blocked("weekly_cap")
        if cleared == moment:
            if moment == now:
                return Decision("allowed", None, now)
            return Decision("deferred", first_rule, moment)
        first_rule = first_rule or "weekly_cap"
        moment = cleared
    return _blocked("no_contact_window")


def evaluate(
    claim: ClaimState, contact: ProposedContact, rules: MerchantRules, now: datetime, *, has_opt_out: bool = True
) -> Decision:
    """Allowed now, deferred to an instant, or blocked by a rule: every guardrail, in one answer.

    Blocking rules come first (they do not wear off by waiting); then the window and the cap.
    `has_opt_out` says whether the rendered message carries its opt-out; callers that decide
    before rendering (the planner) leave it True and the sender checks again once it has rendered.
    """
    now = _aware(now)
    window = rules.effective()
    local_today = now.astimezone(ZoneInfo(contact.timezone)).date()
    blocked = _claim_rule(claim, local_today)
    if blocked is not None:
        return blocked
    if contact.channel in contact.opted_out_channels:
        return _blocked("opted_out", contact.channel)
    if not has_opt_out:
        return _blocked("missing_opt_out", contact.channel)
    return _timing(now, contact, window)


def check_opt_out(has_opt_out: bool, channel: str) -> Decision:
    """A rendered message must carry its opt-out (a link, List-Unsubscribe, or 'reply STOP')."""
    return Decision("allowed") if has_opt_out else _blocked("missing_opt_out", channel)


def parse_clock(text: str) -> time:
    """'HH:MM' as stored in merchant settings."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))
