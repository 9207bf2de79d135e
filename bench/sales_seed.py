"""Generate the sales benchmark data: 5 000 000 sales across 50 points and 5 000 products.

    uv run python bench/sales_seed.py [--sales 5000000] [--force]

Database `sauda_bench_sales` (override with SAUDA_BENCH_SALES_DATABASE_URL). One company,
an employee `bench-sales@sauda.demo` (password below) for the API benchmarks, 50 points,
5 000 products, 2 000 customers, and the sales spread over 2024-01-01 .. 2025-12-31 (Almaty
time). The sales go in with COPY (CSV text from a generator) while the secondary indexes and
foreign-key triggers are off, then the indexes are built and both rollups are computed with
one INSERT ... SELECT each. Skipped when the sales are already there (unless --force).
"""

import argparse
import asyncio
import os
import random
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta

import asyncpg
from sqlalchemy.engine import make_url

from sauda.cli import run_migrations
from sauda.config import DatabaseSettings, RedisSettings, Settings
from sauda.security import hash_password

DATABASE_URL = os.environ.get(
    "SAUDA_BENCH_SALES_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/sauda_bench_sales"
)
REDIS_URL = os.environ.get("SAUDA_BENCH_SALES_REDIS_URL", "redis://127.0.0.1:6379/10")
EMAIL = "bench-sales@sauda.demo"
PASSWORD = "bench-sales-2026"
POINTS, PRODUCTS, CUSTOMERS = 50, 5000, 2000
FIRST_DAY, DAYS = date(2024, 1, 1), 731
SECONDARY_INDEXES = {
    "ix_sales_company_id_sold_at": "(company_id, sold_at, id)",
    "ix_sales_point_id_sold_at": "(point_id, sold_at, id) INCLUDE (company_id)",
    "ix_sales_product_id_sold_at": "(product_id, sold_at) INCLUDE (company_id)",
    "ix_sales_customer_id": "(customer_id)",
}
SALE_COLUMNS = (
    "company_id",
    "point_id",
    "product_id",
    "customer_id",
    "quantity",
    "unit_price",
    "discount",
    "total",
    "sold_at",
    "external_id",
)


def settings() -> Settings:
    return Settings(
        env="development", database=DatabaseSettings(url=DATABASE_URL), redis=RedisSettings(url=REDIS_URL)
    )


def dsn() -> str:
    return make_url(DATABASE_URL).set(drivername="postgresql").render_as_string(hide_password=False)


async def _company(conn: asyncpg.Connection) -> int:
    company_id = await conn.fetchval("SELECT id FROM companies WHERE email = 'bench-sales@sauda.demo'")
    if company_id:
        return int(company_id)
    company_id = await conn.fetchval(
        "INSERT INTO companies (name, kind, email, country, city, street, house_number, level, debt) "
        "VALUES ('ТОО Бенч Ритейл', 'retail_chain', 'bench-sales@sauda.demo', 'Казахстан', 'Алматы', "
        "'проспект Абая', '1', 0, 0) RETURNING id"
    )
    await conn.execute(
        "INSERT INTO users (email, password_hash, full_name, role, company_id, is_active) "
        "VALUES ($1, $2, 'Бенч Сотрудник', 'employee', $3, true)",
        EMAIL,
        hash_password(PASSWORD),
        company_id,
    )
    await conn.copy_records_to_table(
        "points",
        records=[
            (company_id, f"PT-{n:03}", f"Точка {n:03}", "Алматы", "", "store", True)
            for n in range(1, POINTS + 1)
        ],
        columns=("company_id", "code", "name", "city", "address", "kind", "is_active"),
    )
    await conn.copy_records_to_table(
        "products",
        records=[
            (company_id, f"SKU-{n:05}", f"Товар {n:05}", "M", date(2023, 1, 1))
            for n in range(1, PRODUCTS + 1)
        ],
        columns=("company_id", "sku", "name", "model", "release_date"),
    )
    await conn.copy_records_to_table(
        "customers",
        records=[(company_id, f"Покупатель {n}", f"CUST-{n:05}") for n in range(1, CUSTOMERS + 1)],
        columns=("company_id", "name", "external_id"),
    )
    return int(company_id)


async def _ids(conn: asyncpg.Connection, table: str, company_id: int) -> list[int]:
    rows = await conn.fetch(f"SELECT id FROM {table} WHERE company_id = $1 ORDER BY id", company_id)  # noqa: S608
    return [r["id"] for r in rows]


