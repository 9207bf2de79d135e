"""Time the scheduled debt runs (one SQL statement each) over 100 000 companies.

    uv run python bench/debt_run.py [--repeat 3] [--explain] [--no-vacuum]

Target: each run under 5 s. Every invocation uses fresh slots (100 years back, to the
microsecond), so the runs really apply instead of finding their slot already claimed.
Before each timed run it VACUUMs `companies` and `debt_ledger` (untimed), as autovacuum would
have in the hours between two scheduled runs; --no-vacuum runs them back to back.
"""

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from common import BENCH_COMPANIES, bench_settings, prepare, vacuum
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.config import Settings
from sauda.db import create_engine, create_sessionmaker, transaction
from sauda.network.models import DebtEntry, DebtReason
from sauda.network.repository import _DEBT_RUN_SHAPES, _DEBT_RUN_SQL, DebtRunResult
from sauda.network.service import _kopecks, run_scheduled_decrease, run_scheduled_increase

Run = Callable[[AsyncSession, Settings, datetime], Awaitable[DebtRunResult]]


async def timed_run(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, name: str, run: Run, slot: datetime
) -> None:
    started = time.perf_counter()
    async with transaction(sessionmaker) as session:
        result = await run(session, settings, slot)
        statement_done = time.perf_counter()
    committed = time.perf_counter()
    run_key = f"{name}:{slot.isoformat()}"
    async with sessionmaker() as session:
        ledger_rows = await session.scalar(
            select(func.count()).select_from(DebtEntry).where(DebtEntry.run_key == run_key)
        )
    print(
        f"{name:<9} claimed={result.claimed!s:<5} companies changed={result.companies:>7} "
        f"ledger rows={ledger_rows:>7} total={result.total:>16} "
        f"statement={statement_done - started:6.2f} s  with commit={committed - started:6.2f} s",
        flush=True,
    )


async def explain(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """EXPLAIN ANALYZE one increase in a transaction that is rolled back."""
    delta, where = _DEBT_RUN_SHAPES[DebtReason.scheduled_increase]
    sql = _DEBT_RUN_SQL.format(delta=delta, where=where)
    params = {
        "run_key": f"explain:{datetime.now().isoformat()}",
        "reason": DebtReason.scheduled_increase.value,
        "lo_kop": _kopecks(settings.network.increase_min),
        "hi_kop": _kopecks(settings.network.increase_max),
    }
    async with sessionmaker() as session:
        rows = await session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS, WAL) {sql}"), params)
        print("\n".join(row[0] for row in rows))
        await session.rollback()


async def main(repeat: int, show_plan: bool, vacuum_between: bool) -> None:
    settings = bench_settings()
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        for _ in range(repeat):
            slot = datetime.now(settings.tz) - timedelta(days=36525)
            for name, run in (("increase", run_scheduled_increase), ("decrease", run_scheduled_decrease)):
                if vacuum_between:  # runs are hours apart: autovacuum has cleaned up in between
                    await vacuum(settings, "companies", "debt_ledger")
                await timed_run(sessionmaker, settings, name, run, slot)
        if show_plan:
            await explain(sessionmaker, settings)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--companies", type=int, default=BENCH_COMPANIES)
    parser.add_argument("--repeat", type=int, default=1, help="increase + decrease pairs to time")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of one increase")
    parser.add_argument("--no-vacuum", action="store_true", help="run back to back, no VACUUM in between")
    args = parser.parse_args()
    present = prepare(bench_settings(), args.companies)
    print(f"{present} companies in the bench database")
    asyncio.run(main(args.repeat, args.explain, not args.no_vacuum))
