from decimal import Decimal

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.network.models import Company, DebtEntry, DebtReason
from tests.conftest import RunWorker
from tests.factories import Factory


async def _debts(sessionmaker: async_sessionmaker[AsyncSession], ids: list[int]) -> list[Decimal]:
    async with sessionmaker() as session:
        rows = await session.execute(select(Company.id, Company.debt).where(Company.id.in_(ids)))
        by_id = {row.id: row.debt for row in rows}
    return [by_id[i] for i in ids]


async def test_up_to_twenty_are_cleared_in_the_request(
    client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    root = await factory.company()
    chosen = [await factory.company(supplier=root, debt="150.75") for _ in range(20)]
    spared = await factory.company(supplier=root, debt="99.99")
    headers = await factory.headers(await factory.admin())
    ids = [c.id for c in chosen]
    response = await client.post("/api/v1/companies/clear-debt", json={"company_ids": ids}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "done", "cleared": 20, "job_id": None}
    assert await _debts(sessionmaker, ids) == [Decimal("0.00")] * 20
    assert await _debts(sessionmaker, [spared.id]) == [Decimal("99.99")]
    async with sessionmaker() as session:
        ledger = (await session.scalars(select(DebtEntry))).all()
    assert {e.company_id for e in ledger} == set(ids)
    assert all(e.reason is DebtReason.cleared and e.amount == Decimal("-150.75") for e in ledger)


async def test_more_than_twenty_go_to_the_worker(
    client: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_worker: RunWorker,
) -> None:
    root = await factory.company()
    chosen = [await factory.company(supplier=root, debt="10.00") for _ in range(21)]
    admin = await factory.admin()
    headers = await factory.headers(admin)
    ids = [c.id for c in chosen]
    response = await client.post("/api/v1/companies/clear-debt", json={"company_ids": ids}, headers=headers)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert await _debts(sessionmaker, ids) == [Decimal("10.00")] * 21  # not yet: the worker does it
    await run_worker()
    job = (await client.get(f"/api/v1/jobs/{job_id}", headers=headers)).json()
    assert job["status"] == "succeeded"
    assert job["result"]["companies"] == 21
    assert await _debts(sessionmaker, ids) == [Decimal("0.00")] * 21


async def test_clear_debt_is_for_admins_and_validates_ids(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    company = await factory.company()
    employee_headers = await factory.headers(await factory.user(company))
    body = {"company_ids": [company.id]}
    assert (
        await client.post("/api/v1/companies/clear-debt", json=body, headers=employee_headers)
    ).status_code == 403
    admin_headers = await factory.headers(await factory.admin())
    empty = await client.post("/api/v1/companies/clear-debt", json={"company_ids": []}, headers=admin_headers)
    assert empty.status_code == 422
    assert empty.json()["fields"][0]["field"] == "company_ids"
    wrong = await client.post(
        "/api/v1/companies/clear-debt", json={"company_ids": ["x"]}, headers=admin_headers
    )
    assert wrong.json()["fields"][0]["field"] == "company_ids.0"


async def test_ledger_explains_the_balance(client: httpx.AsyncClient, factory: Factory) -> None:
    root = await factory.company()
    company = await factory.company(supplier=root, debt="42.00")
    headers = await factory.headers(await factory.admin())
    await client.post("/api/v1/companies/clear-debt", json={"company_ids": [company.id]}, headers=headers)
    ledger = (await client.get(f"/api/v1/companies/{company.id}/debt-ledger", headers=headers)).json()
    assert ledger["total"] == 1
    entry = ledger["items"][0]
    assert (entry["amount"], entry["balance_after"], entry["reason"]) == (-42.0, 0.0, "cleared")
