"""1C exchange: full feed of 1 000 000 sales page by page, and the change feed after an import.

    uv run python bench/exchange_feed.py [--sales 1000000] [--import-rows 100000] [--limit 1000]

Database `sauda_bench_exchange` (override with SAUDA_BENCH_EXCHANGE_DATABASE_URL), seeded with
bench/sales_seed.py's generator (one company, 50 points, 5 000 products); the seed bypasses
triggers, so the change log is backfilled once. The API runs as its own process
(`python -m sauda serve`), so its memory can be read from /proc.

1. Full feed: every page of `GET /api/v1/exchange/sales?limit=1000&after=...` as 1C would pull it
   (HTTP Basic). Prints the first page, median, p95, slowest page and slowest / first (target:
   no page slower than 3x the first), rows/s, and the API's RSS before, during and after.
2. Change feed: a client that is up to date; then an import of `--import-rows` sales (one
   INSERT ... SELECT, as the sales import's final step, so the capture trigger runs as it does
   there); then `changes` + `ack` until drained. Target: drained in under 60 s.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx

os.environ.setdefault(
    "SAUDA_BENCH_SALES_DATABASE_URL",
    os.environ.get(
        "SAUDA_BENCH_EXCHANGE_DATABASE_URL",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/sauda_bench_exchange",
    ),
)

from list_companies import stop_server, wait_until_up
from sales_seed import DATABASE_URL, REDIS_URL, dsn, prepare

from sauda.auth.models import ClientScope
from sauda.auth.service import create_client
from sauda.db import create_engine, create_sessionmaker, transaction

HOST, PORT = "127.0.0.1", 8103
IMPORT_SQL = """
WITH refs AS (
    SELECT (SELECT array_agg(id ORDER BY id) FROM points WHERE company_id = $1) AS points,
           (SELECT array_agg(id ORDER BY id) FROM products WHERE company_id = $1) AS products
)
INSERT INTO sales (company_id, point_id, product_id, quantity, unit_price, discount, total, sold_at,
                   external_id)
SELECT $1, points[1 + g % cardinality(points)], products[1 + g % cardinality(products)], 1, 100.00, 0, 100.00,
       now(), 'X' || g || '-' || $3
FROM refs, generate_series(1, $2) AS g
"""
BASE = f"http://{HOST}:{PORT}"
LOGIN = "bench-onec"
COMPANY_EMAIL = "bench-sales@sauda.demo"


def start_api(log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "SAUDA_ENV": "development",
        "SAUDA_DATABASE__URL": DATABASE_URL,
        "SAUDA_REDIS__URL": REDIS_URL,
        "SAUDA_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "sauda", "serve", "--host", HOST, "--port", str(PORT)]
    with log.open("wb") as out:
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def backfill_and_client(settings_url: str) -> tuple[str, int]:
    conn = await asyncpg.connect(dsn())
    try:
        company_id = int(
            await conn.fetchval("SELECT id FROM companies WHERE email = 'bench-sales@sauda.demo'")
        )
        missing = await conn.fetchval(
            "SELECT count(*) FROM sales s WHERE NOT EXISTS "
            "(SELECT 1 FROM exchange_changes c WHERE c.entity = 'sales' AND c.row_id = s.id)"
        )
        if missing:
            started = time.perf_counter()
            await conn.execute(
                "INSERT INTO exchange_changes (entity, row_id, company_id, xid, deleted, changed_at) "
                "SELECT 'sales', id, company_id, pg_current_xact_id()::text::bigint, false, now() FROM sales "
                "ON CONFLICT DO NOTHING"
            )
            print(f"change log backfilled with {missing} sales in {time.perf_counter() - started:.1f} s")
        await conn.execute("DELETE FROM integration_clients WHERE login = $1", LOGIN)
    finally:
        await conn.close()
    engine = create_engine(_settings())
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            _, secret = await create_client(
                session, company_id=company_id, name="bench 1C", login=LOGIN, scopes=[ClientScope.exchange]
            )
    finally:
        await engine.dispose()
    return secret, company_id


def _settings():  # type: ignore[no-untyped-def]
    from sales_seed import settings

    return settings()


def full_feed(http: httpx.Client, pid: int, limit: int) -> None:
    times: list[float] = []
    rss = [rss_mb(pid)]
    rows, after = 0, ""
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        response = http.get(f"/api/v1/exchange/sales?limit={limit}" + (f"&after={after}" if after else ""))
        times.append(time.perf_counter() - t0)  # served and read; parsing is the client's own cost
        response.raise_for_status()
        page = response.json()
        rows += len(page["items"])
        if len(times) % 100 == 0:
            rss.append(rss_mb(pid))
        if not page["has_more"]:
            break
        after = page["next_cursor"]
    total = time.perf_counter() - started
    rss.append(rss_mb(pid))
    ms = sorted(t * 1000 for t in times)
    first = times[0] * 1000
    print("--- full feed ---")
    print(f"pages={len(times)} rows={rows} seconds={total:.1f} rows_per_s={rows / total:.0f}")
    print(
        f"first_ms={first:.1f} median_ms={statistics.median(ms):.1f} p95_ms={ms[int(len(ms) * 0.95)]:.1f} "
        f"max_ms={ms[-1]:.1f} max_over_first={ms[-1] / first:.2f}"
    )
    slow = sum(1 for t in ms if t > 3 * first)
    print(f"p99_ms={ms[int(len(ms) * 0.99)]:.1f} pages_over_3x_first={slow}")
    print(f"api_rss_mb start={rss[0]:.0f} max={max(rss):.0f} end={rss[-1]:.0f} samples={len(rss)}")


async def import_rows(company_id: int, count: int) -> float:
    conn = await asyncpg.connect(dsn())
    try:
        started = time.perf_counter()
        await conn.execute(IMPORT_SQL, company_id, count, str(time.time_ns()))
        return time.perf_counter() - started
    finally:
        await conn.close()


def drain_changes(http: httpx.Client, limit: int) -> tuple[int, int, float]:
    started = time.perf_counter()
    rows = batches = 0
    while True:
        batch = http.get(f"/api/v1/exchange/sales/changes?limit={limit}").json()
        if not batch["items"]:
            return rows, batches, time.perf_counter() - started
        rows += len(batch["items"])
        batches += 1
        http.post("/api/v1/exchange/sales/ack", json={"ack_token": batch["ack_token"]}).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()

    prepare(total=args.sales)
    secret, company_id = asyncio.run(backfill_and_client(DATABASE_URL))
    log = Path("/tmp/sauda-bench-exchange-api.log")  # noqa: S108
    server = start_api(log)
    try:
        wait_until_up(BASE, server)
        with httpx.Client(base_url=BASE, auth=(LOGIN, secret), timeout=60) as http:
            full_feed(http, server.pid, args.limit)
            caught_up = drain_changes(http, 5000)
            print(f"client caught up: {caught_up[0]} changes in {caught_up[2]:.1f} s")
            seconds = asyncio.run(import_rows(company_id, args.import_rows))
            print(f"--- change feed ---\nimported {args.import_rows} rows in {seconds:.1f} s")
            rows, batches, drained = drain_changes(http, args.limit)
            print(
                f"drained rows={rows} batches={batches} seconds={drained:.1f} rows_per_s={rows / drained:.0f}"
            )
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
