"""Appointments: the state machine, busy rules across organizer and participant roles, and the
database refusing double booking under real concurrency."""

import asyncio
import datetime as dt
import itertools
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.calendar.models import Appointment, AppointmentSlot
from sauda.calendar.repository import AppointmentRepository

URL = "/api/v1/calendar/appointments"
DAY = "2030-03-14"
A, B, C, D = 1001, 1002, 1003, 5_000_000_000  # D: ids outgrew 32 bits


async def invite(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    organizer: int,
    participant: int,
    at: str = "12:00",
    **extra: Any,
) -> httpx.Response:
    body = {"organizer_tg_id": organizer, "participant_tg_id": participant, "date": DAY, "time": at}
    return await client.post(URL, json=body | extra, headers=headers)


async def created(client: httpx.AsyncClient, headers: dict[str, str], *args: Any, **extra: Any) -> int:
    response = await invite(client, headers, *args, **extra)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def move(client: httpx.AsyncClient, headers: dict[str, str], appointment_id: int, action: str) -> Any:
    return await client.post(f"{URL}/{appointment_id}/{action}", headers=headers)


async def test_invite_creates_a_pending_hour(client: httpx.AsyncClient, bot: dict[str, str]) -> None:
    response = await invite(client, bot, A, D, details="Обсудим поставку")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "pending"
    assert body["duration_minutes"] == 60
    assert body["participant_tg_id"] == D
    assert body["details"] == "Обсудим поставку"
    again = await client.get(f"{URL}/{body['id']}", headers=bot)
    assert again.json() == body


# --- the state machine ------------------------------------------------------------------------

ALLOWED = [
    ([], "confirm", "confirmed"),
    ([], "decline", "declined"),
    ([], "cancel", "cancelled"),
    (["confirm"], "cancel", "cancelled"),
]


@pytest.mark.parametrize(("before", "action", "status"), ALLOWED)
async def test_allowed_transitions(
    client: httpx.AsyncClient, bot: dict[str, str], before: list[str], action: str, status: str
) -> None:
    appointment_id = await created(client, bot, A, B)
    for step in before:
        assert (await move(client, bot, appointment_id, step)).status_code == 200
    response = await move(client, bot, appointment_id, action)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == status


REFUSED = [
    (["confirm"], "confirm", "confirmed"),
    (["confirm"], "decline", "confirmed"),
    (["decline"], "confirm", "declined"),
    (["decline"], "decline", "declined"),
    (["decline"], "cancel", "declined"),
    (["cancel"], "confirm", "cancelled"),
    (["cancel"], "decline", "cancelled"),
    (["cancel"], "cancel", "cancelled"),
    (["confirm", "cancel"], "confirm", "cancelled"),
]


@pytest.mark.parametrize(("before", "action", "current"), REFUSED)
async def test_refused_transitions_name_the_current_status(
    client: httpx.AsyncClient, bot: dict[str, str], before: list[str], action: str, current: str
) -> None:
    appointment_id = await created(client, bot, A, B)
    for step in before:
        assert (await move(client, bot, appointment_id, step)).status_code == 200
    response = await move(client, bot, appointment_id, action)
    assert response.status_code == 409
    assert response.json()["error"] == "invalid_transition"
    assert f"is {current}" in response.json()["detail"]
    assert (await client.get(f"{URL}/{appointment_id}", headers=bot)).json()["status"] == current


async def test_unknown_appointment_is_404(client: httpx.AsyncClient, bot: dict[str, str]) -> None:
    assert (await move(client, bot, 999, "confirm")).status_code == 404
    assert (await client.get(f"{URL}/999", headers=bot)).status_code == 404


# --- busy rules -------------------------------------------------------------------------------


async def test_organizer_is_busy_when_invited_as_participant(
    client: httpx.AsyncClient, bot: dict[str, str]
) -> None:
    first = await created(client, bot, A, B, "12:00")
    response = await invite(client, bot, C, A, "12:30")
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "busy"
    assert body["fields"][0]["field"] == "participant_tg_id"
    assert f"appointment {first}" in body["detail"]


