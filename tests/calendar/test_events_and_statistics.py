"""Events (the seed's table, readable after plain-SQL writes) and the bot's daily statistics."""

import asyncio
import datetime as dt

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.config import Settings

EVENTS = "/api/v1/calendar/events"
STATS = "/api/v1/calendar/statistics"


async def test_events_table_has_exactly_the_seed_columns(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'events' ORDER BY ordinal_position"
            )
        )
        assert [tuple(r) for r in rows] == [
            ("id", "bigint"),
            ("name", "character varying"),
            ("date", "date"),
            ("time", "time without time zone"),
            ("details", "text"),
            ("user_id", "bigint"),
        ]


async def test_a_bot_writing_plain_sql_is_read_by_the_api(
    client: httpx.AsyncClient, bot: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        await session.execute(
            text(
                "INSERT INTO events (name, date, time, details, user_id) "
                "VALUES ('День рождения', DATE '2030-05-01', TIME '19:00', 'Кафе', 777)"
            )
        )
        await session.commit()
    response = await client.get(EVENTS, params={"user_id": 777}, headers=bot)
    assert response.status_code == 200, response.text
    [event] = response.json()["items"]
    assert event | {"id": 0} == {
        "id": 0,
        "name": "День рождения",
        "date": "2030-05-01",
        "time": "19:00:00",
        "details": "Кафе",
        "user_id": 777,
    }


async def test_event_crud(client: httpx.AsyncClient, bot: dict[str, str]) -> None:
    body = {"name": "Планёрка", "date": "2030-05-02", "time": "09:30", "user_id": 42}
    created = await client.post(EVENTS, json=body, headers=bot)
    assert created.status_code == 201, created.text
    event = created.json()
    assert event["details"] == ""
    url = f"{EVENTS}/{event['id']}"
    changed = await client.patch(url, json={"time": "10:00", "details": "zoom"}, headers=bot)
    assert changed.json()["time"] == "10:00:00"
    assert changed.json()["details"] == "zoom"
    refused = await client.patch(url, json={"name": None}, headers=bot)
    assert refused.status_code == 422
    assert refused.json()["fields"][0]["field"] == "name"
    assert (await client.delete(url, headers=bot)).status_code == 204
    assert (await client.get(url, headers=bot)).status_code == 404


async def test_events_by_user_and_date_range(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    for user_id, day, at in (
        (1, "2030-05-01", "10:00"),
        (1, "2030-05-03", "09:00"),
        (2, "2030-05-02", "08:00"),
    ):
        body = {"name": f"e{user_id}{day}", "date": day, "time": at, "user_id": user_id}
        assert (await client.post(EVENTS, json=body, headers=admin)).status_code == 201
    ranged = await client.get(
        EVENTS, params={"date_from": "2030-05-02", "date_to": "2030-05-03"}, headers=admin
    )
    assert [e["date"] for e in ranged.json()["items"]] == ["2030-05-02", "2030-05-03"]
    mine = await client.get(EVENTS, params={"user_id": 1, "date_to": "2030-05-02"}, headers=admin)
    assert [e["name"] for e in mine.json()["items"]] == ["e12030-05-01"]
    found = await client.get(EVENTS, params={"search": "E2"}, headers=admin)
    assert found.json()["total"] == 1


async def test_event_validation_names_the_field(client: httpx.AsyncClient, bot: dict[str, str]) -> None:
    good = {"name": "x", "date": "2030-05-02", "time": "09:30", "user_id": 42}
    for change, field in (
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"date": "tomorrow"}, "date"),
        ({"user_id": -1}, "user_id"),
        ({"id": 5}, "id"),
    ):
        response = await client.post(EVENTS, json=good | change, headers=bot)
        assert response.status_code == 422, change
        assert [f["field"] for f in response.json()["fields"]] == [field]
    missing = await client.post(EVENTS, json={"name": "x"}, headers=bot)
    assert {f["field"] for f in missing.json()["fields"]} == {"date", "time", "user_id"}


async def test_fifty_concurrent_increments_are_all_counted(
    client: httpx.AsyncClient, bot: dict[str, str]
) -> None:
    day = "2030-06-01"

    async def bump() -> int:
        body = {"date": day, "event_count": 1, "user_count": 2}
        return (await client.post(f"{STATS}/increment", json=body, headers=bot)).status_code

    assert await asyncio.gather(*(bump() for _ in range(50))) == [200] * 50
    response = await client.get(STATS, params={"date_from": day, "date_to": day}, headers=bot)
    assert response.json()["items"] == [
        {"date": day, "user_count": 100, "event_count": 50, "edited_events": 0, "cancelled_events": 0}
    ]


async def test_increment_defaults_to_today_in_the_business_timezone(
    client: httpx.AsyncClient, bot: dict[str, str], settings: Settings
) -> None:
    response = await client.post(f"{STATS}/increment", json={"cancelled_events": 3}, headers=bot)
    assert response.status_code == 200, response.text
    today = dt.datetime.now(settings.tz).date().isoformat()
    assert response.json() == {
        "date": today,
        "user_count": 0,
        "event_count": 0,
        "edited_events": 0,
        "cancelled_events": 3,
    }
    again = await client.post(
        f"{STATS}/increment", json={"cancelled_events": 2, "edited_events": 1}, headers=bot
    )
    assert again.json()["cancelled_events"] == 5
    assert again.json()["edited_events"] == 1


async def test_statistics_list_by_range_and_validation(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for day in ("2030-06-01", "2030-06-02", "2030-06-05"):
        await client.post(f"{STATS}/increment", json={"date": day, "user_count": 1}, headers=admin)
    listed = await client.get(STATS, params={"date_from": "2030-06-02"}, headers=admin)
    assert [s["date"] for s in listed.json()["items"]] == ["2030-06-02", "2030-06-05"]
    negative = await client.post(f"{STATS}/increment", json={"event_count": -1}, headers=admin)
    assert negative.status_code == 422
    assert negative.json()["fields"][0]["field"] == "event_count"
    unknown = await client.post(f"{STATS}/increment", json={"likes": 1}, headers=admin)
    assert unknown.json()["fields"][0]["field"] == "likes"
    backwards = await client.get(
        STATS, params={"date_from": "2030-06-02", "date_to": "2030-06-01"}, headers=admin
    )
    assert backwards.json()["fields"][0]["field"] == "date_to"
