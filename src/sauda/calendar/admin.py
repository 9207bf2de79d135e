"""sqladmin views of the bot's calendar: events, daily statistics, appointments (seed 004).

The seed's Django admin had date list filters, search over names, details and Telegram ids, and
a date hierarchy for appointments. sqladmin has neither of the first two for dates, so
`DayFilter` gives Django's "today / past 7 days / this month / this year" choices and
`MonthFilter` lists the months that have rows, newest first (the hierarchy, one level deep).
"""

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqladmin import Flash, action
from sqladmin.filters import StaticValuesFilter, get_column_obj
from sqlalchemy import Select, func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sauda.admin import EnumFilter, SaudaView, refuse_cross_site, selected_ids, validated
from sauda.calendar import service
from sauda.calendar.models import Appointment, AppointmentStatus, BotStatistics, Event
from sauda.calendar.repository import EventRepository
from sauda.calendar.schemas import AppointmentIn, EventIn, EventUpdate
from sauda.config import get_settings
from sauda.errors import SaudaError

_DAY_CHOICES = [
    ("today", "Today"),
    ("past_7_days", "Past 7 days"),
    ("next_7_days", "Next 7 days"),
    ("this_month", "This month"),
    ("this_year", "This year"),
]


def day_bounds(choice: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """[first, after-last) of a `_DAY_CHOICES` period; None for anything else."""
    week = dt.timedelta(days=7)
    one = dt.timedelta(days=1)
    if choice == "today":
        return today, today + one
    if choice == "past_7_days":
        return today - week + one, today + one
    if choice == "next_7_days":
        return today, today + week
    if choice == "this_month":
        first = today.replace(day=1)
        return first, (first + dt.timedelta(days=32)).replace(day=1)
    if choice == "this_year":
        return today.replace(month=1, day=1), today.replace(year=today.year + 1, month=1, day=1)
    return None


class DayFilter(StaticValuesFilter):
    """Django's date list filter; "today" in the business timezone."""

    def __init__(self, column: Any) -> None:
        super().__init__(column, _DAY_CHOICES, title="Date", parameter_name="day")

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        bounds = day_bounds(str(value), dt.datetime.now(get_settings().tz).date())
        if bounds is None:
            return query
        column = get_column_obj(self.column, model)
        return query.where(column >= bounds[0], column < bounds[1])


class MonthFilter(StaticValuesFilter):
    """The months that have rows, newest first: a one-level date hierarchy."""

    def __init__(self, column: Any) -> None:
        super().__init__(column, [], title="Month", parameter_name="month")

    async def lookups(
        self, request: Request, model: Any, run_query: Callable[[Select[Any]], Any]
    ) -> list[tuple[str, str]]:
        month = func.date_trunc("month", get_column_obj(self.column, model))
        rows = await run_query(select(month).distinct().order_by(month.desc()).limit(120))
        return [("__all", "All"), *((f"{m:%Y-%m}", f"{m:%B %Y}") for (m,) in rows)]

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        try:
            first = dt.datetime.strptime(str(value), "%Y-%m").date()
        except ValueError:
            return query
        column = get_column_obj(self.column, model)
        after = (first + dt.timedelta(days=32)).replace(day=1)
        return query.where(column >= first, column < after)


_EVENT_FIELDS = ("name", "date", "time", "details", "user_id")


class EventAdmin(SaudaView, model=Event):
    """Events the bot's users created (the seed's `events` table, which the bot also writes
    with plain SQL)."""

    column_list = [Event.id, Event.name, Event.date, Event.time, Event.user_id]
    column_details_list = [Event.id, Event.name, Event.date, Event.time, Event.details, Event.user_id]
    column_labels = {Event.user_id: "Telegram id"}
    column_searchable_list = [Event.name, Event.details, Event.user_id]
    column_sortable_list = [Event.id, Event.name, Event.date, Event.time, Event.user_id]
    column_default_sort = [(Event.date, True), (Event.time, True)]
    column_filters = [DayFilter(Event.date), MonthFilter(Event.date)]
    form_columns = [Event.name, Event.date, Event.time, Event.details, Event.user_id]

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        event_in = validated(EventIn, {f: data.get(f) for f in _EVENT_FIELDS} | _blank_details(data))
        async with self.unit_of_work() as session:
            return await service.create_event(session, event_in)

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        changes = validated(EventUpdate, {f: data.get(f) for f in _EVENT_FIELDS} | _blank_details(data))
        async with self.unit_of_work() as session:
            event = await EventRepository(session).get(int(pk))
            return await service.update_event(session, event, changes)


def _blank_details(data: dict[str, Any]) -> dict[str, str]:
    return {"details": data.get("details") or ""}


class BotStatisticsAdmin(SaudaView, model=BotStatistics):
    """The bot's daily counters (read-only: the bot increments them through the API)."""

    name = "Bot statistics"
    name_plural = "Bot statistics"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = [
        BotStatistics.date,
        BotStatistics.user_count,
        BotStatistics.event_count,
        BotStatistics.edited_events,
        BotStatistics.cancelled_events,
    ]
    column_sortable_list = column_list
    column_default_sort = (BotStatistics.date, True)
    column_filters = [DayFilter(BotStatistics.date), MonthFilter(BotStatistics.date)]


_APPOINTMENT_FIELDS = (
    "organizer_tg_id",
    "participant_tg_id",
    "event_id",
    "date",
    "time",
    "duration_minutes",
    "details",
)


class AppointmentAdmin(SaudaView, model=Appointment):
    """Appointments between two Telegram users. Created through the service (a busy person is
    refused, as in the API); the status changes only through the Confirm / Decline / Cancel
    actions, which follow the state machine."""

    can_edit = False
    column_list = [
        Appointment.id,
        Appointment.date,
        Appointment.time,
        Appointment.duration_minutes,
        Appointment.status,
        Appointment.organizer_tg_id,
        Appointment.participant_tg_id,
        Appointment.event_id,
    ]
    column_labels = {
        Appointment.organizer_tg_id: "Organizer (Telegram id)",
        Appointment.participant_tg_id: "Participant (Telegram id)",
        Appointment.duration_minutes: "Minutes",
        Appointment.event_id: "Event",
    }
    column_searchable_list = [Appointment.details, Appointment.organizer_tg_id, Appointment.participant_tg_id]
    column_sortable_list = [Appointment.id, Appointment.date, Appointment.time, Appointment.status]
    column_default_sort = [(Appointment.date, True), (Appointment.time, True)]
    column_filters = [
        EnumFilter(Appointment.status, AppointmentStatus),
        DayFilter(Appointment.date),
        MonthFilter(Appointment.date),
    ]
    form_columns = [
        Appointment.organizer_tg_id,
        Appointment.participant_tg_id,
        Appointment.event_id,
        Appointment.date,
        Appointment.time,
        Appointment.duration_minutes,
        Appointment.details,
    ]

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        values = {f: data.get(f) for f in _APPOINTMENT_FIELDS} | _blank_details(data)
        appointment_in = validated(AppointmentIn, {k: v for k, v in values.items() if v is not None})
        async with self.unit_of_work() as session:
            return await service.invite(session, self.sauda_settings(), appointment_in)

    @action(name="confirm", label="Confirm", confirmation_message="Confirm the selected appointments?")
    async def confirm(self, request: Request) -> Response:
        return await self._move(request, AppointmentStatus.confirmed)

    @action(name="decline", label="Decline", confirmation_message="Decline the selected appointments?")
    async def decline(self, request: Request) -> Response:
        return await self._move(request, AppointmentStatus.declined)

    @action(name="cancel", label="Cancel", confirmation_message="Cancel the selected appointments?")
    async def cancel(self, request: Request) -> Response:
        return await self._move(request, AppointmentStatus.cancelled)

    async def _move(self, request: Request, target: AppointmentStatus) -> Response:
        refuse_cross_site(request)
        moved, refused = 0, []
        for appointment_id in selected_ids(request):
            try:
                async with self.unit_of_work() as session:
                    await service.change_status(session, appointment_id, target)
                moved += 1
            except SaudaError as exc:
                refused.append(exc.message)
        if moved:
            Flash.success(request, f"{moved} appointment(s) now {target}")
        for message in refused:
            Flash.error(request, message)
        return RedirectResponse(request.url_for("admin:list", identity=self.identity), status_code=302)


def views() -> list[type[SaudaView]]:
    return [EventAdmin, BotStatisticsAdmin, AppointmentAdmin]