async def test_participant_is_busy_when_organizing(client: httpx.AsyncClient, bot: dict[str, str]) -> None:
    await created(client, bot, A, B, "12:00")
    response = await invite(client, bot, B, C, "11:30")
    assert response.status_code == 409
    assert response.json()["fields"][0]["field"] == "organizer_tg_id"
    # Same roles again (B invited by someone else) is busy too.
    assert (await invite(client, bot, C, B, "12:59")).status_code == 409


async def test_adjacent_slots_and_other_people_are_fine(
    client: httpx.AsyncClient, bot: dict[str, str]
) -> None:
    await created(client, bot, A, B, "12:00")
    await created(client, bot, A, C, "13:00")  # starts when the first ends
    await created(client, bot, C, B, "11:00")  # ends when the first starts
    await created(client, bot, C, D, "12:00")  # C is free at 12:00, D is free at all
    shorter = await invite(client, bot, D, A, "11:30", duration_minutes=30)
    assert shorter.status_code == 201, shorter.text
    longer = await invite(client, bot, D, B, "10:30", duration_minutes=31)  # reaches into 11:00
    assert longer.status_code == 409


async def test_confirmed_stays_busy_declined_and_cancelled_free_the_slot(
    client: httpx.AsyncClient, bot: dict[str, str]
) -> None:
    declined = await created(client, bot, A, B)
    await move(client, bot, declined, "decline")
    confirmed = await created(client, bot, B, A)
    assert (await move(client, bot, confirmed, "confirm")).status_code == 200
    assert (await invite(client, bot, C, A)).status_code == 409
    await move(client, bot, confirmed, "cancel")
    pending = await created(client, bot, C, A)
    await move(client, bot, pending, "cancel")
    await created(client, bot, A, C)


