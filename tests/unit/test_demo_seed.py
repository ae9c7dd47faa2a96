"""The demo's seeded debtors: whatever the hour `make demo` starts, some of them may be reminded,
so the outbox a person opens first is never empty for want of daylight."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from recobro.guardrails import EARLIEST_CONTACT, LATEST_CONTACT

from infra.local import seed


@pytest.mark.parametrize("day", [date(2026, 12, 6), date(2027, 3, 28), date(2027, 7, 6), date(2027, 10, 31)])
def test_every_half_hour_of_the_day_some_overdue_debtors_are_inside_contact_hours(day: date) -> None:
    bodies = seed.claim_bodies("demo", seed.SEEDED_CLAIMS["demo"], day, random.Random(seed.RANDOM_SEED))
    for slot in range(48):
        now = datetime.combine(day, time(slot // 2, 30 * (slot % 2)), tzinfo=UTC)
        awake = []
        for body in bodies:
            local = now.astimezone(ZoneInfo(body["debtor"]["timezone"]))
            overdue = any(date.fromisoformat(i["due_date"]) < local.date() for i in body["installments"])
            if overdue and EARLIEST_CONTACT <= local.time() < LATEST_CONTACT:
                awake.append(body["external_id"])
        assert len(awake) >= 3, f"at {now:%H:%M} UTC only {awake} may be reminded"
