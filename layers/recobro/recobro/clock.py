"""The one place the platform reads the time, so demos and tests can travel through it.

In AWS nothing calls travel_to and now() is the system clock. The local runtime moves the
in-process clock for its control surface (POST /clock); time keeps running from there.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_offset = timedelta(0)


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC) + _offset


def travel_to(moment: datetime) -> None:
    """Make now() return `moment` (aware) from here on, still ticking."""
    if moment.tzinfo is None:
        raise ValueError("travel_to needs a timezone-aware datetime")
    global _offset
    with _lock:
        _offset = moment.astimezone(UTC) - datetime.now(UTC)


def reset() -> None:
    """Back to the system clock."""
    global _offset
    with _lock:
        _offset = timedelta(0)
