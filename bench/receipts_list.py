"""Latency of the receipts list (and of one receipt) over 1 700 000 receipts / 5 100 000 lines.

    uv run python bench/receipts_list.py [--requests 200] [--receipts 1700000] [--force]

Database `sauda_bench_receipts` (SAUDA_BENCH_RECEIPTS_DATABASE_URL), Redis db 2. The seed uses
the sales bench's company, employee, 50 points, 5 000 products and 2 000 customers
(bench/sales_seed.py), and makes the receipts in SQL: receipt i over 2024-01-01 .. 2025-12-31
(Almaty business hours), 1-5 lines (3 on average), one payment or two (every tenth receipt),
methods cash 35 %, card 35 %, Kaspi QR 20 %, Kaspi Red 5 %, transfer 2 %, other 1 %, unknown
2 %; every twentieth receipt is a return without its original, 30 % have a customer, numbers
repeat every 100 000 receipts (tills restart). Every attribute is a function of i, so a line
agrees with its receipt without a join. Secondary indexes are built after the load, the tables
vacuumed. Rollups are not filled (the list does not read them).

Then the API (127.0.0.1:8104) is asked, one request after another, for pages of 50 (target p95
< 30 ms): a month and a point (pages 1-3), a month and a payment method (common and rare), a
month and kind=return, a search by number, and one receipt with its lines. Client-side times.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
import httpx

# The sales bench's helpers (API process, login, timing), pointed at this script's database.
os.environ.setdefault(
    "SAUDA_BENCH_SALES_DATABASE_URL",
    os.environ.get(
        "SAUDA_BENCH_RECEIPTS_DATABASE_URL",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/sauda_bench_receipts",
    ),
)
os.environ.setdefault("SAUDA_BENCH_SALES_REDIS_URL", "redis://127.0.0.1:6379/2")
import sales_queries
from list_companies import stop_server, wait_until_up
from sales_queries import login, measure, report, start_api
from sales_seed import _company, _ids, dsn, settings

from sauda.cli import run_migrations

sales_queries.PORT = 8104
TABLES = ("receipts", "receipt_payments", "sales")
RECEIPT_COLUMNS = "id, company_id, point_id, customer_id, kind, number, sold_at, total, external_id"

# Receipt i's attributes (`i` is its id): $1 company, $2 points, $3 customers, $4 receipts,
# $5 products.
_POINT = "($2::int[])[1 + (i * 7919) % 50]"
_CUSTOMER = "CASE WHEN (i * 31) % 10 < 3 THEN ($3::int[])[1 + (i * 131) % 2000] END"
_KIND = "(CASE WHEN i % 20 = 0 THEN 'return' ELSE 'sale' END)::receipt_kind"
_SOLD_AT = (
    "timestamptz '2024-01-01 04:00+00' + ((i - 1) * 731 / $4::bigint) * interval '1 day'"
    " + ((i * 2654435761) % 50400) * interval '1 second'"
)
_LINES = "generate_series(1, 1 + (i * 7) % 5)"  # k = 1 .. lines of receipt i
_QUANTITY = "(1 + (i + k) % 3)"
_PRICE = "(200 + (i * k * 37) % 20000)::numeric(14, 2)"
_METHOD = """(CASE WHEN (i * 13) % 100 < 35 THEN 'cash' WHEN (i * 13) % 100 < 70 THEN 'card'
    WHEN (i * 13) % 100 < 90 THEN 'kaspi_qr' WHEN (i * 13) % 100 < 95 THEN 'kaspi_red'
    WHEN (i * 13) % 100 < 97 THEN 'transfer' WHEN (i * 13) % 100 < 98 THEN 'other'
    ELSE 'unknown' END)::payment_method"""

SEED_RECEIPTS = f"""
INSERT INTO receipts ({RECEIPT_COLUMNS})
SELECT i, $1, {_POINT}, {_CUSTOMER}, {_KIND}, 'K' || (i % 100000), {_SOLD_AT},
       (SELECT sum({_QUANTITY} * {_PRICE}) FROM {_LINES} k), 'R' || i
FROM generate_series(1, $4::bigint) i
"""  # noqa: S608 (constants only)
SEED_LINES = f"""
INSERT INTO sales (receipt_id, line_no, kind, company_id, point_id, customer_id, product_id,
                   quantity, unit_price, discount, total, sold_at)
SELECT i, k, {_KIND}, $1, {_POINT}, {_CUSTOMER}, ($5::int[])[1 + (i * k * 104729 + k) % 5000],
       {_QUANTITY}, {_PRICE}, 0, {_QUANTITY} * {_PRICE}, {_SOLD_AT}
