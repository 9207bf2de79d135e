"""Sales fixtures: a shop (company, employee, two points, two products, a customer)."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.auth.models import User
from sauda.config import Settings
from sauda.db import transaction
from sauda.network.models import Company, Product
from sauda.sales import service
from sauda.sales.models import Customer, Point, Sale
from sauda.sales.schemas import SaleCreate
from sauda.tenancy import Scope
from tests.factories import Factory


@dataclass
class Shop:
    company: Company
    employee: User
    headers: dict[str, str]
    points: list[Point]
    products: list[Product]
    customer: Customer


async def make_shop(factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]) -> Shop:
    company = await factory.company()
    employee = await factory.user(company)
    products = [await factory.product(company) for _ in range(2)]
    async with transaction(sessionmaker) as session:
        points = [
            Point(company_id=company.id, code=f"P{company.id}-{n}", name=f"Магазин {n}", city="Алматы")
            for n in (1, 2)
        ]
        customer = Customer(company_id=company.id, name="Айгуль", external_id=f"C{company.id}")
        session.add_all([*points, customer])
    return Shop(company, employee, await factory.headers(employee), points, products, customer)


@pytest.fixture
async def shop(factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]) -> Shop:
    return await make_shop(factory, sessionmaker)


async def add_sale(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, shop: Shop, **values: Any
) -> Sale:
    data: dict[str, Any] = {
        "point_id": shop.points[0].id,
        "product_id": shop.products[0].id,
        "quantity": Decimal("1"),
        "unit_price": Decimal("1000.00"),
        "sold_at": "2026-03-10T12:00:00+05:00",
    } | values
    async with transaction(sessionmaker) as session:
        return await service.create_sale(session, Scope.everything(), SaleCreate(**data), settings.tz)


async def assert_rollup_matches(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """Every rollup equals its aggregate computed afresh over the receipts; returns the number of
    sale lines."""
    from sqlalchemy import text

    from sauda.sales.rollups import ROLLUPS

    async with sessionmaker() as session:
        for rollup in ROLLUPS:
            direct = await session.execute(text(rollup.source("true")), {"tz": settings.timezone})
            n = len(rollup.keys)
            expected = {tuple(r[:n]): tuple(r[n:]) for r in direct if any(r[n:])}
            columns = ", ".join(rollup.columns)
            stored = await session.execute(text(f"SELECT {columns} FROM {rollup.table}"))  # noqa: S608
            actual = {tuple(r[:n]): tuple(r[n:]) for r in stored}
            assert actual == expected, f"{rollup.table} differs from sales"
        return int(await session.scalar(select(func.count()).select_from(Sale)) or 0)


async def sale_json(client: httpx.AsyncClient, shop: Shop, **values: Any) -> httpx.Response:
    body = {
        "point_id": shop.points[0].id,
        "product_id": shop.products[0].id,
        "quantity": "2",
        "unit_price": "1500.50",
        "discount": "1.00",
        "sold_at": "2026-03-10T12:00:00+05:00",
    } | values
    return await client.post("/api/v1/sales", json=body, headers=shop.headers)
