"""Learning a debtor's send hour: what time the planner would pick for what history."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from recobro.optimise import send_hour
from recobro.optimise.send_hour import best_send_time, hour_key


def test_no_history_sends_at_nine() -> None:
    assert best_send_time(None) == time(9, 0)
    assert best_send_time({}) == time(9, 0)


def test_one_stray_open_does_not_move_the_hour() -> None:
    assert best_send_time({"open_19": 1}) == time(9, 0)


def test_an_evening_clicker_gets_evening_reminders() -> None:
    assert best_send_time({"click_19": 2, "open_19": 3, "open_20": 1}) == time(19, 0)


def test_clicks_outweigh_opens() -> None:
    counts = {"open_12": 4, "click_18": 2}
    assert best_send_time(counts) == time(18, 0)


def test_engagement_outside_the_window_pulls_to_the_nearest_allowed_hour() -> None:
    # Clicks at 21:xx and 22:xx: 21:00 is not allowed (window ends 21:00), so 20:00 wins.
    assert best_send_time({"click_21": 3, "click_22": 3}) == time(20, 0)


def test_a_narrower_merchant_window_is_respected() -> None:
    window = (time(10, 30), time(18, 0))
    assert best_send_time({}, window) == time(10, 30)  # the default 09:00 is moved inside
    assert best_send_time({"click_10": 5}, window) == time(10, 30)
    assert best_send_time({"click_19": 5, "click_20": 5}, window) == time(17, 0)


def test_decimal_counts_from_dynamodb_are_read() -> None:
    assert best_send_time({"click_14": Decimal(3), "open_14": Decimal(2)}) == time(14, 0)


def test_unknown_keys_are_ignored() -> None:
    assert best_send_time({"view_14": 50, "click_99": 50, "click_x": 50}) == time(9, 0)


@given(
    counts=st.dictionaries(
        st.builds(hour_key, st.sampled_from(send_hour.KINDS), st.integers(0, 23)), st.integers(0, 50), max_size=20
    ),
    start=st.integers(0, 22),
    length=st.integers(1, 16),
    minute=st.sampled_from([0, 15, 30, 45]),
)
def test_the_chosen_time_is_always_inside_the_window(
    counts: dict[str, int], start: int, length: int, minute: int
) -> None:
    begin = time(start, minute)
    end = time(min(start + length, 23), 59)
    chosen = best_send_time(counts, (begin, end))
    assert begin <= chosen < end


def test_local_hour_uses_the_debtors_clock() -> None:
    moment = datetime(2026, 7, 1, 18, 30, tzinfo=UTC)
    assert send_hour.local_hour(moment, "Europe/Madrid") == 20
    assert send_hour.local_hour(moment, "America/Sao_Paulo") == 15


def test_hour_keys() -> None:
    assert hour_key("open", 9) == "open_09"
    with pytest.raises(ValueError):
        hour_key("open", 24)
    with pytest.raises(ValueError):
        hour_key("view", 1)


def test_an_empty_window_is_an_error() -> None:
    with pytest.raises(ValueError, match="window"):
        best_send_time({}, (time(10, 0), time(10, 0)))
