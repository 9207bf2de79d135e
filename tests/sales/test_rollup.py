"""The daily rollups always equal a direct aggregation over `sales`."""

import random

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.config import Settings
from sauda.db import transaction
from sauda.sales.rollups import RollupRepository
from tests.conftest import RunWorker
from tests.factories import Factory
from tests.sales.conftest import Shop, assert_rollup_matches, make_shop, sale_json
from tests.sales.test_imports import imported, rows_for


async def test_rollup_follows_creates_updates_deletes_and_imports(
    client: httpx.AsyncClient,
    shop: Shop,
    factory: Factory,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    rng = random.Random(7)
    other = await make_shop(factory, sessionmaker)
    ids: list[tuple[Shop, int]] = []
    for n in range(30):
        owner = shop if n % 3 else other
        response = await sale_json(
            client,
            owner,
            point_id=rng.choice(owner.points).id,
            product_id=rng.choice(owner.products).id,
            quantity=str(rng.randint(1, 5)),
            unit_price=f"{rng.randint(100, 99999) / 100:.2f}",
            discount="0",
            # Around midnight in Almaty, over a month boundary.
            sold_at=f"2026-03-31T{rng.choice(['18', '19', '20'])}:{rng.randint(0, 59):02}:00Z",
        )
        assert response.status_code == 201, response.text
        ids.append((owner, response.json()["id"]))
    assert await assert_rollup_matches(sessionmaker, settings) == 30

    for owner, sale_id in ids[:10]:
        change = {
            "quantity": str(rng.randint(1, 9)),
            "sold_at": "2026-04-02T03:00:00+05:00",
            "point_id": owner.points[1].id,
            "product_id": owner.products[1].id,
        }
        response = await client.patch(f"/api/v1/sales/{sale_id}", json=change, headers=owner.headers)
        assert response.status_code == 200, response.text
    assert await assert_rollup_matches(sessionmaker, settings) == 30

    for owner, sale_id in ids[10:20]:
        assert (await client.delete(f"/api/v1/sales/{sale_id}", headers=owner.headers)).status_code == 204
    assert await assert_rollup_matches(sessionmaker, settings) == 20

    content = rows_for(shop, *[f"R-{n},2026-03-31 23:{n:02}:00,{{p}},{{q}},1,10.00,," for n in range(40)])
    assert (await imported(client, shop, run_worker, content))["rows_inserted"] == 40
    assert (await imported(client, shop, run_worker, content))["rows_duplicate"] == 40
    assert await assert_rollup_matches(sessionmaker, settings) == 60


async def test_rebuild_restores_a_damaged_rollup(
    client: httpx.AsyncClient, shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    from sqlalchemy import text

    for day in ("2026-03-30", "2026-03-31"):
        assert (await sale_json(client, shop, sold_at=f"{day}T23:30:00+05:00")).status_code == 201
    async with transaction(sessionmaker) as session:
        await session.execute(text("UPDATE sales_daily_points SET revenue = 0"))
        await session.execute(text("DELETE FROM sales_daily_products"))
    with pytest.raises(AssertionError, match="differs"):
        await assert_rollup_matches(sessionmaker, settings)
    async with transaction(sessionmaker) as session:
        await RollupRepository(session, settings.tz).rebuild(shop.company.id)
    assert await assert_rollup_matches(sessionmaker, settings) == 2
