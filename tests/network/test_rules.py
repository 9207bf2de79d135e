"""Small rules of the network: no supplier switch while in debt, case-insensitive place filters,
no release dates in the future, and the companies whose debt is above the average."""

from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.network.models import Company
from sauda.network.repository import CompanyRepository
from sauda.network.schemas import CompanyOrdering
from sauda.tenancy import Scope
from tests.conftest import FixedClock
from tests.factories import Factory


async def _supplier_and_level(sessionmaker: async_sessionmaker[AsyncSession], company: Company) -> tuple:
    async with sessionmaker() as session:
        row = (
            await session.execute(
                select(Company.supplier_id, Company.level, Company.debt).where(Company.id == company.id)
            )
        ).one()
    return tuple(row)


# --- no supplier switch while the company owes its supplier ---------------------------------


async def test_company_in_debt_cannot_switch_or_leave_its_supplier(
    client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    old, new = await factory.company(), await factory.company()
    company = await factory.company(supplier=old, debt="150.00")
    headers = await factory.headers(await factory.admin())
    for supplier_id in (new.id, None):
        response = await client.patch(
            f"/api/v1/companies/{company.id}", json={"supplier_id": supplier_id}, headers=headers
        )
        assert response.status_code == 409, response.text
        body = response.json()
        assert body["error"] == "debt_outstanding"
        assert "150.00" in body["detail"]
        assert "clear the debt" in body["detail"]
        assert body["fields"][0]["field"] == "supplier_id"
    assert await _supplier_and_level(sessionmaker, company) == (old.id, 1, Decimal("150.00"))


async def test_supplier_switch_is_allowed_once_the_debt_is_cleared(
    client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    old, new = await factory.company(), await factory.company()
    company = await factory.company(supplier=old, debt="0.01")
    headers = await factory.headers(await factory.admin())
    switch = {"supplier_id": new.id}
    url = f"/api/v1/companies/{company.id}"
    assert (await client.patch(url, json=switch, headers=headers)).status_code == 409
    cleared = await client.post(
        "/api/v1/companies/clear-debt", json={"company_ids": [company.id]}, headers=headers
    )
    assert cleared.json() == {"status": "done", "cleared": 1, "job_id": None}
    assert (await client.patch(url, json=switch, headers=headers)).status_code == 200
    assert await _supplier_and_level(sessionmaker, company) == (new.id, 1, Decimal("0.00"))


async def test_same_supplier_new_supplier_and_no_debt_are_fine(
    client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    root, other = await factory.company(), await factory.company()
    indebted = await factory.company(supplier=root, debt="75.50")
    debt_free = await factory.company(supplier=root, debt="0.00")
    # Owing with no supplier (left over from before the rule) does not stop taking one.
    orphan = await factory.company(kind="dealer_center", debt="20.00")
    headers = await factory.headers(await factory.admin())
    for company, change in (
        (indebted, {"supplier_id": root.id, "kind": "dealer_center"}),
        (debt_free, {"supplier_id": other.id}),
        (orphan, {"supplier_id": other.id}),
    ):
        response = await client.patch(f"/api/v1/companies/{company.id}", json=change, headers=headers)
        assert response.status_code == 200, response.text
    assert await _supplier_and_level(sessionmaker, indebted) == (root.id, 1, Decimal("75.50"))
    assert await _supplier_and_level(sessionmaker, debt_free) == (other.id, 1, Decimal("0.00"))
    assert await _supplier_and_level(sessionmaker, orphan) == (other.id, 1, Decimal("20.00"))


# --- the place filters ignore case -----------------------------------------------------------


async def test_city_and_country_filters_ignore_case_but_stay_exact(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    await factory.company(name="Алматинский завод", city="Алматы")
    await factory.company(name="Московский завод", city="Москва", country="Россия")
    await factory.company(name="Алма-Атинский склад", city="Алма-Ата")
    headers = await factory.headers(await factory.admin())

    async def names(**params: str) -> list[str]:
        response = await client.get("/api/v1/companies", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [c["name"] for c in response.json()["items"]]

    for city in ("алматы", "АЛМАТЫ", "Алматы"):
        assert await names(city=city) == ["Алматинский завод"]
    assert await names(country="россия") == ["Московский завод"]
    assert await names(country="КАЗАХСТАН", city="алма-ата") == ["Алма-Атинский склад"]
    assert await names(city="алма") == []  # equality, not a substring


# --- release dates lie in the past -----------------------------------------------------------


async def test_release_date_may_be_today_in_almaty_but_not_later(
    client: httpx.AsyncClient, factory: Factory, fixed_clock: FixedClock
) -> None:
    company = await factory.company()
    headers = await factory.headers(await factory.user(company))
    data = {"name": "Ноутбук", "model": "X1", "sku": "NB-X1"}
    # 20:30 UTC on 1 March is 2 March in Almaty: "today" is the business day, not UTC's.
    future = await client.post(
        "/api/v1/products", json=data | {"release_date": "2026-03-03"}, headers=headers
    )
    assert future.status_code == 422
    assert future.json()["fields"] == [
        {"field": "release_date", "message": "must not be in the future (today is 2026-03-02)"}
    ]
    today = await client.post("/api/v1/products", json=data | {"release_date": "2026-03-02"}, headers=headers)
    assert today.status_code == 201, today.text
    url = f"/api/v1/products/{today.json()['id']}"
    later = await client.patch(url, json={"release_date": "2026-03-03"}, headers=headers)
    assert later.status_code == 422
    assert later.json()["fields"][0]["field"] == "release_date"
    fixed_clock.at = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)  # midnight has passed in Almaty
    moved = await client.patch(url, json={"release_date": "2026-03-03"}, headers=headers)
    assert moved.status_code == 200, moved.text
    assert moved.json()["release_date"] == "2026-03-03"


async def test_other_product_changes_do_not_recheck_the_release_date(
    client: httpx.AsyncClient, factory: Factory, fixed_clock: FixedClock
) -> None:
    company = await factory.company()
    product = await factory.product(company, release_date=date(2026, 3, 5))
    headers = await factory.headers(await factory.user(company))
    response = await client.patch(f"/api/v1/products/{product.id}", json={"model": "X2"}, headers=headers)
    assert response.status_code == 200, response.text


# --- debt above the average ------------------------------------------------------------------


async def _network(factory: Factory) -> dict[str, Company]:
    """Debts 0, 100, 250, 400 and 500: the average over all five is 250."""
    root = await factory.company(name="Завод")
    debts = {"Альфа": "100.00", "Бета": "250.00", "Гамма": "400.00", "Дельта": "500.00"}
    companies = {
        name: await factory.company(name=name, supplier=root, debt=debt) for name, debt in debts.items()
    }
    return {"Завод": root} | companies


async def test_admin_sees_companies_owing_more_than_the_average_of_all(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    await _network(factory)
    headers = await factory.headers(await factory.admin())
    url = "/api/v1/companies/stats/debt-above-average"
    body = (await client.get(url, headers=headers)).json()
    # Бета owes exactly the average (250.00): not above it.
    assert [(c["name"], c["debt"]) for c in body["items"]] == [("Дельта", 500.0), ("Гамма", 400.0)]
    assert set(body["items"][0]) == {
        "id",
        "name",
        "kind",
        "email",
        "country",
        "city",
        "street",
        "house_number",
        "supplier_id",
        "level",
        "debt",
        "created_at",
    }
    page = (await client.get(url, params={"limit": 1, "page": 2, "ordering": "name"}, headers=headers)).json()
    assert (page["total"], page["pages"], [c["name"] for c in page["items"]]) == (2, 2, ["Дельта"])


async def test_employee_average_is_over_their_own_company_only(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    network = await _network(factory)
    headers = await factory.headers(await factory.user(network["Дельта"]))
    response = await client.get("/api/v1/companies/stats/debt-above-average", headers=headers)
    assert response.status_code == 200
    # Дельта is above everyone's average, but not above its own: the employee sees no company.
    assert response.json()["total"] == 0


async def test_average_follows_the_scope(
    factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    network = await _network(factory)

    async def above(*names: str) -> list[str]:
        scope = Scope(company_ids=frozenset(network[n].id for n in names))
        async with sessionmaker() as session:
            companies = CompanyRepository(session, scope)
            found = await companies.all(companies.debt_above_average(CompanyOrdering.name))
        return [c.name for c in found]

    assert await above("Альфа", "Гамма") == ["Гамма"]  # average 250
    assert await above("Альфа", "Завод") == ["Альфа"]  # average 50
    assert await above("Альфа", "Бета", "Завод") == ["Бета"]  # average 116.67
    assert await above("Бета", "Гамма", "Дельта") == ["Гамма", "Дельта"]  # average 383.33
