"""Business rules of the bot's calendar. Flushes, never commits."""

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.calendar.models import (
    NO_DOUBLE_BOOKING,
    TRANSITIONS,
    Appointment,
    AppointmentStatus,
    Event,
)
from sauda.calendar.repository import COUNTERS, AppointmentRepository, EventRepository, StatisticsRepository
from sauda.calendar.schemas import (
    AppointmentIn,
    BusySlot,
    EventIn,
    EventUpdate,
    StatisticsIncrement,
    StatisticsOut,
)
from sauda.config import Settings
from sauda.errors import EXCLUSION_VIOLATION, Conflict, InvalidInput, sqlstate

MAX_PERIOD_DAYS = 366


class Busy(Conflict):
    code = "busy"


class InvalidTransition(Conflict):
    code = "invalid_transition"


def today(settings: Settings) -> date:
    return datetime.now(settings.tz).date()


def period(date_from: date | None, date_to: date | None, settings: Settings) -> tuple[date, date]:
    """A bounded period of days: from today and a month long unless given, at most a year."""
    start = date_from or today(settings)
    end = date_to or start + timedelta(days=30)
    if end < start:
        raise InvalidInput.for_field("date_to", "must not be before date_from")
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise InvalidInput.for_field("date_to", f"the period is at most {MAX_PERIOD_DAYS} days")
    return start, end


def check_range(date_from: date | None, date_to: date | None) -> None:
    if date_from is not None and date_to is not None and date_to < date_from:
        raise InvalidInput.for_field("date_to", "must not be before date_from")


# --- events ---------------------------------------------------------------------------------


async def create_event(session: AsyncSession, data: EventIn) -> Event:
    return await EventRepository(session).add(Event(**data.model_dump()))


async def update_event(session: AsyncSession, event: Event, data: EventUpdate) -> Event:
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(event, field, value)
    await session.flush()
    return event


# --- statistics -----------------------------------------------------------------------------


async def increment_statistics(
    session: AsyncSession, settings: Settings, data: StatisticsIncrement
) -> StatisticsOut:
    amounts = {name: getattr(data, name) for name in COUNTERS}
    row = await StatisticsRepository(session).increment(data.date or today(settings), amounts)
    return StatisticsOut.model_validate(row)


# --- appointments ---------------------------------------------------------------------------


def span(day: date, at: time, minutes: int) -> tuple[datetime, datetime]:
    start = datetime.combine(day, at)
    return start, start + timedelta(minutes=minutes)


def busy_slot(tg_id: int, appointment: Appointment) -> BusySlot:
    starts_at, ends_at = span(appointment.date, appointment.time, appointment.duration_minutes)
    return BusySlot(
        appointment_id=appointment.id,
        date=appointment.date,
        time=appointment.time,
        duration_minutes=appointment.duration_minutes,
        starts_at=starts_at,
        ends_at=ends_at,
        status=appointment.status,
        role="organizer" if appointment.organizer_tg_id == tg_id else "participant",
    )


async def busy_slots(session: AsyncSession, tg_id: int, start: datetime, end: datetime) -> list[BusySlot]:
    rows = await AppointmentRepository(session).busy([tg_id], start, end)
    return [busy_slot(person, appointment) for person, appointment in rows]


async def invite(session: AsyncSession, settings: Settings, data: AppointmentIn) -> Appointment:
    """A pending appointment, unless either person is busy then (409 `busy`).

    The check first gives a precise answer; the exclusion constraint then settles races: of
    concurrent invites for one slot the database lets exactly one through."""
    values = await _with_event_time(session, data)
    start, end = span(values["date"], values["time"], data.duration_minutes)
    if start < datetime.now(settings.tz).replace(tzinfo=None):
        raise InvalidInput.for_field("date", "the appointment would start in the past")
    appointments = AppointmentRepository(session)
    people = [data.organizer_tg_id, data.participant_tg_id]
    await _refuse_busy(appointments, people, start, end)
    appointment = Appointment(**values, status=AppointmentStatus.pending)
    try:
        async with session.begin_nested():
            await appointments.add(appointment)
    except IntegrityError as exc:
        if not _is_double_booking(exc):
            raise
        # The winner has committed by now (the constraint waited for it): name who is busy.
        await _refuse_busy(appointments, people, start, end)
        raise Busy("The time is no longer free") from exc
    return appointment


async def _with_event_time(session: AsyncSession, data: AppointmentIn) -> dict[str, Any]:
    """The appointment's columns; the seed's invite for an event takes the event's date and time."""
    values = data.model_dump()
    if data.event_id is None:
        return values
    event = await EventRepository(session).find(data.event_id)
    if event is None:
        raise InvalidInput.for_field("event_id", f"event {data.event_id} does not exist")
    return values | {"date": data.date or event.date, "time": data.time or event.time}


def _is_double_booking(exc: IntegrityError) -> bool:
    return sqlstate(exc) == EXCLUSION_VIOLATION and NO_DOUBLE_BOOKING in str(exc.orig)


async def _refuse_busy(
    appointments: AppointmentRepository, people: list[int], start: datetime, end: datetime
) -> None:
    conflicts = await appointments.busy(people, start, end)
    if not conflicts:
        return
    person, appointment = conflicts[0]
    slot = busy_slot(person, appointment)
    field = "organizer_tg_id" if person == people[0] else "participant_tg_id"
    raise Busy(
        f"{person} is busy: appointment {appointment.id} ({appointment.status}) "
        f"{slot.starts_at:%Y-%m-%d %H:%M}-{slot.ends_at:%H:%M}",
        fields=[{"field": field, "message": f"busy with appointment {appointment.id}"}],
    )


async def change_status(session: AsyncSession, appointment_id: int, target: AppointmentStatus) -> Appointment:
    """Move along the state machine: pending → confirmed | declined | cancelled, confirmed →
    cancelled. Anything else is 409 naming the current status."""
    appointment = await AppointmentRepository(session).get_for_update(appointment_id)
    if target not in TRANSITIONS[appointment.status]:
        raise InvalidTransition(
            f"Appointment {appointment.id} is {appointment.status}; it cannot become {target}",
            fields=[{"field": "status", "message": f"is {appointment.status}"}],
        )
    appointment.status = target
    await session.flush()
    await session.refresh(appointment)
    return appointment
