"""Where business rules read the time: one replaceable clock, so tests can set "now".

The app keeps its clock in `app.state.clock` (the system clock unless a test replaces it); every
edge (API dependency, admin view, 1C exchange) reads it there and hands the services a date.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def business_today(clock: Clock, tz: tzinfo) -> date:
    """Today's date in the business timezone (it turns a few hours before UTC's in Almaty)."""
    return clock().astimezone(tz).date()
