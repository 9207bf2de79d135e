"""Writers committing in random order while 1C pulls: at the end 1C holds exactly what the
database holds. A plain sequence cursor would skip rows whose transaction committed late."""

import asyncio
import random
from datetime import date

from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.network.models import Product
from tests.exchange.conftest import OneCSetup
from tests.factories import Factory

WRITERS = 12
ROUNDS = 6


async def _round(
    sessionmaker: async_sessionmaker[AsyncSession],
    company_id: int,
    rng: random.Random,
    name: str,
    ids: list[int],
) -> int | None:
    """One writer transaction: a new product, maybe an edit and a delete, held open for a while
    so that later writers commit first; one in ten rolls back. Returns the new id if committed."""
    async with sessionmaker() as session, session.begin():
        product = Product(
            company_id=company_id, name=name, model="M", sku=name, release_date=date(2025, 1, 1)
        )
        session.add(product)
        await session.flush()
        if ids and rng.random() < 0.5:
            await session.execute(update(Product).where(Product.id == rng.choice(ids)).values(model=name))
        if ids and rng.random() < 0.2:
            await session.execute(delete(Product).where(Product.id == ids.pop(rng.randrange(len(ids)))))
        # Not waiting for time to pass: holds the transaction open so writers commit out of order.
        await asyncio.sleep(rng.uniform(0, 0.08))
        if rng.random() < 0.1:
            await session.rollback()
            return None
    return product.id


async def _writer(
    sessionmaker: async_sessionmaker[AsyncSession], company_id: int, seed: int, ids: list[int]
) -> None:
    rng = random.Random(seed)
    for round_ in range(ROUNDS):
        try:
            new_id = await _round(sessionmaker, company_id, rng, f"W{seed}-{round_}", ids)
        except DBAPIError:  # two writers editing each other's rows can deadlock: one rolls back
            continue
        if new_id is not None:
            ids.append(new_id)


async def test_no_change_is_lost_when_writers_commit_out_of_order(
    onec_setup: OneCSetup, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    for _ in range(10):
        await factory.product(onec_setup.company)
    ids: list[int] = []
    mirror: dict[int, dict] = {}
    writers = asyncio.gather(
        *(_writer(sessionmaker, onec_setup.company.id, seed, ids) for seed in range(WRITERS))
    )
    pulls = 0
    while not writers.done():
        pulls += await onec_setup.onec.sync("products", mirror, limit=7)
        await asyncio.sleep(0.01)  # lets the writers run between two pulls
    await writers
    await onec_setup.onec.sync("products", mirror, limit=7)

    truth = {item["id"]: item for item in await onec_setup.onec.full_load("products")}
    assert pulls > 3  # the client really pulled while the writers were busy
    assert len(truth) > 10
    assert mirror == truth
