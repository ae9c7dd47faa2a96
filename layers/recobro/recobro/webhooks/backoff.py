"""When a failed webhook delivery is tried again, and when we give up.

Attempt 1 happens at once. After the n-th failed attempt the next one waits RETRY_DELAYS[n-1]
(the last delay repeats): 1 min, 5 min, 30 min, 2 h, 5 h, then every 10 h. A retry is scheduled
only while it falls within RETRY_WINDOW (3 days) of the delivery's creation; the first failure
after that marks the delivery failed. SQS delays at most MAX_SQS_DELAY_SECONDS per message, so a
longer wait is split into hops (see `hop_delay`).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

RETRY_DELAYS: tuple[int, ...] = (60, 300, 1800, 7200, 18000, 36000)
RETRY_WINDOW = timedelta(days=3)
MAX_SQS_DELAY_SECONDS = 900


def retry_delay(failed_attempts: int) -> int:
    """Seconds to wait after the `failed_attempts`-th consecutive failure (1-based)."""
    if failed_attempts < 1:
        raise ValueError("failed_attempts starts at 1")
    return RETRY_DELAYS[min(failed_attempts, len(RETRY_DELAYS)) - 1]


def next_attempt_at(created_at: datetime, failed_attempts: int, now: datetime) -> datetime | None:
    """When to try again after a failure at `now`, or None when the retry window is spent."""
    candidate = now + timedelta(seconds=retry_delay(failed_attempts))
    if candidate > created_at + RETRY_WINDOW:
        return None
    return candidate


def schedule(window: timedelta = RETRY_WINDOW) -> list[int]:
    """Offsets in seconds from the first attempt of every attempt an always-failing endpoint gets."""
    offsets = [0]
    while True:
        following = offsets[-1] + retry_delay(len(offsets))
        if following > window.total_seconds():
            return offsets
        offsets.append(following)


def hop_delay(remaining_seconds: float, max_hop: int = MAX_SQS_DELAY_SECONDS) -> int:
    """SQS DelaySeconds for a job due in `remaining_seconds`: the whole wait, or one hop of it."""
    if remaining_seconds <= 0:
        return 0
    return max(0, min(max_hop, MAX_SQS_DELAY_SECONDS, math.ceil(remaining_seconds)))
