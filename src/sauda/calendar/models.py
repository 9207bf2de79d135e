"""Calendar of the Telegram bot (seed 004).

`events` keeps exactly the seed's columns, so a bot that writes it with plain SQL keeps working.
The calendar is not tenant-owned: Telegram ids are global and the bot is one per deployment
(admins and integration clients with the `calendar` scope see all of it).
"""

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    func,
)
from sqlalchemy.dialects.postgresql import TSRANGE, ExcludeConstraint, Range
from sqlalchemy.orm import Mapped, mapped_column

from sauda.db import Base, TimestampMixin

DEFAULT_DURATION_MINUTES = 60
MAX_DURATION_MINUTES = 24 * 60
# Name of the exclusion constraint that refuses double booking; the service maps it to 409 busy.
NO_DOUBLE_BOOKING = "ex_appointment_slots_no_overlap"


class AppointmentStatus(enum.StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    cancelled = "cancelled"
    declined = "declined"


# A person is busy during the pending and confirmed appointments they organize or attend.
BUSY_STATUSES = (AppointmentStatus.pending, AppointmentStatus.confirmed)

# pending → confirmed | declined | cancelled; confirmed → cancelled; the rest are final.
TRANSITIONS: dict[AppointmentStatus, frozenset[AppointmentStatus]] = {
    AppointmentStatus.pending: frozenset(
        {AppointmentStatus.confirmed, AppointmentStatus.declined, AppointmentStatus.cancelled}
    ),
    AppointmentStatus.confirmed: frozenset({AppointmentStatus.cancelled}),
    AppointmentStatus.cancelled: frozenset(),
    AppointmentStatus.declined: frozenset(),
}


class Event(Base):
    """An event a bot user created (seed's `events`: id, name, date, time, details, user_id)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_user_id_date_time", "user_id", "date", "time"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    time: Mapped[dt.time] = mapped_column(Time)
    details: Mapped[str] = mapped_column(Text, default="", server_default="")
    user_id: Mapped[int] = mapped_column(BigInteger, comment="Telegram id of the event's owner")

    def __str__(self) -> str:
        return f"{self.name} ({self.date} {self.time:%H:%M})"


class BotStatistics(Base):
    """The bot's counters of one day (business timezone); incremented atomically by the bot."""

    __tablename__ = "bot_statistics"
    __table_args__ = (
        CheckConstraint(
            "user_count >= 0 AND event_count >= 0 AND edited_events >= 0 AND cancelled_events >= 0",
            name="counts_not_negative",
        ),
    )

    date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    user_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    event_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    edited_events: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cancelled_events: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def __str__(self) -> str:
        return str(self.date)


class Appointment(TimestampMixin, Base):
    """A meeting between two Telegram users. `event_id` names an event without a foreign key
    (the seed insists: the bot owns `events` and may delete rows there)."""

    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("organizer_tg_id <> participant_tg_id", name="two_people"),
        CheckConstraint(f"duration_minutes BETWEEN 1 AND {MAX_DURATION_MINUTES}", name="duration_range"),
        Index("ix_appointments_date_time", "date", "time"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    organizer_tg_id: Mapped[int] = mapped_column(BigInteger, index=True)
    participant_tg_id: Mapped[int] = mapped_column(BigInteger, index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    time: Mapped[dt.time] = mapped_column(Time)
    duration_minutes: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_DURATION_MINUTES, server_default=str(DEFAULT_DURATION_MINUTES)
    )
    details: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[AppointmentStatus] = mapped_column(
        Enum(AppointmentStatus, name="appointment_status"),
        default=AppointmentStatus.pending,
        server_default=AppointmentStatus.pending.value,
        index=True,
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    @property
    def is_busy(self) -> bool:
        return self.status in BUSY_STATUSES

    def __str__(self) -> str:
        return f"#{self.id} {self.date} {self.time:%H:%M} ({self.status})"


class AppointmentSlot(Base):
    """The time one person spends in one pending or confirmed appointment: two rows per
    appointment (organizer and participant), written only by the trigger on `appointments`.

    One row per person-slot lets a single exclusion constraint cover both roles: Telegram user
    A organizing 12:00-13:00 and being invited to 12:30 as a participant collide on
    (tg_id = A, period overlaps), whatever role each appointment gives A.
    """

    __tablename__ = "appointment_slots"
    __table_args__ = (
        ExcludeConstraint(
            ("tg_id", "="),
            ("period", "&&"),
            name=NO_DOUBLE_BOOKING,
            using="gist",
        ),
    )

    appointment_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True
    )
    tg_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Wall-clock time of the business timezone, half-open: 12:00-13:00 and 13:00-14:00 do not meet.
    period: Mapped[Range[dt.datetime]] = mapped_column(TSRANGE)
