"""Admin views of the calendar and of integration clients: the seed's filters and search, writes
through the services, the status actions."""

import datetime as dt
import re

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.auth.models import IntegrationClient
from sauda.calendar.admin import day_bounds
from sauda.calendar.models import Appointment, AppointmentStatus, Event
from sauda.config import Settings
from tests.factories import PASSWORD, Factory
from tests.integration_clients import api_key, make_client

APPOINTMENTS = "/api/v1/calendar/appointments"


@pytest.fixture
async def admin_client(
    client: httpx.AsyncClient, factory: Factory, admin: dict[str, str]
) -> httpx.AsyncClient:
    user = await factory.admin()
    response = await client.post("/admin/login", data={"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def rows(page: httpx.Response) -> int:
    assert page.status_code == 200, page.text
    return page.text.count('select-box"')


async def test_event_list_filters_and_search(
    admin_client: httpx.AsyncClient, bot: dict[str, str], settings: Settings
) -> None:
    today = dt.datetime.now(settings.tz).date()
    for name, day, user_id in (
        ("Сегодняшняя планёрка", today, 555001),
        ("Юбилей", dt.date(2031, 7, 1), 555002),
    ):
        body = {"name": name, "date": day.isoformat(), "time": "10:00", "user_id": user_id, "details": "кафе"}
        assert (await admin_client.post("/api/v1/calendar/events", json=body, headers=bot)).status_code == 201
    page = await admin_client.get("/admin/event/list", params={"day": "today"})
    assert "Сегодняшняя планёрка" in page.text
    assert "Юбилей" not in page.text
    by_month = await admin_client.get("/admin/event/list", params={"month": "2031-07"})
    assert "Юбилей" in by_month.text
    assert "Сегодняшняя" not in by_month.text
    assert "July 2031" in by_month.text  # the month lookups list the months that have events
    for term, expected in (("555002", "Юбилей"), ("планёрка", "Сегодняшняя планёрка"), ("кафе", "Юбилей")):
        found = await admin_client.get("/admin/event/list", params={"search": term})
        assert expected in found.text, term


async def test_event_created_in_the_admin_is_validated(
    admin_client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    form = {"name": "Созвон", "date": "2031-01-02", "time": "09:00", "details": "", "user_id": "42"}
    assert (await admin_client.post("/admin/event/create", data=form)).status_code == 302
    bad = await admin_client.post("/admin/event/create", data=form | {"user_id": "0"})
    assert bad.status_code == 400
    assert "user_id" in bad.text
    async with sessionmaker() as session:
        assert [e.name for e in (await session.scalars(select(Event))).all()] == ["Созвон"]


async def test_statistics_view_is_read_only_and_filters_by_month(
    admin_client: httpx.AsyncClient, bot: dict[str, str]
) -> None:
    for day in ("2031-02-01", "2031-03-01"):
        await admin_client.post(
            "/api/v1/calendar/statistics/increment", json={"date": day, "event_count": 7}, headers=bot
        )
    page = await admin_client.get("/admin/bot-statistics/list", params={"month": "2031-03"})
    assert page.status_code == 200
    assert "2031-03-01" in page.text
    assert "2031-02-01" not in page.text
    assert (await admin_client.get("/admin/bot-statistics/create")).status_code == 403
    details = await admin_client.get("/admin/bot-statistics/details/2031-03-01")
    assert details.status_code == 200
    assert "7" in details.text


async def test_appointment_filters_search_and_actions(
    admin_client: httpx.AsyncClient, bot: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ids = []
    for organizer, participant, at in ((111, 222, "09:00"), (333, 444, "10:00")):
        body = {
            "organizer_tg_id": organizer,
            "participant_tg_id": participant,
            "date": "2031-04-01",
            "time": at,
        }
        ids.append((await admin_client.post(APPOINTMENTS, json=body, headers=bot)).json()["id"])
    confirm = await admin_client.get("/admin/appointment/action/confirm", params={"pks": str(ids[0])})
    assert confirm.status_code == 302
    confirmed = await admin_client.get("/admin/appointment/list", params={"status": "confirmed"})
    assert rows(confirmed) == 1
    pending = await admin_client.get(
        "/admin/appointment/list", params={"status": "pending", "month": "2031-04"}
    )
    assert rows(pending) == 1
    assert rows(await admin_client.get("/admin/appointment/list", params={"search": "444"})) == 1
    # A decline of the confirmed one is refused by the state machine; the pending one moves.
    both = ",".join(map(str, ids))
    await admin_client.get("/admin/appointment/action/decline", params={"pks": both})
    async with sessionmaker() as session:
        statuses = dict((await session.execute(select(Appointment.id, Appointment.status))).all())
    assert statuses == {ids[0]: AppointmentStatus.confirmed, ids[1]: AppointmentStatus.declined}
    listing = await admin_client.get("/admin/appointment/list")
    assert "is confirmed; it cannot become declined" in listing.text


async def test_appointment_created_in_the_admin_respects_busy(
    admin_client: httpx.AsyncClient, bot: dict[str, str]
) -> None:
    body = {"organizer_tg_id": 111, "participant_tg_id": 222, "date": "2031-04-01", "time": "09:00"}
    await admin_client.post(APPOINTMENTS, json=body, headers=bot)
    form = {
        "organizer_tg_id": "222",
        "participant_tg_id": "333",
        "event_id": "",
        "date": "2031-04-01",
        "time": "09:30",
        "duration_minutes": "30",
        "details": "",
    }
    busy = await admin_client.post("/admin/appointment/create", data=form)
    assert busy.status_code == 400
    assert "222 is busy" in busy.text
    assert (
        await admin_client.post("/admin/appointment/create", data=form | {"time": "10:00"})
    ).status_code == 302


async def test_integration_client_admin_create_rotate_revoke(
    admin_client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    company = await factory.company()
    form = {"name": "Бот", "login": "panel-bot", "company": str(company.id), "scopes": ["calendar"]}
    created = await admin_client.post("/admin/integration-client/create", data=form, follow_redirects=True)
    assert created.status_code == 200
    secret = re.search(r"shown only now: ([\w-]+)", created.text)
    assert secret is not None, created.text
    guarded = "/api/v1/calendar/statistics"
    assert (await admin_client.get(guarded, headers=api_key(secret.group(1)))).status_code == 200
    async with sessionmaker() as session:
        client_id = await session.scalar(
            select(IntegrationClient.id).where(IntegrationClient.login == "panel-bot")
        )
    rotated = await admin_client.get(
        "/admin/integration-client/action/rotate", params={"pks": str(client_id)}, follow_redirects=True
    )
    new_secret = re.search(r"shown only now: ([\w-]+)", rotated.text)
    assert new_secret is not None
    assert (await admin_client.get(guarded, headers=api_key(secret.group(1)))).status_code == 401
    await admin_client.get("/admin/integration-client/action/revoke", params={"pks": str(client_id)})
    assert (await admin_client.get(guarded, headers=api_key(new_secret.group(1)))).status_code == 401
    details = await admin_client.get(f"/admin/integration-client/details/{client_id}")
    assert details.status_code == 200
    assert "secret_hash" not in details.text.lower().replace(" ", "_")


async def test_other_clients_are_listed(admin_client: httpx.AsyncClient, factory: Factory) -> None:
    await make_client(factory, login="listed-bot")
    page = await admin_client.get("/admin/integration-client/list", params={"search": "listed"})
    assert "listed-bot" in page.text


def test_day_bounds() -> None:
    today = dt.date(2030, 12, 31)
    assert day_bounds("today", today) == (today, dt.date(2031, 1, 1))
    assert day_bounds("past_7_days", today) == (dt.date(2030, 12, 25), dt.date(2031, 1, 1))
    assert day_bounds("this_month", today) == (dt.date(2030, 12, 1), dt.date(2031, 1, 1))
    assert day_bounds("this_year", today) == (dt.date(2030, 1, 1), dt.date(2031, 1, 1))
    assert day_bounds("bogus", today) is None
