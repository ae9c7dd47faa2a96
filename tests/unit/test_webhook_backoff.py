"""Webhook retry schedule: exponential, capped, inside three days, split into SQS hops."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from recobro.webhooks import backoff

WINDOW = backoff.RETRY_WINDOW.total_seconds()
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC))


def test_the_documented_schedule() -> None:
    assert [backoff.retry_delay(n) for n in range(1, 9)] == [60, 300, 1800, 7200, 18000, 36000, 36000, 36000]
    offsets = backoff.schedule()
    assert offsets[:6] == [0, 60, 360, 2160, 9360, 27360]
    assert offsets[-1] <= WINDOW < offsets[-1] + backoff.retry_delay(len(offsets))
    assert len(offsets) == 12


@given(st.integers(min_value=1, max_value=10_000))
def test_delays_never_shrink_and_are_capped(n: int) -> None:
    assert backoff.retry_delay(n) <= backoff.retry_delay(n + 1) <= max(backoff.RETRY_DELAYS)
    assert backoff.retry_delay(n) >= 60


@given(st.integers(min_value=3600, max_value=30 * 86400))
def test_schedule_is_monotone_and_fills_the_window(window_seconds: int) -> None:
    window = timedelta(seconds=window_seconds)
    offsets = backoff.schedule(window)
    assert offsets[0] == 0
    assert all(a < b for a, b in itertools.pairwise(offsets))
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert gaps == sorted(gaps)
    last_interval = backoff.retry_delay(len(offsets))
    assert offsets[-1] <= window_seconds  # total time spent retrying <= the window
    assert offsets[-1] + last_interval > window_seconds  # and we did not stop early


@given(moments, st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=4 * 86400))
def test_next_attempt_stays_inside_the_window(created: datetime, failures: int, elapsed: int) -> None:
    now = created + timedelta(seconds=elapsed)
    following = backoff.next_attempt_at(created, failures, now)
    if following is None:
        assert now + timedelta(seconds=backoff.retry_delay(failures)) > created + backoff.RETRY_WINDOW
    else:
        assert following == now + timedelta(seconds=backoff.retry_delay(failures))
        assert following <= created + backoff.RETRY_WINDOW


@given(st.floats(min_value=-1e6, max_value=1e7, allow_nan=False), st.integers(min_value=1, max_value=2000))
def test_hops_respect_the_sqs_limit(remaining: float, max_hop: int) -> None:
    delay = backoff.hop_delay(remaining, max_hop)
    assert 0 <= delay <= min(max_hop, 900)
    if remaining <= 0:
        assert delay == 0
    else:
        assert delay >= 1
        if remaining <= min(max_hop, 900):
            assert delay >= remaining  # one hop reaches the due time


def test_a_failure_after_three_days_gives_up() -> None:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    assert backoff.next_attempt_at(created, 1, created) == created + timedelta(minutes=1)
    assert backoff.next_attempt_at(created, 12, created + timedelta(days=3)) is None