async def _csv_chunks(
    company_id: int, points: list[int], products: list[int], customers: list[int], total: int, seed: int
) -> AsyncIterator[bytes]:
    rng = random.Random(seed)
    prices = {p: rng.randint(200, 200_000) for p in products}  # in tenge, whole
    per_day, extra = divmod(total, DAYS)
    n = 0
    for d in range(DAYS):
        day = (FIRST_DAY + timedelta(days=d)).isoformat()
        lines = []
        for _ in range(per_day + (1 if d < extra else 0)):
            n += 1
            product = rng.choice(products)
            quantity = rng.choice((1, 1, 1, 2, 3))
            price = prices[product]
            customer = rng.choice(customers) if rng.random() < 0.3 else ""
            # Almaty business hours 09:00-23:00 = 04:00-18:00 UTC
            seconds = rng.randrange(4 * 3600, 18 * 3600)
            lines.append(
                f"{company_id},{rng.choice(points)},{product},{customer},{quantity},{price}.00,0.00,"
                f"{quantity * price}.00,"
                f"{day} {seconds // 3600:02}:{seconds // 60 % 60:02}:{seconds % 60:02}+00,B{n}\n"
            )
        yield "".join(lines).encode()


async def seed(total: int, force: bool) -> None:
    conn = await asyncpg.connect(dsn())
    try:
        company_id = await _company(conn)
        present = await conn.fetchval("SELECT count(*) FROM sales WHERE company_id = $1", company_id)
        if present >= total and not force:
            print(f"{present} sales already present; nothing to do")
            return
        await _load(conn, company_id, total)
    finally:
        await conn.close()


async def _load(conn: asyncpg.Connection, company_id: int, total: int) -> None:
    started = time.perf_counter()
    await conn.execute("TRUNCATE sales, sales_daily_points, sales_daily_products")
    for name in SECONDARY_INDEXES:
        await conn.execute(f"DROP INDEX IF EXISTS {name}")
    await conn.execute("ALTER TABLE sales DROP CONSTRAINT IF EXISTS uq_sales_company_id_external_id")
    points = await _ids(conn, "points", company_id)
    products = await _ids(conn, "products", company_id)
    customers = await _ids(conn, "customers", company_id)
    # Generated rows reference existing ids: skip the per-row foreign-key triggers.
    await conn.execute("SET session_replication_role = replica")
    source = _csv_chunks(company_id, points, products, customers, total, seed=2026)
    await conn.copy_to_table("sales", source=source, columns=SALE_COLUMNS, format="csv")
    await conn.execute("SET session_replication_role = DEFAULT")
    copied = time.perf_counter()
    print(f"COPY of {total} sales: {copied - started:.1f} s", flush=True)
    await conn.execute("SET maintenance_work_mem = '512MB'")
    await conn.execute(
        "ALTER TABLE sales ADD CONSTRAINT uq_sales_company_id_external_id UNIQUE (company_id, external_id)"
    )
    for name, columns in SECONDARY_INDEXES.items():
        await conn.execute(f"CREATE INDEX {name} ON sales {columns}")
    indexed = time.perf_counter()
    print(f"indexes: {indexed - copied:.1f} s", flush=True)
    for table, key in (("sales_daily_points", "point_id"), ("sales_daily_products", "product_id")):
        await conn.execute(
            f"INSERT INTO {table} (company_id, day, {key}, revenue, sales_count, quantity) "  # noqa: S608
            f"SELECT company_id, (sold_at AT TIME ZONE 'Asia/Almaty')::date, {key}, sum(total), count(*), "
            f"sum(quantity) FROM sales GROUP BY 1, 2, 3"
        )
    rolled = time.perf_counter()
    print(f"rollups: {rolled - indexed:.1f} s", flush=True)
    await conn.execute(
        "VACUUM (ANALYZE) sales, sales_daily_points, sales_daily_products, points, products, customers"
    )
    print(
        f"vacuum analyze: {time.perf_counter() - rolled:.1f} s; total {time.perf_counter() - started:.1f} s"
    )


def prepare(total: int = 5_000_000, force: bool = False) -> Settings:
    bench = settings()
    run_migrations(bench)
    asyncio.run(seed(total, force))
    return bench


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sales", type=int, default=5_000_000)
    parser.add_argument("--force", action="store_true", help="regenerate even if the sales are there")
    args = parser.parse_args()
    prepare(args.sales, args.force)


if __name__ == "__main__":
    main()
