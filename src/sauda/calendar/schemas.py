import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from sauda.calendar.models import DEFAULT_DURATION_MINUTES, MAX_DURATION_MINUTES, AppointmentStatus
from sauda.schemas import WriteModel
from sauda.types import BigId, BusinessDate, Line, LocalTime

# Telegram user ids are positive 64-bit integers (they outgrew 32 bits long ago).
TelegramId = Annotated[BigId, Field(description="Telegram user id")]
Details = Annotated[str, Field(max_length=4000)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
Duration = Annotated[int, Field(ge=1, le=MAX_DURATION_MINUTES, description="minutes")]


# --- events ---------------------------------------------------------------------------------


class EventIn(WriteModel):
    name: Line = Field(min_length=1, max_length=255)
    date: BusinessDate
    time: LocalTime
    details: Details = ""
    user_id: TelegramId


class EventUpdate(WriteModel):
    nullable = frozenset()

    name: Line | None = Field(default=None, min_length=1, max_length=255)
    date: BusinessDate | None = None
    time: LocalTime | None = None
    details: Details | None = None
    user_id: TelegramId | None = None


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    date: dt.date
    time: LocalTime
    details: str
    user_id: int


# --- statistics -----------------------------------------------------------------------------


class StatisticsIncrement(WriteModel):
    date: dt.date | None = Field(default=None, description="the day to count on; today (business timezone)")
    user_count: Count = 0
    event_count: Count = 0
    edited_events: Count = 0
    cancelled_events: Count = 0


class StatisticsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    date: dt.date
    user_count: int
    event_count: int
    edited_events: int
    cancelled_events: int


# --- appointments ---------------------------------------------------------------------------


class AppointmentIn(WriteModel):
    organizer_tg_id: TelegramId
    participant_tg_id: TelegramId
    event_id: BigId | None = Field(default=None, description="an event of `events`, if any")
    date: BusinessDate | None = Field(default=None, description="required unless `event_id` gives it")
    time: LocalTime | None = Field(default=None, description="required unless `event_id` gives it")
    duration_minutes: Duration = DEFAULT_DURATION_MINUTES
    details: Details = ""

    @model_validator(mode="after")
    def _two_people_and_a_time(self) -> "AppointmentIn":
        if self.organizer_tg_id == self.participant_tg_id:
            raise PydanticCustomError(
                "same_person",
                "the participant must differ from the organizer",
                {"field": "participant_tg_id"},
            )
        if self.event_id is None:
            for field in ("date", "time"):
                if getattr(self, field) is None:
                    raise PydanticCustomError(
                        "missing", "required when no event_id gives it", {"field": field}
                    )
        return self


class AppointmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: int | None
    organizer_tg_id: int
    participant_tg_id: int
    date: dt.date
    time: LocalTime
    duration_minutes: int
    details: str
    status: AppointmentStatus
    created_at: dt.datetime
    updated_at: dt.datetime


class BusySlot(BaseModel):
    appointment_id: int
    date: dt.date
    time: LocalTime
    duration_minutes: int
    starts_at: dt.datetime = Field(description="local time of the business timezone, no offset")
    ends_at: dt.datetime
    status: AppointmentStatus
    role: Literal["organizer", "participant"]


class BusySlots(BaseModel):
    tg_id: int
    date_from: dt.date
    date_to: dt.date
    slots: list[BusySlot]


class FreeAnswer(BaseModel):
    tg_id: int
    date: dt.date
    time: LocalTime
    duration_minutes: int
    free: bool
    conflicts: list[BusySlot]
