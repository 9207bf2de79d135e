"""Test harness: a database of its own migrated with Alembic, real Redis, every table emptied
after every test (tests need real commits: the worker and concurrency tests see each other).

Under pytest-xdist (the default, see pyproject) every worker gwN has its own database
(`<name>_gwN`) and its own Redis database (the base number minus N), so workers never see each
other's rows, keys, queue or rate limits."""

import asyncio
import os
import time

from tests.parallel import worker_environment

os.environ.update(
    {
        "SAUDA_ENV": "test",
        "SAUDA_AUTH__SECRET_KEY": "test-secret-key-not-for-production-0123456789",
        "SAUDA_WORKER__QUEUE_NAME": "sauda-test:queue",
        "SAUDA_WORKER__RETRY_BASE_SECONDS": "0.05",
        "SAUDA_WORKER__MAX_TRIES": "3",
    }
    | worker_environment(
        database=os.environ.get(
            "SAUDA_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/sauda_test"
        ),
        redis=os.environ.get("SAUDA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        worker=os.environ.get("PYTEST_XDIST_WORKER"),
    )
)

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from playwright.async_api import Browser, async_playwright
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import sauda.clock
from sauda.app import create_app
from sauda.config import Settings, get_settings
from sauda.kaspi.client.browser import CHROMIUM_ARGS
from tests.clock import ForwardClock
from tests.factories import Factory
from tests.servers import serve


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` (the default): one worker per core, at most 8. Once tables are emptied with
    DELETE the suite is bound by CPU, not by waiting, and each worker costs ~7 s of CPU to start
    (imports, collection, migrations), so more workers than cores only slow it down; each worker
    also takes a Redis database of its own. PYTEST_XDIST_AUTO_NUM_WORKERS still overrides."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return min(len(os.sched_getaffinity(0)), 8)


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


# Empty every table and restart the id sequences, as `TRUNCATE ... RESTART IDENTITY` would, in
# ~10 ms instead of ~200 ms: TRUNCATE replaces each table's files, DELETE of a few rows does not.
# Triggers and foreign-key checks are off (replica role; the test role is a superuser anyway, it
# creates databases), so the order does not matter and no trigger writes a row back.
_EMPTY_ALL = """
DO $$
DECLARE
  name text;
  start bigint;
BEGIN
  PERFORM set_config('session_replication_role', 'replica', true);
  FOR name IN SELECT tablename FROM pg_tables
              WHERE schemaname = 'public' AND tablename <> 'alembic_version' LOOP
    EXECUTE format('DELETE FROM %I', name);
  END LOOP;
  FOR name, start IN SELECT sequencename, start_value FROM pg_sequences
                     WHERE schemaname = 'public' AND last_value IS NOT NULL LOOP
    PERFORM setval(format('%I', name), start, false);
  END LOOP;
END $$
"""


@pytest.fixture(autouse=True)
async def _clean(app: FastAPI, redis: Redis) -> AsyncIterator[None]:
    yield
    async with app.state.engine.begin() as conn:
        await conn.exec_driver_sql(_EMPTY_ALL)
    await redis.flushdb()


@pytest.fixture
def clock(redis: Redis) -> Iterator[ForwardClock]:
    """Time this test moves forward (`await clock.advance(seconds)`) instead of sleeping."""
    forward = ForwardClock(redis)
    with sauda.clock.use(forward):
        yield forward


@pytest.fixture(scope="session")
async def chromium(settings: Settings) -> AsyncIterator[Browser]:
    """One Debian Chromium per test process, for the admin panel and the Kaspi logins; each
    test opens (and closes) its own context."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=settings.browser.chromium_path,
            headless=settings.browser.headless,
            args=CHROMIUM_ARGS,
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


class FixedClock:
    """A clock that says `now` until a test moves it (monotonic time keeps running)."""

    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return time.monotonic()


@pytest.fixture
def fixed_clock() -> Iterator[FixedClock]:
    """1 March 2026, 20:30 UTC: already 2 March in Almaty (UTC+5)."""
    with sauda.clock.use(FixedClock(datetime(2026, 3, 1, 20, 30, tzinfo=UTC))) as clock:
        assert isinstance(clock, FixedClock)
        yield clock


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The session's app over real HTTP on a free port, for clients that need a socket."""
    async with serve(app) as url:
        yield url


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
