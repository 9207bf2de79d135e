from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, or_, select, true
from sqlalchemy.dialects.postgresql import Range, insert
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.calendar.models import Appointment, AppointmentSlot, AppointmentStatus, BotStatistics, Event
from sauda.repository import ModelT, Repository, escape_like
from sauda.tenancy import Scope

COUNTERS = ("user_count", "event_count", "edited_events", "cancelled_events")


class CalendarRepository(Repository[ModelT]):
    """The calendar is not tenant-owned (Telegram ids are global, one bot per deployment):
    every reader that may call these routes sees all of it."""

    def __init__(self, session: AsyncSession) -> None:
        super().__init__(session, Scope.everything())

    def select(self) -> Select[ModelT]:
        return select(self.model).where(true())


class EventRepository(CalendarRepository[Event]):
    model = Event
    label = "Event"

    def filtered(
        self, *, user_id: int | None, date_from: date | None, date_to: date | None, search: str | None
    ) -> Select[Event]:
        stmt = self.select()
        if user_id is not None:
            stmt = stmt.where(Event.user_id == user_id)
        if date_from is not None:
            stmt = stmt.where(Event.date >= date_from)
        if date_to is not None:
            stmt = stmt.where(Event.date <= date_to)
        if search:
            pattern = f"%{escape_like(search)}%"
            stmt = stmt.where(Event.name.ilike(pattern) | Event.details.ilike(pattern))
        return stmt.order_by(Event.date, Event.time, Event.id)

    async def find(self, event_id: int) -> Event | None:
        return await self.session.scalar(self.select().where(Event.id == event_id))


class StatisticsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def between(self, date_from: date | None, date_to: date | None) -> Select[BotStatistics]:
        stmt = select(BotStatistics)
        if date_from is not None:
            stmt = stmt.where(BotStatistics.date >= date_from)
        if date_to is not None:
            stmt = stmt.where(BotStatistics.date <= date_to)
        return stmt.order_by(BotStatistics.date)

    async def increment(self, day: date, amounts: dict[str, int]) -> dict[str, Any]:
        """Add `amounts` to the day's counters in one statement: concurrent increments queue on
        the row lock and each adds to the value the previous one committed."""
        new = insert(BotStatistics).values(date=day, **amounts)
        upsert = new.on_conflict_do_update(
            index_elements=[BotStatistics.date],
            set_={name: getattr(BotStatistics, name) + getattr(new.excluded, name) for name in COUNTERS},
        ).returning(*BotStatistics.__table__.columns)
        row = (await self.session.execute(upsert)).one()
        return dict(row._mapping)


class AppointmentRepository(CalendarRepository[Appointment]):
    model = Appointment
    label = "Appointment"

    def filtered(
        self,
        *,
        tg_id: int | None,
        status: AppointmentStatus | None,
        date_from: date | None,
        date_to: date | None,
    ) -> Select[Appointment]:
        stmt = self.select()
        if tg_id is not None:
            stmt = stmt.where(
                or_(Appointment.organizer_tg_id == tg_id, Appointment.participant_tg_id == tg_id)
            )
        if status is not None:
            stmt = stmt.where(Appointment.status == status)
        if date_from is not None:
            stmt = stmt.where(Appointment.date >= date_from)
        if date_to is not None:
            stmt = stmt.where(Appointment.date <= date_to)
        return stmt.order_by(Appointment.date, Appointment.time, Appointment.id)

    async def get_for_update(self, appointment_id: int) -> Appointment:
        """The appointment, locked: concurrent transitions of one appointment queue here."""
        await self.get(appointment_id)
        stmt = (
            select(Appointment)
            .where(Appointment.id == appointment_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(stmt)).one()

    async def busy(
        self, tg_ids: Sequence[int], start: datetime, end: datetime
    ) -> list[tuple[int, Appointment]]:
        """(person, appointment) for every pending or confirmed appointment of these people
        that overlaps [start, end); served by the exclusion constraint's GiST index."""
        stmt = (
            select(AppointmentSlot.tg_id, Appointment)
            .join(Appointment, Appointment.id == AppointmentSlot.appointment_id)
            .where(
                AppointmentSlot.tg_id.in_(tg_ids),
                AppointmentSlot.period.overlaps(Range(start, end, bounds="[)")),
            )
            .order_by(Appointment.date, Appointment.time, Appointment.id)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(stmt)).all()]
