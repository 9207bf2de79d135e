"""Test harness: a database of its own migrated with Alembic, real Redis, tables truncated
after every test (tests need real commits: the worker and concurrency tests see each other)."""

import asyncio
import os

os.environ.update(
    {
        "SAUDA_ENV": "test",
        "SAUDA_AUTH__SECRET_KEY": "test-secret-key-not-for-production-0123456789",
        "SAUDA_DATABASE__URL": os.environ.get(
            "SAUDA_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/sauda_test"
        ),
        "SAUDA_REDIS__URL": os.environ.get("SAUDA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        "SAUDA_WORKER__QUEUE_NAME": "sauda-test:queue",
        "SAUDA_WORKER__RETRY_BASE_SECONDS": "0.05",
        "SAUDA_WORKER__MAX_TRIES": "3",
    }
)

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.app import create_app
from sauda.clock import system_clock
from sauda.config import Settings, get_settings
from sauda.models import Base
from tests.factories import Factory


async def _recreate_database(url: str) -> None:
    target = make_url(url)
    server = target.set(drivername="postgresql", database="postgres").render_as_string(False)
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            target.database,
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{target.database}"')
        await conn.execute(f'CREATE DATABASE "{target.database}"')
    finally:
        await conn.close()


def _migrate(url: str) -> None:
    from alembic import command

    from sauda.cli import alembic_config

    command.upgrade(alembic_config(url), "head")  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
async def database(settings: Settings) -> str:
    await _recreate_database(settings.database.url)
    await asyncio.to_thread(_migrate, settings.database.url)
    return settings.database.url


@pytest.fixture(scope="session")
async def app(database: str, settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture(scope="session")
def sessionmaker(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return maker


@pytest.fixture(scope="session")
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis.url)
    yield client
    await client.aclose()


_TABLES = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)


@pytest.fixture(autouse=True)
async def _clean(app: FastAPI, redis: Redis) -> AsyncIterator[None]:
    yield
    async with app.state.engine.begin() as conn:
        await conn.exec_driver_sql(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")
    await redis.flushdb()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@dataclass
class FixedClock:
    """The app's clock in tests: it says `now` until a test moves it."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(app: FastAPI) -> Iterator[FixedClock]:
    """1 March 2026, 20:30 UTC: already 2 March in Almaty (UTC+5)."""
    # Not monkeypatch: starlette's State keeps attributes outside `__dict__`, which its undo misses.
    app.state.clock = FixedClock(datetime(2026, 3, 1, 20, 30, tzinfo=UTC))
    yield app.state.clock
    app.state.clock = system_clock


@pytest.fixture
def factory(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> Factory:
    return Factory(sessionmaker, settings)


RunWorker = Callable[..., Awaitable[Any]]


@pytest.fixture
def run_worker(settings: Settings, redis: Redis) -> RunWorker:
    """Run a real arq worker in burst mode until the queue is empty."""
    from sauda.worker import create_worker

    async def run(**overrides: Any) -> Any:
        options = {"burst": True, "poll_delay": 0.05, "handle_signals": False, "cron_jobs": []}
        worker = create_worker(settings, **(options | overrides))
        try:
            await worker.main()
        finally:
            await worker.close()
        return worker

    return run
