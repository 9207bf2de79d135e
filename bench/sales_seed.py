"""Generate the sales benchmark data: 5 000 000 receipt lines in ~1 700 000 receipts.

    uv run python bench/sales_seed.py [--lines 5000000] [--force]

Database `sauda_bench_sales` (override with SAUDA_BENCH_SALES_DATABASE_URL). One company, an
employee `bench-sales@sauda.demo` (password below) for the API benchmarks, 50 points, 5 000
products, 2 000 customers, and receipts over 2024-01-01 .. 2025-12-31 (Almaty time): 1–6 lines
each (2.95 on average, distinct products), 30 % with a customer, open 09:00–23:00 with a lunch
and an evening peak; paid by cash, card, Kaspi QR or Kaspi Red (8 % split between two methods);
about 3 % of receipts are returns of an earlier receipt (1–14 days later, some or all of its
lines, part or all of each), refunded by the original's first method.

Receipts, lines and payments go in with COPY (CSV text from a generator, a month at a time) while
the secondary indexes and unique constraints are dropped and triggers are off (the generated
ids are valid), then the indexes are rebuilt, and every rollup is filled with one
`INSERT … SELECT` of its definition in `sauda.sales.rollups.ROLLUPS` (`RollupRepository.rebuild`,
what `sauda rebuild-rollups` runs), and the tables are vacuumed. Skipped when the lines are
already there (unless --force).
"""

import argparse
import asyncio
import io
import os
import random
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from sauda.cli import run_migrations
from sauda.config import DatabaseSettings, RedisSettings, Settings
from sauda.db import create_engine, create_sessionmaker, transaction
from sauda.sales.rollups import ROLLUPS, RollupRepository
from sauda.security import hash_password

DATABASE_URL = os.environ.get(
    "SAUDA_BENCH_SALES_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/sauda_bench_sales"
)
REDIS_URL = os.environ.get("SAUDA_BENCH_SALES_REDIS_URL", "redis://127.0.0.1:6379/10")
EMAIL = "bench-sales@sauda.demo"
PASSWORD = "bench-sales-2026"
POINTS, PRODUCTS, CUSTOMERS = 50, 5000, 2000
FIRST_DAY, DAYS = date(2024, 1, 1), 731
TABLES = ("receipts", "sales", "receipt_payments")
COLUMNS = {
    "receipts": (
        "id",
        "company_id",
        "point_id",
        "customer_id",
        "kind",
        "number",
        "original_id",
        "sold_at",
        "total",
        "external_id",
    ),
    "sales": (
        "id",
        "receipt_id",
        "line_no",
        "kind",
        "returned_line_id",
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
    ),
    "receipt_payments": ("id", "receipt_id", "method", "amount"),
}
LINES_PER_RECEIPT = (1, 2, 3, 4, 5, 6)
LINE_WEIGHTS = (25, 20, 20, 15, 10, 10)  # 2.95 lines on average
METHODS = ("cash", "card", "kaspi_qr", "kaspi_red")
METHOD_WEIGHTS = (30, 35, 25, 10)
RETURN_SHARE = 0.03 / 0.97  # of sale receipts, so that returns are ~3 % of all receipts
# Hours of the day (Almaty) and their weights: a lunch and an evening peak.
HOURS = tuple(range(9, 23))
HOUR_WEIGHTS = (3, 5, 7, 9, 10, 8, 6, 6, 8, 10, 11, 9, 6, 3)
ALMATY_OFFSET = 5


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


@dataclass
class Sold:
    """A sale receipt that will be returned (in part) on a later day."""

    receipt_id: int
    point: int
    customer: str
    method: str
    lines: list[tuple[int, int, int, int, int]]  # line id, product, quantity, price, discount


