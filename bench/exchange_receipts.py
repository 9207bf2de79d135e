"""1C exchange of receipts: the full feed of 300 000 receipts (about 1 000 000 lines) page by page,
what the receipt capture costs a bulk write of receipts, lines and payments, and the change feed
after such a write.

    uv run python bench/exchange_receipts.py [--receipts 300000] [--bulk 30000] [--limit 1000]

Database `sauda_bench_onec_receipts` (override with SAUDA_BENCH_ONEC_DATABASE_URL), Redis db 5.
The seed writes one company, 50 points, 5 000 products and the receipts with plain SQL (1-6 lines
each, one or two payments), the capture triggers off (the change log is not read by the full
feed), then vacuums. The API runs as its own process (`python -m sauda serve`).

1. Full feed: every page of `GET /api/v1/exchange/receipts?limit=1000&after=...` as 1C pulls it.
   Prints the first page, median, p95, slowest page and slowest / first, rows/s.
2. Capture cost: the same bulk write (`--bulk` receipts: one INSERT ... SELECT each into
   receipts, sales and receipt_payments, as the sales import does) timed with every trigger, then
   with the triggers that mark a receipt changed by its lines and payments disabled; both rolled
   back. The difference is what those triggers add.
3. Change feed: the client acknowledges everything, the bulk write is committed, then
   `changes` + `ack` until drained.
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
from list_companies import stop_server, wait_until_up
from sqlalchemy.engine import make_url

from sauda.auth.models import ClientScope
from sauda.auth.service import create_client
from sauda.cli import run_migrations
from sauda.config import DatabaseSettings, RedisSettings, Settings
from sauda.db import create_engine, create_sessionmaker, transaction
from sauda.tenancy import Scope

DATABASE_URL = os.environ.get(
    "SAUDA_BENCH_ONEC_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/sauda_bench_onec_receipts"
)
REDIS_URL = "redis://127.0.0.1:6379/5"
HOST, PORT = "127.0.0.1", 8124
BASE = f"http://{HOST}:{PORT}"
LOGIN = "bench-receipts-1c"
EMAIL = "bench-receipts@sauda.demo"
POINTS, PRODUCTS = 50, 5_000

SEED = [
    """INSERT INTO companies (name, kind, email, country, city, street, house_number, level, debt)
       VALUES ('Bench receipts', 'retail_chain', :email, 'Казахстан', 'Алматы', 'Абая', '1', 0, 0)""",
    """INSERT INTO points (company_id, code, name, city, address, kind, is_active)
       SELECT :company, 'P' || g, 'Магазин ' || g, 'Алматы', '', 'store', true
       FROM generate_series(1, :points) g""",
    """INSERT INTO products (company_id, sku, name, model, release_date)
       SELECT :company, 'SKU-' || g, 'Товар ' || g, '', '2025-01-01'
       FROM generate_series(1, :products) g""",
]
# Receipt g (of `count`, numbered from `first`) at point g % 50 on a day of 2025, with 1 + g % 6
# lines; paid in one payment, or two (card and cash) for every third receipt.
WRITE = [
    """CREATE TEMP TABLE bench_receipts ON COMMIT DROP AS
       SELECT g, 1 + g % 6 AS lines,
              (SELECT array_agg(id ORDER BY id) FROM points WHERE company_id = :company) AS points,
              (SELECT array_agg(id ORDER BY id) FROM products WHERE company_id = :company) AS products
       FROM generate_series(:first::int, :first::int + :count::int - 1) g""",
    """INSERT INTO receipts (company_id, point_id, kind, number, sold_at, total, external_id)
       SELECT :company, points[1 + g % cardinality(points)], 'sale', g::text,
              timestamptz '2025-01-01 04:00+00' + (g % 365) * interval '1 day'
                  + (g % 600) * interval '1 minute',
              lines * (100 + g % 50)::numeric, 'R-' || g
       FROM bench_receipts""",
    """INSERT INTO sales (receipt_id, line_no, kind, company_id, point_id, product_id, quantity, unit_price,
                          discount, total, sold_at)
       SELECT r.id, n, 'sale', r.company_id, r.point_id,
              b.products[1 + (b.g * 7 + n) % cardinality(b.products)], 1, 100 + b.g % 50, 0, 100 + b.g % 50,
              r.sold_at
       FROM bench_receipts b JOIN receipts r ON r.company_id = :company AND r.external_id = 'R-' || b.g,
            generate_series(1, b.lines) n""",
    """INSERT INTO receipt_payments (receipt_id, method, amount)
       SELECT r.id, p.method::payment_method, p.amount
       FROM bench_receipts b JOIN receipts r ON r.company_id = :company AND r.external_id = 'R-' || b.g,
            LATERAL (VALUES ('card', r.total - 50, b.g % 3 = 0), ('cash', 50, b.g % 3 = 0),
                            ('cash', r.total, b.g % 3 <> 0)) AS p(method, amount, used)
       WHERE p.used""",
]
OWNER_TRIGGERS = [
    f"ALTER TABLE {table} {{action}} TRIGGER exchange_capture_receipts_{event}"
    for table in ("sales", "receipt_payments")
    for event in ("insert", "update", "delete")
]


def settings() -> Settings:
    return Settings(
        env="development", database=DatabaseSettings(url=DATABASE_URL), redis=RedisSettings(url=REDIS_URL)
    )


def dsn() -> str:
    return make_url(DATABASE_URL).set(drivername="postgresql").render_as_string(False)


def _sql(statement: str, **params: object) -> tuple[str, list[object]]:
    """asyncpg's $n placeholders for :name ones."""
    names: list[str] = []
    for name in sorted(params, key=len, reverse=True):
        if f":{name}" in statement:
            names.append(name)
            statement = statement.replace(f":{name}", f"${len(names)}")
    return statement, [params[n] for n in names]