FROM generate_series(1, $4::bigint) i CROSS JOIN LATERAL {_LINES} k
"""  # noqa: S608 (constants only)
SEED_PAYMENTS = f"""
INSERT INTO receipt_payments (receipt_id, method, amount)
SELECT i, {_METHOD}, CASE WHEN i % 10 = 0 THEN round(total * 0.6, 2) ELSE total END
FROM (SELECT id AS i, total FROM receipts) r
UNION ALL
SELECT id, (CASE WHEN id % 20 = 10 THEN 'card' ELSE 'kaspi_qr' END)::payment_method,
       total - round(total * 0.6, 2)
FROM receipts WHERE id % 10 = 0
"""  # noqa: S608 (constants only)


async def _secondary_indexes(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY($1) "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
        list(TABLES),
    )
    return [(r["indexname"], r["indexdef"]) for r in rows]


async def seed(receipts: int, force: bool) -> None:
    conn = await asyncpg.connect(dsn())
    try:
        company_id = await _company(conn)
        present = await conn.fetchval("SELECT count(*) FROM receipts WHERE company_id = $1", company_id)
        if present >= receipts and not force:
            print(f"{present} receipts already present; nothing to do")
            return
        started = time.perf_counter()
        indexes = await _secondary_indexes(conn)
        await conn.execute(f"TRUNCATE {', '.join(TABLES)}")
        for name, _ in indexes:
            await conn.execute(f"DROP INDEX {name}")
        points, products, customers = [
            await _ids(conn, t, company_id) for t in ("points", "products", "customers")
        ]
        await conn.execute("SET session_replication_role = replica")  # generated keys are valid
        await conn.execute(SEED_RECEIPTS, company_id, points, customers, receipts)
        await conn.execute(SEED_LINES, company_id, points, customers, receipts, products)
        print(f"receipts and lines: {time.perf_counter() - started:.1f} s", flush=True)
        await conn.execute(SEED_PAYMENTS)
        await conn.execute("SET session_replication_role = DEFAULT")
        await conn.execute("SELECT setval('receipts_id_seq', $1)", receipts)
        await conn.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            await conn.execute(definition)
        print(f"payments and indexes: {time.perf_counter() - started:.1f} s", flush=True)
        await conn.execute(f"VACUUM (ANALYZE) {', '.join(TABLES)}")
        print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
    finally:
        await conn.close()


def _month(n: int) -> dict[str, date]:
    year, month = 2024 + (n // 12) % 2, n % 12 + 1
    last = date.fromordinal(date(year + month // 12, month % 12 + 1, 1).toordinal() - 1)
    return {"date_from": date(year, month, 1), "date_to": last}


def shapes(point_ids: list[int], receipt_ids: list[int]) -> dict[str, list[str]]:
    def paths(params: list[dict[str, object]]) -> list[str]:
        return ["/api/v1/receipts?" + urlencode(p | {"limit": 50}) for p in params]

    return {
        "month + point, pages 1-3": paths(
            [_month(n) | {"point_id": p, "page": page} for n, p in enumerate(point_ids) for page in (1, 2, 3)]
        ),
        "month + method=card": paths([_month(n) | {"method": "card"} for n in range(24)]),
        "month + method=transfer (2 %)": paths([_month(n) | {"method": "transfer"} for n in range(24)]),
        "month + kind=return": paths([_month(n) | {"kind": "return"} for n in range(24)]),
        "month + point + method=kaspi_qr": paths(
            [_month(n) | {"point_id": p, "method": "kaspi_qr"} for n, p in enumerate(point_ids)]
        ),
        "search by number (whole company)": paths([{"search": f"K{n * 997 % 100000}"} for n in range(50)]),
        "one receipt with its lines": [f"/api/v1/receipts/{i}" for i in receipt_ids],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--receipts", type=int, default=1_700_000)
    parser.add_argument("--force", action="store_true", help="regenerate even if the receipts are there")
    parser.add_argument("--seed-only", action="store_true")
    args = parser.parse_args()
    run_migrations(settings())
    asyncio.run(seed(args.receipts, args.force))
    if args.seed_only:
        return
    base = f"http://{sales_queries.HOST}:{sales_queries.PORT}"
    with tempfile.TemporaryDirectory() as tmp:
        server = start_api(Path(tmp) / "api.log")
        try:
            wait_until_up(base, server)
            with httpx.Client(base_url=base, headers=login(base), timeout=30) as client:
                points = [p["id"] for p in client.get("/api/v1/points", params={"limit": 50}).json()["items"]]
                receipt_ids = [1 + n * 33_331 % args.receipts for n in range(50)]
                for name, paths in shapes(points, receipt_ids).items():
                    first = client.get(paths[0]).json()
                    found = f" ({first['total']} found)" if "items" in first else ""
                    report(f"{name}{found}", measure(client, paths, args.requests), 30)
        finally:
            stop_server(server)
            if server.returncode not in (0, -15, None):
                print((Path(tmp) / "api.log").read_text()[-2000:], file=sys.stderr)


if __name__ == "__main__":
    main()
