"""Shared setup of the benchmarks: a database of their own (`sauda_bench`), migrated and seeded."""

import asyncio
import os

from sqlalchemy import func, select, text

from sauda.cli import run_migrations
from sauda.config import DatabaseSettings, RedisSettings, Settings
from sauda.db import create_engine, create_sessionmaker, transaction
from sauda.network.demo import seed_network
from sauda.network.models import Company

BENCH_DATABASE_URL = os.environ.get(
    "SAUDA_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/sauda_bench"
)
BENCH_REDIS_URL = os.environ.get("SAUDA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
BENCH_COMPANIES = 100_000
BENCH_SEED = 2026


def bench_settings() -> Settings:
    return Settings(
        env="development",
        database=DatabaseSettings(url=BENCH_DATABASE_URL),
        redis=RedisSettings(url=BENCH_REDIS_URL),
    )


async def count_companies(settings: Settings) -> int:
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            return int(await session.scalar(select(func.count()).select_from(Company)) or 0)
    finally:
        await engine.dispose()


def prepare(settings: Settings, companies: int = BENCH_COMPANIES) -> int:
    """Create and migrate the bench database; seed it up to `companies`. Returns the count."""
    run_migrations(settings)
    present = asyncio.run(count_companies(settings))
    if present < companies:
        print(f"seeding {companies - present} companies into {settings.database.url} ...", flush=True)
        print(asyncio.run(seed_network(settings, companies=companies - present, seed=BENCH_SEED)))
        present = companies
    return present


async def vacuum(settings: Settings, *tables: str) -> None:
    """What autovacuum does between two scheduled runs: prune dead rows, refresh the visibility
    map (index-only counts depend on it) and the planner's statistics."""
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f"VACUUM (ANALYZE) {', '.join(tables)}"))
    finally:
        await engine.dispose()
