"""Every path that writes feeds the change log: a bulk sales import (COPY + INSERT in the worker)
shows up in the 1C change feed like any API write."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import RunWorker
from tests.exchange.conftest import make_onec
from tests.factories import Factory
from tests.sales.conftest import make_shop
from tests.sales.test_imports import HEADER, imported

ROWS = 300


async def test_a_bulk_import_shows_up_in_the_change_feed(
    client: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_worker: RunWorker,
) -> None:
    shop = await make_shop(factory, sessionmaker)
    setup = await make_onec(client, factory, shop.company)
    mirror: dict[int, dict] = {}
    await setup.onec.sync("sales", mirror)
    assert mirror == {}

    point, product = shop.points[0].code, shop.products[0].sku
    lines = [f"IMP-{n},2026-03-01 10:00,{point},{product},2,{n}.50,,\n" for n in range(ROWS)]
    body = await imported(client, shop, run_worker, (HEADER + "".join(lines)).encode())
    assert body["status"] == "succeeded", body

    assert await setup.onec.sync("sales", mirror, limit=100) == 3
    assert sorted(item["external_id"] for item in mirror.values()) == sorted(f"IMP-{n}" for n in range(ROWS))
    assert mirror == {item["id"]: item for item in await setup.onec.full_load("sales")}
