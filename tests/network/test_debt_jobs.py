import asyncio
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import arq
from arq.connections import ArqRedis
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.config import Settings
from sauda.network.models import COMPANIES_STORAGE, Company, DebtEntry, DebtReason
from sauda.network.service import decrease_slot, increase_slot
from sauda.network.tasks import decrease_debts, increase_debts, scheduled_at
from sauda.worker import cron_jobs
from tests.conftest import RunWorker
from tests.factories import Factory

ALMATY = ZoneInfo("Asia/Almaty")
SLOT = datetime(2026, 11, 22, 15, 0, tzinfo=ALMATY)


def _cron_job_id(name: str, slot: datetime) -> str:
    return f"cron:{name}:{int(slot.timestamp() * 1000)}"


def _ctx(app: FastAPI, settings: Settings, job_id: str, job_try: int = 1) -> dict[str, Any]:
    return {
        "settings": settings,
        "sessionmaker": app.state.sessionmaker,
        "redis": app.state.arq,
        "job_id": job_id,
        "job_try": job_try,
    }


async def _debts(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[int, Decimal]:
    async with sessionmaker() as session:
        rows = await session.execute(select(Company.id, Company.debt))
        return {row.id: row.debt for row in rows}


async def _ledger(sessionmaker: async_sessionmaker[AsyncSession]) -> list[DebtEntry]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(DebtEntry).order_by(DebtEntry.id))).all())


async def _network(factory: Factory, customers: int = 12) -> tuple[Company, list[Company]]:
    root = await factory.company()
    return root, [await factory.company(supplier=root, debt="1000.00") for _ in range(customers)]


async def test_increase_draws_per_company_within_bounds(
    app: FastAPI, settings: Settings, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    root, customers = await _network(factory)
    result = await increase_debts(_ctx(app, settings, _cron_job_id("increase_debts", SLOT)))
    assert result["claimed"] is True
    debts = await _debts(sessionmaker)
    assert debts[root.id] == 0  # a factory owes nobody
    increases = [debts[c.id] - Decimal("1000.00") for c in customers]
    assert all(Decimal("5.00") <= x <= Decimal("500.00") for x in increases)
    assert len(set(increases)) > 1  # every company draws its own amount
    ledger = await _ledger(sessionmaker)
    assert len(ledger) == len(customers)
    for entry in ledger:
        assert entry.reason is DebtReason.scheduled_increase
        assert entry.balance_after == debts[entry.company_id]
        assert entry.amount == entry.balance_after - Decimal("1000.00")
        assert entry.run_key == f"increase:{SLOT.isoformat()}"


async def test_decrease_is_floored_at_zero(
    app: FastAPI, settings: Settings, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    root = await factory.company()
    small = await factory.company(supplier=root, debt="50.25")
    zero = await factory.company(supplier=root, debt="0")
    big = await factory.company(supplier=root, debt="20000.00")
    slot = datetime(2026, 11, 22, 6, 30, tzinfo=ALMATY)
    await decrease_debts(_ctx(app, settings, _cron_job_id("decrease_debts", slot)))
    debts = await _debts(sessionmaker)
    assert debts[small.id] == 0
    assert debts[zero.id] == 0
    assert Decimal("10000.00") <= debts[big.id] <= Decimal("19900.00")
    ledger = {e.company_id: e for e in await _ledger(sessionmaker)}
    assert ledger[small.id].amount == Decimal("-50.25")
    assert zero.id not in ledger  # nothing to decrease, nothing to record
    assert ledger[big.id].amount == debts[big.id] - Decimal("20000.00")


async def test_a_retried_job_applies_its_slot_once(
    app: FastAPI, settings: Settings, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _network(factory, customers=5)
    job_id = _cron_job_id("increase_debts", SLOT)
    first = await increase_debts(_ctx(app, settings, job_id))
    after_first = await _debts(sessionmaker)
    retry = await increase_debts(_ctx(app, settings, job_id, job_try=2))
    assert (first["claimed"], retry["claimed"]) == (True, False)
    assert await _debts(sessionmaker) == after_first
    assert len(await _ledger(sessionmaker)) == 5
    next_slot = await increase_debts(
        _ctx(app, settings, _cron_job_id("increase_debts", SLOT.replace(hour=18)))
    )
    assert next_slot["companies"] == 5


async def test_concurrent_runs_of_one_slot_apply_once(
    app: FastAPI, settings: Settings, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _network(factory, customers=8)
    job_id = _cron_job_id("increase_debts", SLOT)
    results = await asyncio.gather(*(increase_debts(_ctx(app, settings, job_id)) for _ in range(4)))
    assert sorted(r["claimed"] for r in results) == [False, False, False, True]
    assert len(await _ledger(sessionmaker)) == 8


async def test_two_real_workers_run_one_slot_once(
    app: FastAPI,
    settings: Settings,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_worker: RunWorker,
) -> None:
    _, customers = await _network(factory, customers=10)
    pool: ArqRedis = app.state.arq
    slot_ms = int(SLOT.timestamp() * 1000)
    # Each worker's scheduler enqueues the slot; ids differ so Redis cannot dedupe them.
    for prefix in ("worker-a", "worker-b"):
        await pool.enqueue_job("cron:increase_debts", _job_id=f"{prefix}:cron:increase_debts:{slot_ms}")
    # The cron job as a plain function: workers that schedule the crons too would also run the
    # every-minute Kaspi ticks whenever a minute starts during the test.
    [job] = [job for job in cron_jobs(settings) if job.name == "cron:increase_debts"]
    only_it = [arq.func(job.coroutine, name=job.name)]
    workers = await asyncio.gather(run_worker(functions=only_it), run_worker(functions=only_it))
    assert sum(w.jobs_complete for w in workers) == 2
    ledger = await _ledger(sessionmaker)
    assert sorted(e.company_id for e in ledger) == sorted(c.id for c in customers)
    async with sessionmaker() as session:
        runs = await session.scalar(select(func.count(DebtEntry.run_key.distinct())))
    assert runs == 1


def test_schedule_is_every_three_hours_and_daily_at_half_past_six(settings: Settings) -> None:
    schedules = {job.name: (job.hour, job.minute, job.second) for job in cron_jobs(settings)}
    schedules = {name: when for name, when in schedules.items() if name.endswith("_debts")}
    assert schedules == {
        "cron:increase_debts": ({0, 3, 6, 9, 12, 15, 18, 21}, 0, 0),
        "cron:decrease_debts": (6, 30, 0),
    }


def test_slots_are_computed_in_business_time(settings: Settings) -> None:
    moment = datetime(2026, 11, 22, 5, 10, tzinfo=ALMATY)
    assert increase_slot(moment) == datetime(2026, 11, 22, 3, 0, tzinfo=ALMATY)
    assert decrease_slot(moment) == datetime(2026, 11, 21, 6, 30, tzinfo=ALMATY)
    assert decrease_slot(moment.replace(hour=6, minute=30)) == moment.replace(hour=6, minute=30)
    ctx = {"settings": settings, "job_id": _cron_job_id("increase_debts", SLOT)}
    assert scheduled_at(ctx) == SLOT


async def test_companies_table_leaves_room_for_in_place_debt_updates(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        options = await session.scalar(
            text("SELECT reloptions FROM pg_class WHERE oid = 'companies'::regclass")
        )
    assert dict(option.split("=") for option in options) == COMPANIES_STORAGE