async def test_invite_validation_names_the_field(client: httpx.AsyncClient, bot: dict[str, str]) -> None:
    cases = [
        ({"participant_tg_id": A}, "participant_tg_id"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": 24 * 60 + 1}, "duration_minutes"),
        ({"date": "2030-02-30"}, "date"),
        ({"date": "2020-01-01"}, "date"),
        ({"time": "25:00"}, "time"),
        ({"organizer_tg_id": 0}, "organizer_tg_id"),
        ({"event_id": 12345}, "event_id"),
        ({"status": "confirmed"}, "status"),
        ({"date": None}, "date"),
        ({"time": None}, "time"),
    ]
    for extra, field in cases:
        body = {"organizer_tg_id": A, "participant_tg_id": B, "date": DAY, "time": "12:00"} | extra
        response = await client.post(URL, json=body, headers=bot)
        assert response.status_code == 422, (extra, response.text)
        assert [f["field"] for f in response.json()["fields"]] == [field], (extra, response.json())


async def test_event_link_has_no_foreign_key(client: httpx.AsyncClient, bot: dict[str, str]) -> None:
    event = await client.post(
        "/api/v1/calendar/events",
        json={"name": "Встреча", "date": DAY, "time": "12:00", "user_id": A},
        headers=bot,
    )
    event_id = event.json()["id"]
    # The seed's "invite for an event": date and time come from the event.
    body = {"organizer_tg_id": A, "participant_tg_id": B, "event_id": event_id}
    response = await client.post(URL, json=body, headers=bot)
    assert response.status_code == 201, response.text
    assert (response.json()["date"], response.json()["time"]) == (DAY, "12:00:00")
    appointment_id = response.json()["id"]
    assert (await client.post(URL, json=body | {"participant_tg_id": C}, headers=bot)).status_code == 409
    assert (await client.delete(f"/api/v1/calendar/events/{event_id}", headers=bot)).status_code == 204
    kept = await client.get(f"{URL}/{appointment_id}", headers=bot)
    assert kept.json()["event_id"] == event_id


async def test_list_filters_by_person_status_and_dates(
    client: httpx.AsyncClient, bot: dict[str, str]
) -> None:
    first = await created(client, bot, A, B, "09:00")
    await created(client, bot, C, A, "10:00")
    await created(client, bot, C, D, "11:00", date="2030-03-15")
    await move(client, bot, first, "confirm")
    mine = await client.get(URL, params={"tg_id": A}, headers=bot)
    assert [a["time"] for a in mine.json()["items"]] == ["09:00:00", "10:00:00"]
    confirmed = await client.get(URL, params={"status": "confirmed"}, headers=bot)
    assert [a["id"] for a in confirmed.json()["items"]] == [first]
    later = await client.get(URL, params={"date_from": "2030-03-15"}, headers=bot)
    assert later.json()["total"] == 1
    wrong = await client.get(URL, params={"date_from": "2030-03-15", "date_to": "2030-03-14"}, headers=bot)
    assert wrong.status_code == 422
    assert wrong.json()["fields"][0]["field"] == "date_to"


# --- busy slots and "is free" ----------------------------------------------------------------


async def test_busy_slots_cover_both_roles(client: httpx.AsyncClient, bot: dict[str, str]) -> None:
    organized = await created(client, bot, A, B, "09:00")
    attended = await created(client, bot, C, A, "15:00", duration_minutes=90)
    declined = await created(client, bot, A, D, "18:00")
    await move(client, bot, declined, "decline")
    await created(client, bot, A, D, "10:00", date="2030-04-20")  # outside the period
    response = await client.get(
        f"/api/v1/calendar/users/{A}/busy",
        params={"date_from": DAY, "date_to": DAY},
        headers=bot,
    )
    assert response.status_code == 200, response.text
    slots = response.json()["slots"]
    assert [(s["appointment_id"], s["role"]) for s in slots] == [
        (organized, "organizer"),
        (attended, "participant"),
    ]
    assert slots[1]["ends_at"] == f"{DAY}T16:30:00"


async def test_is_free_checks_overlap(client: httpx.AsyncClient, bot: dict[str, str]) -> None:
    appointment_id = await created(client, bot, A, B, "12:00")

    async def free(tg_id: int, at: str, minutes: int = 60) -> Any:
        params = {"date": DAY, "time": at, "duration_minutes": minutes}
        response = await client.get(f"/api/v1/calendar/users/{tg_id}/free", params=params, headers=bot)
        assert response.status_code == 200, response.text
        return response.json()

    busy = await free(B, "12:30")
    assert busy["free"] is False
    assert [c["appointment_id"] for c in busy["conflicts"]] == [appointment_id]
    assert (await free(A, "13:00"))["free"] is True
    assert (await free(A, "11:00"))["free"] is True
    assert (await free(A, "11:00", 61))["free"] is False
    assert (await free(C, "12:00"))["free"] is True


async def test_busy_period_is_bounded(client: httpx.AsyncClient, bot: dict[str, str]) -> None:
    response = await client.get(
        f"/api/v1/calendar/users/{A}/busy",
        params={"date_from": "2030-01-01", "date_to": "2031-06-01"},
        headers=bot,
    )
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "date_to"


# --- the database refuses double booking ------------------------------------------------------


async def test_twenty_concurrent_invites_for_one_slot_give_one_appointment(
    client: httpx.AsyncClient, bot: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # 20 organizers invite the same participant to overlapping times; half of them as the
    # participant's invitee, so both roles of the contested person race.
    requests = [
        invite(client, bot, 2000 + n, A, f"12:{n:02}") if n % 2 else invite(client, bot, A, 2000 + n, "12:00")
        for n in range(20)
    ]
    responses = await asyncio.gather(*requests)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19, [r.text for r in responses if r.status_code not in (201, 409)]
    assert {r.json()["error"] for r in responses if r.status_code == 409} == {"busy"}
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Appointment)) == 1
        assert await session.scalar(select(func.count()).select_from(AppointmentSlot)) == 2