@dataclass
class Generator:
    """Receipts, lines and payments as CSV text for COPY, one chunk of days at a time."""

    company_id: int
    points: list[int]
    products: list[int]
    customers: list[int]
    lines_total: int
    rng: random.Random = field(default_factory=lambda: random.Random(2026))
    receipt_id: int = 0
    line_id: int = 0
    payment_id: int = 0
    lines_written: int = 0
    receipts_written: int = 0
    returns_written: int = 0
    due: dict[int, list[Sold]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        self.prices = {p: self.rng.randint(200, 200_000) for p in self.products}  # whole tenge

    def chunks(self, days_per_chunk: int = 31) -> Iterator[dict[str, bytes]]:
        for start in range(0, DAYS, days_per_chunk):
            out: dict[str, list[str]] = {t: [] for t in TABLES}
            for d in range(start, min(start + days_per_chunk, DAYS)):
                self._day(d, out)
            yield {t: "".join(rows).encode() for t, rows in out.items()}

    def _day(self, d: int, out: dict[str, list[str]]) -> None:
        day = FIRST_DAY + timedelta(days=d)
        budget = self.lines_total * (d + 1) // DAYS - self.lines_written
        for sold in self.due.pop(d, []):
            budget -= self._return(day, sold, out)
        while budget > 0:
            budget -= self._sale(d, day, out)

    def _moment(self, day: date) -> str:
        hour = self.rng.choices(HOURS, HOUR_WEIGHTS)[0] - ALMATY_OFFSET
        return f"{day} {hour:02}:{self.rng.randrange(60):02}:{self.rng.randrange(60):02}+00"

    def _receipt(self, out: dict[str, list[str]], point: int, customer: str, **values: object) -> int:
        self.receipt_id += 1
        self.receipts_written += 1
        out["receipts"].append(
            f"{self.receipt_id},{self.company_id},{point},{customer},{values['kind']},{self.receipt_id},"
            f"{values['original']},{values['at']},{values['total']}.00,R{self.receipt_id}\n"
        )
        return self.receipt_id

    def _line(self, out: dict[str, list[str]], receipt: int, n: int, **v: object) -> int:
        self.line_id += 1
        self.lines_written += 1
        out["sales"].append(
            f"{self.line_id},{receipt},{n},{v['kind']},{v['returned']},{self.company_id},{v['point']},"
            f"{v['product']},{v['customer']},{v['quantity']},{v['price']}.00,{v['discount']}.00,"
            f"{v['total']}.00,{v['at']},R{receipt}-{n}\n"
        )
        return self.line_id

    def _pay(self, out: dict[str, list[str]], receipt: int, method: str, amount: int) -> None:
        self.payment_id += 1
        out["receipt_payments"].append(f"{self.payment_id},{receipt},{method},{amount}.00\n")

    def _sale(self, d: int, day: date, out: dict[str, list[str]]) -> int:
        rng = self.rng
        point = rng.choice(self.points)
        customer = str(rng.choice(self.customers)) if rng.random() < 0.3 else ""
        at = self._moment(day)
        chosen = rng.sample(self.products, rng.choices(LINES_PER_RECEIPT, LINE_WEIGHTS)[0])
        lines = []
        for product in chosen:
            quantity = rng.choice((1, 1, 1, 2, 3))
            price = self.prices[product]
            discount = quantity * price // 20 if rng.random() < 0.1 else 0
            lines.append((product, quantity, price, discount))
        total = sum(q * p - off for _, q, p, off in lines)
        receipt = self._receipt(out, point, customer, kind="sale", original="", at=at, total=total)
        kept = []
        for n, (product, quantity, price, discount) in enumerate(lines, start=1):
            line = self._line(
                out,
                receipt,
                n,
                kind="sale",
                returned="",
                point=point,
                product=product,
                customer=customer,
                quantity=quantity,
                price=price,
                discount=discount,
                total=quantity * price - discount,
                at=at,
            )
            kept.append((line, product, quantity, price, discount))
        method = rng.choices(METHODS, METHOD_WEIGHTS)[0]
        if rng.random() < 0.08 and total > 1:
            first = rng.randint(1, total - 1)
            self._pay(out, receipt, method, first)
            self._pay(out, receipt, "cash" if method != "cash" else "card", total - first)
        else:
            self._pay(out, receipt, method, total)
        later = d + rng.randint(1, 14)
        if rng.random() < RETURN_SHARE and later < DAYS:
            self.due[later].append(Sold(receipt, point, customer, method, kept))
        return len(lines)

    def _return(self, day: date, sold: Sold, out: dict[str, list[str]]) -> int:
        """Some or all of the lines back, each in part or whole; the discount in proportion
        (whole tenge here, so the totals stay whole)."""
        rng = self.rng
        back = [line for line in sold.lines if rng.random() < 0.6] or sold.lines[:1]
        parts = []
        for line, product, quantity, price, discount in back:
            q = rng.randint(1, quantity)
            share = discount * q // quantity
            parts.append((line, product, q, price, share, q * price - share))
        at = self._moment(day)
        total = sum(p[-1] for p in parts)
        receipt = self._receipt(
            out, sold.point, sold.customer, kind="return", original=sold.receipt_id, at=at, total=total
        )
        for n, (line, product, q, price, share, line_total) in enumerate(parts, start=1):
            self._line(
                out,
                receipt,
                n,
                kind="return",
                returned=line,
                point=sold.point,
                product=product,
                customer=sold.customer,
                quantity=q,
                price=price,
                discount=share,
                total=line_total,
                at=at,
            )
        if total > 0:
            self._pay(out, receipt, sold.method, total)
        self.returns_written += 1
        return len(parts)


async def seed(lines: int, force: bool) -> None:
    conn = await asyncpg.connect(dsn())
    try:
        company_id = await _company(conn)
        present = await conn.fetchval("SELECT count(*) FROM sales WHERE company_id = $1", company_id)
        if present >= lines and not force:
            print(f"{present} lines already present; nothing to do")
            return
        await _load(conn, company_id, lines)
    finally:
        await conn.close()
    started = time.perf_counter()
    await _rollups(company_id)
    rolled = time.perf_counter()
    print(f"rollups (RollupRepository.rebuild): {rolled - started:.1f} s", flush=True)
    await _vacuum()
    print(f"vacuum analyze: {time.perf_counter() - rolled:.1f} s", flush=True)


# Indexes and unique constraints other than primary keys, as the migrations made them: dropped
# for the COPY, rebuilt after it from their own definitions.
_DEFINITIONS = """
SELECT k.conname AS name, 'constraint' AS what, pg_get_constraintdef(k.oid) AS definition, t.relname AS tbl
FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid
WHERE k.contype = 'u' AND t.relname = ANY($1::text[])
UNION ALL
SELECT i.indexname, 'index', i.indexdef, i.tablename
FROM pg_indexes i
WHERE i.tablename = ANY($1::text[]) AND i.schemaname = 'public'
  AND i.indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))
"""


async def _load(conn: asyncpg.Connection, company_id: int, lines: int) -> None:
    started = time.perf_counter()
    rollups = ", ".join(r.table for r in ROLLUPS)
    await conn.execute(f"TRUNCATE receipts, sales, receipt_payments, {rollups}")
    definitions = await conn.fetch(_DEFINITIONS, list(TABLES))
    for d in definitions:
        if d["what"] == "constraint":
            await conn.execute(f"ALTER TABLE {d['tbl']} DROP CONSTRAINT {d['name']}")
        else:
            await conn.execute(f"DROP INDEX {d['name']}")
    points = await _ids(conn, "points", company_id)
    products = await _ids(conn, "products", company_id)
    customers = await _ids(conn, "customers", company_id)
    generator = Generator(company_id, points, products, customers, lines)
    # Generated rows reference existing ids: skip the foreign-key and change-capture triggers.
    await conn.execute("SET session_replication_role = replica")
    for chunk in generator.chunks():
        for table in TABLES:
            rows = io.BytesIO(chunk[table])
            await conn.copy_to_table(table, source=rows, columns=COLUMNS[table], format="csv")
    await conn.execute("SET session_replication_role = DEFAULT")
    for table, last in (
        ("receipts", generator.receipt_id),
        ("sales", generator.line_id),
        ("receipt_payments", generator.payment_id),
    ):
        await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {last})")
    copied = time.perf_counter()
    print(
        f"COPY of {generator.lines_written} lines in {generator.receipts_written} receipts "
        f"({generator.returns_written} returns), {generator.payment_id} payments: {copied - started:.1f} s",
        flush=True,
    )
    await conn.execute("SET maintenance_work_mem = '512MB'")
    for d in definitions:
        if d["what"] == "constraint":
            await conn.execute(f"ALTER TABLE {d['tbl']} ADD CONSTRAINT {d['name']} {d['definition']}")
        else:
            await conn.execute(d["definition"])
    print(f"indexes ({len(definitions)}): {time.perf_counter() - copied:.1f} s", flush=True)


async def _rollups(company_id: int) -> None:
    bench = settings()
    engine = create_engine(bench)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await session.execute(text("SET LOCAL work_mem = '256MB'"))
            await RollupRepository(session, bench.tz).rebuild(company_id)
    finally:
        await engine.dispose()


async def _vacuum() -> None:
    conn = await asyncpg.connect(dsn())
    try:
        tables = [*TABLES, *(r.table for r in ROLLUPS), "points", "products", "customers"]
        await conn.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
    finally:
        await conn.close()


def prepare(total: int = 5_000_000, force: bool = False) -> Settings:
    """The bench database, migrated and holding `total` receipt lines."""
    bench = settings()
    run_migrations(bench)
    asyncio.run(seed(total, force))
    return bench


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=5_000_000)
    parser.add_argument("--force", action="store_true", help="regenerate even if the lines are there")
    args = parser.parse_args()
    prepare(args.lines, args.force)


if __name__ == "__main__":
    main()
