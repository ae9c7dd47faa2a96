"""EventBridge Scheduler, locally: fire each schedule's function when the stack clock passes it.

The stack clock is recobro.clock (POST /clock moves it), so time travel fires what would have
fired: after a jump, a due schedule runs once (no catch-up storm), then resumes its cadence.
Supports rate(N minute[s]|hour[s]|day[s]) and the six-field AWS cron(...) form (no L, W or #).
"""

from __future__ import annotations

import calendar
import json
import logging
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.local.errors import LocalRuntimeError
from infra.local.handlers import LoadedFunction, log_exception
from infra.local.template import ACCOUNT_ID, REGION

log = logging.getLogger("infra.local.scheduler")

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name: i for i, name in enumerate(calendar.month_abbr) if name}
_MONTHS = {k.upper(): v for k, v in _MONTHS.items()}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}  # AWS: 1 = Sunday


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """Values a cron field allows; None means "any" (* or ?)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        if not (low <= start <= high and low <= end <= high) or step < 1:
            raise ValueError(f"{text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def _value(text: str, names: dict[str, int] | None) -> int:
    upper = text.strip().upper()
    if names and upper in names:
        return names[upper]
    if not upper.isdigit():
        raise ValueError(f"unsupported cron value {text!r} (L, W and # are not supported locally)")
    return int(upper)


@dataclass(frozen=True)
class Cron:
    minutes: set[int] | None
    hours: set[int] | None
    days: set[int] | None
    months: set[int] | None
    weekdays: set[int] | None  # AWS numbering, 1 = Sunday
    years: set[int] | None

    @classmethod
    def parse(cls, body: str) -> Cron:
        fields = body.split()
        if len(fields) != 6:
            raise ValueError("AWS cron needs six fields: minutes hours day-of-month month day-of-week year")
        return cls(
            _field(fields[0], 0, 59),
            _field(fields[1], 0, 23),
            _field(fields[2], 1, 31),
            _field(fields[3], 1, 12, _MONTHS),
            _field(fields[4], 1, 7, _DAYS),
            _field(fields[5], 1970, 2199),
        )

    def _day_ok(self, moment: datetime) -> bool:
        aws_weekday = (moment.isoweekday() % 7) + 1  # Monday=1 -> 2, Sunday=7 -> 1
        return (
            (self.days is None or moment.day in self.days)
            and (self.weekdays is None or aws_weekday in self.weekdays)
            and (self.months is None or moment.month in self.months)
            and (self.years is None or moment.year in self.years)
        )

    def next_after(self, moment: datetime) -> datetime:
        current = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = current + timedelta(days=366 * 5)
        while current < limit:
            if not self._day_ok(current):
                current = (current + timedelta(days=1)).replace(hour=0, minute=0)
            elif self.hours is not None and current.hour not in self.hours:
                current = (current + timedelta(hours=1)).replace(minute=0)
            elif self.minutes is not None and current.minute not in self.minutes:
                current += timedelta(minutes=1)
            else:
                return current
        raise ValueError("the cron expression never fires")


@dataclass(frozen=True)
class Rate:
    period: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.period


def parse_expression(expression: str) -> Rate | Cron:
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        amount, unit = int(rate.group(1)), rate.group(2).rstrip("s")
        if amount < 1:
            raise LocalRuntimeError(f"schedule expression {expression!r}: the rate must be at least 1")
        return Rate(timedelta(seconds=amount * _UNITS[unit]))
    cron = _CRON.match(text)
    if cron:
        try:
            return Cron.parse(cron.group(1))
        except ValueError as exc:
            raise LocalRuntimeError(f"schedule expression {expression!r}: {exc}") from None
    raise LocalRuntimeError(
        f"schedule expression {expression!r} is not rate(...) or cron(...); at(...) is not supported"
    )


@dataclass
class ScheduledTarget:
    logical_id: str
    expression: str
    timing: Rate | Cron
    function: LoadedFunction
    input: str | None
    enabled: bool
    next_fire: datetime | None = None


def _now() -> datetime:
    from recobro import clock  # the stack clock the product reads

    return clock.now()


class Scheduler:
    """Fires schedules in a background thread (if started) and on demand with fire()."""

    def __init__(self, targets: list[ScheduledTarget], tick_seconds: float = 0.5) -> None:
        self.targets = {t.logical_id: t for t in targets}
        self.tick_seconds = tick_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        now = _now()
        for target in self.targets.values():
            target.next_fire = target.timing.next_after(now)

    def lookup(self, logical_id: str) -> ScheduledTarget:
        if logical_id in self.targets:
            return self.targets[logical_id]
        by_function = [t for t in self.targets.values() if t.function.spec.logical_id == logical_id]
        if len(by_function) == 1:
            return by_function[0]
        if by_function:
            raise KeyError(f"{logical_id} has several schedules: {', '.join(t.logical_id for t in by_function)}")
        raise KeyError(f"no schedule or scheduled function named {logical_id}")

    def event(self, target: ScheduledTarget) -> dict[str, Any]:
        if target.input is not None:
            payload: dict[str, Any] = json.loads(target.input)
            return payload
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler",
            "account": ACCOUNT_ID,
            "time": _now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{target.logical_id}"],
            "detail": {},
        }

    def fire(self, logical_id: str) -> Any:
        """Run the schedule's target now, synchronously; return what the handler returned."""
        target = self.lookup(logical_id)
        return target.function.invoke(self.event(target))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def tick(self) -> list[str]:
        """Fire every enabled schedule whose next time has passed; return their ids."""
        fired = []
        now = _now()
        for target in self.targets.values():
            if not target.enabled or target.next_fire is None:
                continue
            candidate = target.timing.next_after(now)
            if candidate < target.next_fire:
                target.next_fire = candidate  # the clock moved back
            if now >= target.next_fire:
                target.next_fire = target.timing.next_after(now)
                fired.append(target.logical_id)
                try:
                    target.function.invoke(self.event(target))
                except Exception:
                    log_exception(f"schedule {target.logical_id} -> {target.function.spec.logical_id} failed")
        return fired

    def _run(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            try:
                self.tick()
            except Exception:
                log_exception("scheduler tick")
