"""Where does a `GET /api/v1/companies?city=...` request spend its time?

    uv run python bench/profile_list.py [--requests 300] [--cprofile]

Runs the app in-process (no network, no wrk) against `sauda_bench` and prints:
the mean time of each piece timed alone (JWT decode, user lookup, count query, page query,
response validation) and of the whole request through ASGI; with --cprofile, the top functions.
Run bench/list_companies.py first (it seeds the database and creates the bench admin).
"""

import argparse
import asyncio
import cProfile
import pstats
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import httpx
from asgi_lifespan import LifespanManager
from common import bench_settings
from list_companies import ADMIN_EMAIL, ADMIN_PASSWORD
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.app import create_app
from sauda.auth.repository import UserRepository
from sauda.network.models import Company
from sauda.network.repository import CompanyFilters, CompanyRepository
from sauda.network.schemas import CompanyOrdering, CompanyOut
from sauda.pagination import PageParams, make_page
from sauda.security import decode_token
from sauda.tenancy import Scope

CITIES = ("Алматы", "Москва", "Караганда", "Казань")


async def mean_ms(label: str, times: int, work: Callable[[int], Awaitable[Any]]) -> None:
    started = time.perf_counter()
    for i in range(times):
        await work(i)
    print(f"{label:<44} {(time.perf_counter() - started) / times * 1000:7.2f} ms")


async def pieces(sessionmaker: async_sessionmaker[AsyncSession], secret: str, token: str, times: int) -> None:
    def stmt(i: int) -> Any:
        filters = CompanyFilters(city=CITIES[i % len(CITIES)])
        return CompanyRepository(None, Scope.everything()).filtered(filters, CompanyOrdering.name)

    async def decode(_: int) -> None:
        decode_token(token, secret=secret, token_type="access")

    async def session_and_user(_: int) -> None:
        async with sessionmaker() as session:
            await UserRepository(session).by_id(1)
            await session.commit()

    async def count(i: int) -> None:
        async with sessionmaker() as session:
            await session.scalar(select(func.count()).select_from(stmt(i).order_by(None).subquery()))

    async def page(i: int) -> None:
        async with sessionmaker() as session:
            await session.scalars(stmt(i).limit(50).offset(50 * (i % 5)))

    async with sessionmaker() as session:
        rows = list(await session.scalars(select(Company).limit(50)))

    async def serialise(_: int) -> None:
        page = make_page([CompanyOut.model_validate(c) for c in rows], 1000, PageParams(1, 50))
        page.model_dump_json()

    await mean_ms("JWT decode", times, decode)
    await mean_ms("session + user lookup by id + commit", times, session_and_user)
    for city in CITIES:
        filters = CompanyFilters(city=city)
        one = CompanyRepository(None, Scope.everything()).filtered(filters, CompanyOrdering.name)

        async def count_city(_: int, one: Any = one) -> None:
            async with sessionmaker() as session:
                await session.scalar(select(func.count()).select_from(one.order_by(None).subquery()))

        await mean_ms(f"count query, city={city}", max(times // 5, 10), count_city)
    await mean_ms("count query (rotating cities)", times, count)
    await mean_ms("page query, 50 ORM rows (rotating)", times, page)
    await mean_ms("CompanyOut x50 + Page JSON", times, serialise)


async def call_asgi(app: Any, token: str, city: str, page: int) -> None:
    """One request straight into the ASGI app: the server's own work, no HTTP client."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/companies",
        "raw_path": b"/api/v1/companies",
        "root_path": "",
        "query_string": urlencode({"city": city, "page": page, "limit": 50}).encode(),
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
        "state": {},
    }
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    assert status == [200], status


async def main(times: int, profile: bool) -> None:
    settings = bench_settings()
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            answer = await client.post(
                "/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            answer.raise_for_status()
            token = answer.json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"

            async def request(i: int) -> None:
                city = CITIES[i % len(CITIES)]
                params: dict[str, str | int] = {"city": city, "page": 1 + i % 5, "limit": 50}
                (await client.get("/api/v1/companies", params=params)).raise_for_status()

            async def asgi_only(i: int) -> None:
                await call_asgi(app, token, CITIES[i % len(CITIES)], 1 + i % 5)

            await mean_ms("warm-up: whole request", 20, request)
            await pieces(app.state.sessionmaker, settings.auth.secret_key.get_secret_value(), token, times)
            await mean_ms("whole request, httpx client + ASGI app", times, request)
            await mean_ms("whole request, ASGI app alone", times, asgi_only)
            if profile:
                profiler = cProfile.Profile()
                profiler.enable()
                for i in range(times):
                    await asgi_only(i)
                profiler.disable()
                stats = pstats.Stats(profiler)
                stats.sort_stats("cumulative").print_stats(r"sauda|fastapi|starlette|pydantic|sqlalchemy", 40)


if __name__ == "__main__":
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.cprofile))
