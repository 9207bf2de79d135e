"""The migration to receipts: every sale becomes a one-line receipt paid `unknown`; counts and sums
by company, day and point are the same before and after, and every rollup matches its aggregate."""

import asyncio
from decimal import Decimal

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from sauda.config import Settings
from sauda.sales.rollups import ROLLUPS
from tests.conftest import _recreate_database

BEFORE = "0e1c0a000002"  # the revision before receipts

SEED = """
INSERT INTO companies (id, name, kind, email, country, city, street, house_number, level, debt)
VALUES (1, 'A', 'factory', 'a@a.kz', 'KZ', 'Алматы', 'Абая', '1', 0, 0),
       (2, 'B', 'factory', 'b@b.kz', 'KZ', 'Астана', 'Кунаева', '2', 0, 0);
INSERT INTO points (id, company_id, code, name, city, address, kind, is_active)
VALUES (1, 1, 'P1', 'Магазин', '', '', 'store', true), (2, 1, 'P2', 'Киоск', '', '', 'kiosk', true),
       (3, 2, 'P1', 'Склад', '', '', 'warehouse', true);
INSERT INTO products (id, company_id, name, model, release_date, sku)
VALUES (1, 1, 'Чай', '', '2025-01-01', 'TEA'), (2, 2, 'Кофе', '', '2025-01-01', 'COF');
INSERT INTO customers (id, company_id, name, external_id) VALUES (1, 1, 'Айгуль', 'C1');
INSERT INTO sales (company_id, point_id, product_id, customer_id, quantity, unit_price, discount, total,
                   sold_at, external_id)
SELECT CASE WHEN n % 3 = 0 THEN 2 ELSE 1 END,
       CASE WHEN n % 3 = 0 THEN 3 ELSE 1 + n % 2 END,
       CASE WHEN n % 3 = 0 THEN 2 ELSE 1 END,
       CASE WHEN n % 3 <> 0 AND n % 5 = 0 THEN 1 END,
       1 + n % 4, 100.50, CASE WHEN n % 7 = 0 THEN 100.50 ELSE 0 END,
       (1 + n % 4) * 100.50 - CASE WHEN n % 7 = 0 THEN 100.50 ELSE 0 END,
       timestamptz '2026-03-01 00:00+05' + n * interval '97 minutes', 'S-' || n
FROM generate_series(1, 300) AS n;
"""

OLD_FIGURES = """
SELECT company_id, (sold_at AT TIME ZONE $1)::date AS day, point_id, count(*), sum(total), sum(quantity)
FROM sales GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
NEW_FIGURES = """
SELECT r.company_id, (r.sold_at AT TIME ZONE $1)::date AS day, r.point_id, count(*), sum(r.total),
       sum((SELECT sum(quantity) FROM sales l WHERE l.receipt_id = r.id))
FROM receipts r GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""


def _migrate(url: str, revision: str) -> None:
    from alembic import command

    from sauda.cli import alembic_config

    command.upgrade(alembic_config(url), revision)  # type: ignore[arg-type]


@pytest.fixture
async def scratch(settings: Settings) -> tuple[str, str]:
    """A database of its own at the revision before receipts: (SQLAlchemy URL, asyncpg DSN)."""
    url = make_url(settings.database.url)
    url = url.set(database=f"{url.database}_receipts_migration")
    rendered = url.render_as_string(False)
    await _recreate_database(rendered)
    await asyncio.to_thread(_migrate, rendered, BEFORE)
    return rendered, url.set(drivername="postgresql").render_as_string(False)


async def test_sales_become_one_line_receipts_with_the_same_figures(
    scratch: tuple[str, str], settings: Settings
) -> None:
    url, dsn = scratch
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SEED)
        await conn.execute("SELECT setval('sales_id_seq', 1000)")
        before = await conn.fetch(OLD_FIGURES, settings.timezone)
        sales_before = await conn.fetch("SELECT id, total FROM sales ORDER BY id")
    finally:
        await conn.close()

    await asyncio.to_thread(_migrate, url, "head")

    conn = await asyncpg.connect(dsn)
    try:
        assert [tuple(r) for r in await conn.fetch(NEW_FIGURES, settings.timezone)] == [
            tuple(r) for r in before
        ]
        lines = await conn.fetch("SELECT id, receipt_id, line_no, kind FROM sales ORDER BY id")
        assert [(r["id"], r["receipt_id"], r["line_no"], r["kind"]) for r in lines] == [
            (r["id"], r["id"], 1, "sale") for r in sales_before
        ]
        payments = await conn.fetch(
            "SELECT receipt_id, method, amount FROM receipt_payments ORDER BY receipt_id"
        )
        assert [(p["receipt_id"], p["method"], p["amount"]) for p in payments] == [
            (s["id"], "unknown", s["total"]) for s in sales_before if s["total"] > Decimal(0)
        ]
        for rollup in ROLLUPS:
            n = len(rollup.keys)
            query = rollup.source("true").replace(":tz", "$1")
            expected = {tuple(r[:n]): tuple(r[n:]) for r in await conn.fetch(query, settings.timezone)}
            stored = await conn.fetch(f"SELECT {', '.join(rollup.columns)} FROM {rollup.table}")  # noqa: S608
            assert {tuple(r[:n]): tuple(r[n:]) for r in stored} == expected, rollup.table
        # New receipts continue after the migrated ids.
        next_id = await conn.fetchval("SELECT nextval(pg_get_serial_sequence('receipts', 'id'))")
        assert next_id > max(s["id"] for s in sales_before)
    finally:
        await conn.close()
