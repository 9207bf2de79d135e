"""The one clock of business rules: "today" in the business timezone, Kaspi's locks and
cool-downs, preorder deadlines, the Kaspi sandbox's delays. Code asks `clock.now()` /
`clock.monotonic()` rather than the system, so a test moves time forward with a clock of its own
(`use(...)`) instead of sleeping until the time has passed.

One module-level clock rather than a parameter: the API, the worker and the sandbox of a test
run in one process and must see the same time, and none of them needs another clock in
production. Redis TTLs and pacing keep Redis' and the event loop's own time.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, tzinfo
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start that never go back."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


_clock: Clock = SystemClock()


def now() -> datetime:
    return _clock.now()


def monotonic() -> float:
    return _clock.monotonic()


@contextmanager
def use(clock: Clock) -> Iterator[Clock]:
    """Make `clock` the clock of this process until the block ends."""
    global _clock
    previous, _clock = _clock, clock
    try:
        yield clock
    finally:
        _clock = previous


def business_today(tz: tzinfo) -> date:
    """Today's date in the business timezone (in Almaty it turns five hours before UTC's)."""
    return now().astimezone(tz).date()
