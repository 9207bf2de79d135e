from datetime import datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from sauda.calendar import service
from sauda.calendar.deps import EventById, calendar_caller
from sauda.calendar.models import DEFAULT_DURATION_MINUTES, MAX_DURATION_MINUTES, AppointmentStatus
from sauda.calendar.repository import AppointmentRepository, EventRepository, StatisticsRepository
from sauda.calendar.schemas import (
    AppointmentIn,
    AppointmentOut,
    BusySlots,
    EventIn,
    EventOut,
    EventUpdate,
    FreeAnswer,
    StatisticsIncrement,
    StatisticsOut,
)
from sauda.db import SessionDep
from sauda.deps import SettingsDep
from sauda.pagination import Page, PageDep, make_page, paginate
from sauda.types import BigId, BusinessDate, LocalTime

# Every route: admins (Bearer JWT) or integration clients with the `calendar` scope; 401/403 first.
router = APIRouter(prefix="/calendar", tags=["calendar"], dependencies=[Depends(calendar_caller)])

TelegramIdPath = Annotated[BigId, Path(description="Telegram user id")]
AppointmentIdPath = BigId


# --- events ---------------------------------------------------------------------------------


@router.get("/events", response_model=Page[EventOut])
async def list_events(
    session: SessionDep,
    params: PageDep,
    user_id: Annotated[BigId | None, Query(description="Telegram id of the owner")] = None,
    date_from: BusinessDate | None = None,
    date_to: BusinessDate | None = None,
    search: Annotated[str | None, Query(max_length=100, description="part of name or details")] = None,
) -> Page[EventOut]:
    """Events by owner and date range (inclusive), in date and time order."""
    service.check_range(date_from, date_to)
    events = EventRepository(session)
    stmt = events.filtered(user_id=user_id, date_from=date_from, date_to=date_to, search=search)
    rows, total = await events.paginate(stmt, params)
    return make_page([EventOut.model_validate(e) for e in rows], total, params)


@router.post("/events", response_model=EventOut, status_code=status.HTTP_201_CREATED)
async def create_event(data: EventIn, session: SessionDep) -> EventOut:
    return EventOut.model_validate(await service.create_event(session, data))


@router.get("/events/{event_id}", response_model=EventOut)
async def get_event(event: EventById) -> EventOut:
    return EventOut.model_validate(event)


@router.patch("/events/{event_id}", response_model=EventOut)
async def update_event(event: EventById, data: EventUpdate, session: SessionDep) -> EventOut:
    return EventOut.model_validate(await service.update_event(session, event, data))


@router.delete("/events/{event_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_event(event: EventById, session: SessionDep) -> Response:
    """Appointments that name the event keep its id (no foreign key, as in the seed)."""
    await EventRepository(session).delete(event)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- statistics -----------------------------------------------------------------------------


@router.get("/statistics", response_model=Page[StatisticsOut])
async def list_statistics(
    session: SessionDep,
    params: PageDep,
    date_from: BusinessDate | None = None,
    date_to: BusinessDate | None = None,
) -> Page[StatisticsOut]:
    """The bot's daily counters, oldest day first."""
    service.check_range(date_from, date_to)
    rows, total = await paginate(session, StatisticsRepository(session).between(date_from, date_to), params)
    return make_page([StatisticsOut.model_validate(s) for s in rows], total, params)


@router.post("/statistics/increment", response_model=StatisticsOut)
async def increment_statistics(
    data: StatisticsIncrement, session: SessionDep, settings: SettingsDep
) -> StatisticsOut:
    """Add to the counters of a day (default: today in the business timezone), creating the
    day's row if needed. Atomic: concurrent increments never lose a count."""
    return await service.increment_statistics(session, settings, data)


# --- appointments ---------------------------------------------------------------------------


@router.get("/appointments", response_model=Page[AppointmentOut])
async def list_appointments(
    session: SessionDep,
    params: PageDep,
    tg_id: Annotated[BigId | None, Query(description="organizer or participant")] = None,
    status: AppointmentStatus | None = None,
    date_from: BusinessDate | None = None,
    date_to: BusinessDate | None = None,
) -> Page[AppointmentOut]:
    service.check_range(date_from, date_to)
    appointments = AppointmentRepository(session)
    stmt = appointments.filtered(tg_id=tg_id, status=status, date_from=date_from, date_to=date_to)
    rows, total = await appointments.paginate(stmt, params)
    return make_page([AppointmentOut.model_validate(a) for a in rows], total, params)


@router.post(
    "/appointments",
    response_model=AppointmentOut,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "`busy`: either person has an overlapping appointment"}},
)
async def invite(data: AppointmentIn, session: SessionDep, settings: SettingsDep) -> AppointmentOut:
    """Invite: a pending appointment. 409 `busy` when the organizer or the participant has a
    pending or confirmed appointment overlapping it, in either role."""
    return AppointmentOut.model_validate(await service.invite(session, settings, data))