async def test_the_database_settles_invites_that_all_passed_the_service_check(
    client: httpx.AsyncClient,
    bot: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Holds the first ten busy checks until all ten have read "free", so those invites reach
    the INSERT together and only the exclusion constraint can refuse them."""
    racers = 10
    barrier = asyncio.Barrier(racers)
    calls = itertools.count()
    check = AppointmentRepository.busy

    async def gated(self: AppointmentRepository, *args: Any) -> Any:
        rows = await check(self, *args)
        if next(calls) < racers:
            await asyncio.wait_for(barrier.wait(), timeout=30)
        return rows

    monkeypatch.setattr(AppointmentRepository, "busy", gated)
    responses = await asyncio.gather(*(invite(client, bot, 3000 + n, A, f"12:{n:02}") for n in range(20)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 19
    assert {r.json()["error"] for r in responses if r.status_code == 409} == {"busy"}
    # Every refusal by the constraint re-reads who is busy: at least nine such extra checks.
    assert next(calls) >= 20 + racers - 1
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Appointment)) == 1


async def test_the_database_refuses_double_booking_written_with_plain_sql(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    insert = text(
        "INSERT INTO appointments (organizer_tg_id, participant_tg_id, date, time, duration_minutes) "
        "VALUES (:o, :p, DATE '2030-03-14', TIME '12:00', 60)"
    )
    async with sessionmaker() as session:
        await session.execute(insert, {"o": A, "p": B})
        with pytest.raises(Exception, match="ex_appointment_slots_no_overlap"):
            await session.execute(insert, {"o": C, "p": A})
        await session.rollback()


async def test_rescheduling_with_plain_sql_is_checked_too(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        for organizer, at in ((A, dt.time(10)), (B, dt.time(12))):
            await session.execute(
                text(
                    "INSERT INTO appointments (organizer_tg_id, participant_tg_id, date, time) "
                    "VALUES (:o, :p, DATE '2030-03-14', CAST(:t AS time))"
                ),
                {"o": organizer, "p": C, "t": at},
            )
        with pytest.raises(Exception, match="ex_appointment_slots_no_overlap"):
            await session.execute(
                text("UPDATE appointments SET time = TIME '11:30' WHERE organizer_tg_id = :o"), {"o": A}
            )
        await session.rollback()


async def test_concurrent_confirm_and_decline_cannot_both_win(
    client: httpx.AsyncClient, bot: dict[str, str]
) -> None:
    for _ in range(5):
        appointment_id = await created(client, bot, A, B)
        confirm, decline = await asyncio.gather(
            move(client, bot, appointment_id, "confirm"), move(client, bot, appointment_id, "decline")
        )
        assert sorted((confirm.status_code, decline.status_code)) == [200, 409]
        final = (await client.get(f"{URL}/{appointment_id}", headers=bot)).json()["status"]
        winner = confirm if confirm.status_code == 200 else decline
        assert final == winner.json()["status"]
        await move(client, bot, appointment_id, "cancel")  # frees the slot for the next round


async def test_free_query_validation_names_the_field(client: httpx.AsyncClient, bot: dict[str, str]) -> None:
    url = f"/api/v1/calendar/users/{A}/free"
    missing = await client.get(url, params={"time": "12:00"}, headers=bot)
    assert missing.status_code == 422
    assert [f["field"] for f in missing.json()["fields"]] == ["date"]
    long = await client.get(url, params={"date": DAY, "time": "12:00", "duration_minutes": 0}, headers=bot)
    assert [f["field"] for f in long.json()["fields"]] == ["duration_minutes"]
    # A Telegram id that cannot exist names no resource: 404, like any impossible path id.
    bad_id = await client.get("/api/v1/calendar/users/0/busy", headers=bot)
    assert bad_id.status_code == 404
