"""The local hour a debtor is most likely to respond at, learned from their opens and clicks.

Pure. The tracking function counts each open and click under the local hour (debtor's timezone)
it happened in, on the Debtor item (`engagement_hours`: {"open_09": 3, "click_20": 1, ...}).
From those counts, each hour inside the contact window gets a score: clicks weigh more than
opens (an open may be a mail client prefetching images), an engagement also counts half for the
hours either side (9:55 and 10:05 are the same habit), engagement outside the window counts half
for the nearest allowed hour (an evening reader is best reached late), and the default hour starts
with a prior,
so a debtor with little history keeps the default 09:00 until the evidence says otherwise.
The planner asks `best_send_time` and the guardrails still decide whether that time is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

DEFAULT_SEND_TIME = time(9, 0)
DEFAULT_WINDOW = (time(8, 0), time(21, 0))
OPEN_WEIGHT = 1.0
CLICK_WEIGHT = 3.0
NEIGHBOUR_WEIGHT = 0.5  # an engagement at 10:xx also speaks, half as loudly, for 09:00 and 11:00
PRIOR_WEIGHT = 2.0  # pseudo-engagements at the default hour
MIN_EVIDENCE = 3.0  # weighted engagements before the default hour can be left
KINDS = ("open", "click")


def hour_key(kind: str, hour: int) -> str:
    """The key an engagement of `kind` at local `hour` is counted under on the Debtor item."""
    if kind not in KINDS or not 0 <= hour < 24:
        raise ValueError(f"no engagement key for {kind!r} at hour {hour}")
    return f"{kind}_{hour:02d}"


def local_hour(moment: datetime, timezone: str) -> int:
    """The hour on the debtor's clock at `moment` (aware)."""
    return moment.astimezone(ZoneInfo(timezone)).hour


def evidence_by_hour(counts: Mapping[str, int | float | Decimal]) -> list[float]:
    """Weighted engagements per local hour 0..23; unknown keys and negative counts are ignored."""
    evidence = [0.0] * 24
    for key, raw in counts.items():
        kind, _, hour_text = key.partition("_")
        if kind not in KINDS or not hour_text.isdigit() or not 0 <= int(hour_text) < 24:
            continue
        value = max(0.0, float(raw))
        evidence[int(hour_text)] += value * (CLICK_WEIGHT if kind == "click" else OPEN_WEIGHT)
    return evidence


def _candidates(window: tuple[time, time]) -> list[tuple[int, time]]:
    """(hour, earliest allowed time in that hour) for every hour the window touches."""
    start, end = window
    result = []
    for hour in range(24):
        begins = max(time(hour, 0), start)
        if begins.hour == hour and begins < end:
            result.append((hour, begins))
    return result


def _clamp(moment: time, window: tuple[time, time], candidates: list[tuple[int, time]]) -> time:
    start, end = window
    if start <= moment < end:
        return moment
    return candidates[0][1] if moment < start else candidates[-1][1]


def best_send_time(
    counts: Mapping[str, int | float | Decimal] | None,
    window: tuple[time, time] = DEFAULT_WINDOW,
    default: time = DEFAULT_SEND_TIME,
) -> time:
    """The local time to send this debtor's reminders: the best-scoring hour inside `window`.

    With too little history (or none) it is `default`, moved into the window if it lies outside.
    """
    candidates = _candidates(window)
    if not candidates:
        raise ValueError(f"the contact window {window[0]}-{window[1]} contains no time")
    fallback = _clamp(default, window, candidates)
    evidence = evidence_by_hour(counts or {})
    if sum(evidence) < MIN_EVIDENCE:
        return fallback

    allowed = [hour for hour, _ in candidates]
    inside = [e if hour in allowed else 0.0 for hour, e in enumerate(evidence)]
    # Engagement outside the window speaks, half as loudly, for the allowed hour nearest to it.
    projected = [0.0] * 24
    for hour, e in enumerate(evidence):
        if hour not in allowed:
            projected[min(allowed, key=lambda h: abs(h - hour))] += e

    def score(hour: int) -> float:
        near = inside[(hour - 1) % 24] + inside[(hour + 1) % 24] + projected[hour]
        prior = PRIOR_WEIGHT if hour == fallback.hour else 0.0
        return evidence[hour] + NEIGHBOUR_WEIGHT * near + prior

    # Ties go to the hour nearest the default: no reason to move is a reason to stay.
    hour, begins = max(candidates, key=lambda c: (score(c[0]), -abs(c[0] - fallback.hour)))
    return fallback if hour == fallback.hour else begins