async def execute(conn: asyncpg.Connection, statement: str, **params: object) -> float:
    sql, args = _sql(statement, **params)
    started = time.perf_counter()
    await conn.execute(sql, *args)
    return time.perf_counter() - started


async def write(conn: asyncpg.Connection, company: int, first: int, count: int) -> list[float]:
    """The bulk write; returns the seconds of its three INSERTs (receipts, lines, payments)."""
    times = [await execute(conn, s, company=company, first=first, count=count) for s in WRITE]
    await conn.execute("DROP TABLE bench_receipts")  # the seed writes several chunks in one transaction
    return times[1:]


async def seed(total: int) -> int:
    conn = await asyncpg.connect(dsn())
    try:
        company = await conn.fetchval("SELECT id FROM companies WHERE email = $1", EMAIL)
        if company is not None:
            return int(company)
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")  # no capture, no FK checks
            await execute(conn, SEED[0], email=EMAIL)
            company = int(await conn.fetchval("SELECT id FROM companies WHERE email = $1", EMAIL))
            await execute(conn, SEED[1], company=company, points=POINTS)
            await execute(conn, SEED[2], company=company, products=PRODUCTS)
            for first in range(1, total + 1, 100_000):
                await write(conn, company, first, min(100_000, total + 1 - first))
        await conn.execute("VACUUM (ANALYZE) receipts, sales, receipt_payments")
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM receipts) r, (SELECT count(*) FROM sales) l, "
            "(SELECT count(*) FROM receipt_payments) p"
        )
        print(
            f"seeded {counts['r']} receipts, {counts['l']} lines, {counts['p']} payments "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        return company
    finally:
        await conn.close()


async def exchange_client(company: int) -> str:
    conn = await asyncpg.connect(dsn())
    try:
        await conn.execute("DELETE FROM integration_clients WHERE login = $1", LOGIN)
    finally:
        await conn.close()
    engine = create_engine(settings())
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            _, secret = await create_client(
                session,
                Scope.everything(),
                company_id=company,
                name="bench 1C",
                login=LOGIN,
                scopes=[ClientScope.exchange],
            )
    finally:
        await engine.dispose()
    return secret


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


def full_feed(http: httpx.Client, limit: int) -> None:
    times: list[float] = []
    receipts = lines = 0
    after = ""
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        response = http.get(f"/api/v1/exchange/receipts?limit={limit}" + (f"&after={after}" if after else ""))
        times.append(time.perf_counter() - t0)
        response.raise_for_status()
        page = response.json()
        receipts += len(page["items"])
        lines += sum(len(item["lines"]) for item in page["items"])
        if not page["has_more"]:
            break
        after = page["next_cursor"]
    total = time.perf_counter() - started
    ms = sorted(t * 1000 for t in times)
    first = times[0] * 1000
    print("--- full feed of receipts ---")
    print(
        f"pages={len(times)} receipts={receipts} lines={lines} seconds={total:.1f} "
        f"receipts_per_s={receipts / total:.0f} lines_per_s={lines / total:.0f}"
    )
    p95, p99 = ms[int(len(ms) * 0.95)], ms[int(len(ms) * 0.99)]
    print(
        f"first_ms={first:.1f} median_ms={statistics.median(ms):.1f} p95_ms={p95:.1f} p99_ms={p99:.1f} "
        f"max_ms={ms[-1]:.1f} max_over_first={ms[-1] / first:.2f}"
    )


async def capture_cost(company: int, count: int) -> None:
    conn = await asyncpg.connect(dsn())
    try:
        first = int(await conn.fetchval("SELECT count(*) FROM receipts")) + 1
        print(f"--- capture cost of a bulk write of {count} receipts (rolled back) ---")
        for label, disable in (("all triggers", False), ("without lines/payments -> receipt", True)):
            attempt = conn.transaction()
            await attempt.start()
            if disable:
                for statement in OWNER_TRIGGERS:
                    await conn.execute(statement.format(action="DISABLE"))
            receipts, lines, payments = await write(conn, company, first, count)
            await attempt.rollback()
            print(
                f"{label}: receipts {receipts:.2f} s, lines {lines:.2f} s, payments {payments:.2f} s, "
                f"total {receipts + lines + payments:.2f} s"
            )
    finally:
        await conn.close()


async def commit_write(company: int, count: int) -> float:
    conn = await asyncpg.connect(dsn())
    try:
        first = int(await conn.fetchval("SELECT count(*) FROM receipts")) + 1
        started = time.perf_counter()
        async with conn.transaction():
            await write(conn, company, first, count)
        return time.perf_counter() - started
    finally:
        await conn.close()


def drain(http: httpx.Client, limit: int) -> tuple[int, int, float]:
    started = time.perf_counter()
    rows = batches = 0
    while True:
        batch = http.get(f"/api/v1/exchange/receipts/changes?limit={limit}").json()
        if not batch["items"]:
            return rows, batches, time.perf_counter() - started
        rows += len(batch["items"])
        batches += 1
        http.post("/api/v1/exchange/receipts/ack", json={"ack_token": batch["ack_token"]}).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--receipts", type=int, default=300_000)
    parser.add_argument("--bulk", type=int, default=30_000)
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()

    run_migrations(settings())
    company = asyncio.run(seed(args.receipts))
    secret = asyncio.run(exchange_client(company))
    server = start_api(Path("/tmp/sauda-bench-receipts-api.log"))  # noqa: S108
    try:
        wait_until_up(BASE, server)
        with httpx.Client(base_url=BASE, auth=(LOGIN, secret), timeout=120) as http:
            full_feed(http, args.limit)
            asyncio.run(capture_cost(company, args.bulk))
            page = http.get("/api/v1/exchange/receipts?limit=1").json()
            http.post("/api/v1/exchange/receipts/changes/start", json={"changes_from": page["changes_from"]})
            seconds = asyncio.run(commit_write(company, args.bulk))
            print(f"--- change feed ---\ncommitted {args.bulk} receipts in {seconds:.1f} s")
            rows, batches, drained = drain(http, args.limit)
            print(
                f"drained receipts={rows} batches={batches} seconds={drained:.1f} per_s={rows / drained:.0f}"
            )
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