@router.get("/appointments/{appointment_id}", response_model=AppointmentOut)
async def get_appointment(appointment_id: AppointmentIdPath, session: SessionDep) -> AppointmentOut:
    return AppointmentOut.model_validate(await AppointmentRepository(session).get(appointment_id))


async def _transition(session: SessionDep, appointment_id: int, target: AppointmentStatus) -> AppointmentOut:
    return AppointmentOut.model_validate(await service.change_status(session, appointment_id, target))


@router.post("/appointments/{appointment_id}/confirm", response_model=AppointmentOut)
async def confirm(appointment_id: AppointmentIdPath, session: SessionDep) -> AppointmentOut:
    """pending → confirmed; otherwise 409 `invalid_transition` naming the current status."""
    return await _transition(session, appointment_id, AppointmentStatus.confirmed)


@router.post("/appointments/{appointment_id}/decline", response_model=AppointmentOut)
async def decline(appointment_id: AppointmentIdPath, session: SessionDep) -> AppointmentOut:
    """pending → declined (frees the slot); otherwise 409."""
    return await _transition(session, appointment_id, AppointmentStatus.declined)


@router.post("/appointments/{appointment_id}/cancel", response_model=AppointmentOut)
async def cancel(appointment_id: AppointmentIdPath, session: SessionDep) -> AppointmentOut:
    """pending or confirmed → cancelled (frees the slot); otherwise 409."""
    return await _transition(session, appointment_id, AppointmentStatus.cancelled)


# --- availability ---------------------------------------------------------------------------


@router.get("/users/{tg_id}/busy", response_model=BusySlots)
async def busy_slots(
    tg_id: TelegramIdPath,
    session: SessionDep,
    settings: SettingsDep,
    date_from: Annotated[BusinessDate | None, Query(description="default: today")] = None,
    date_to: Annotated[BusinessDate | None, Query(description="inclusive; default: 30 days on")] = None,
) -> BusySlots:
    """The person's pending and confirmed appointments (either role) overlapping the days."""
    first, last = service.period(date_from, date_to, settings)
    start, end = datetime.combine(first, time.min), datetime.combine(last + timedelta(days=1), time.min)
    slots = await service.busy_slots(session, tg_id, start, end)
    return BusySlots(tg_id=tg_id, date_from=first, date_to=last, slots=slots)


@router.get("/users/{tg_id}/free", response_model=FreeAnswer)
async def is_free(
    tg_id: TelegramIdPath,
    session: SessionDep,
    date: BusinessDate,
    time: LocalTime,
    duration_minutes: Annotated[int, Query(ge=1, le=MAX_DURATION_MINUTES)] = DEFAULT_DURATION_MINUTES,
) -> FreeAnswer:
    """Whether the person has no pending or confirmed appointment overlapping this time."""
    conflicts = await service.busy_slots(session, tg_id, *service.span(date, time, duration_minutes))
    return FreeAnswer(
        tg_id=tg_id,
        date=date,
        time=time,
        duration_minutes=duration_minutes,
        free=not conflicts,
        conflicts=conflicts,
    )
