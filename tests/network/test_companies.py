from decimal import Decimal

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.network.models import Company
from tests.factories import Factory

COMPANY = {
    "name": "ТОО Электроника",
    "kind": "distributor",
    "email": "sales@electronics.kz",
    "country": "Казахстан",
    "city": "Астана",
    "street": "улица Кенесары",
    "house_number": "40",
}


async def _levels(sessionmaker: async_sessionmaker[AsyncSession], *ids: int) -> list[int]:
    async with sessionmaker() as session:
        rows = await session.execute(select(Company.id, Company.level).where(Company.id.in_(ids)))
        by_id = {row.id: row.level for row in rows}
    return [by_id[i] for i in ids]


async def test_admin_creates_company_with_level_from_supplier(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    chain = await factory.chain(2)
    headers = await factory.headers(await factory.admin())
    response = await client.post(
        "/api/v1/companies", json=COMPANY | {"supplier_id": chain[1].id}, headers=headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["level"] == 2
    assert body["debt"] == 0
    assert body["supplier_id"] == chain[1].id
    assert body["created_at"]


async def test_factory_cannot_have_a_supplier(client: httpx.AsyncClient, factory: Factory) -> None:
    root = await factory.company()
    headers = await factory.headers(await factory.admin())
    data = COMPANY | {"kind": "factory", "supplier_id": root.id}
    response = await client.post("/api/v1/companies", json=data, headers=headers)
    assert response.status_code == 422
    assert response.json()["fields"] == [{"field": "supplier_id", "message": "a factory has no supplier"}]


async def test_sixth_level_is_refused(client: httpx.AsyncClient, factory: Factory) -> None:
    chain = await factory.chain(5)
    headers = await factory.headers(await factory.admin())
    response = await client.post(
        "/api/v1/companies", json=COMPANY | {"supplier_id": chain[-1].id}, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "supplier_id"
    assert "level 5" in response.json()["detail"]


async def test_cycle_is_refused(client: httpx.AsyncClient, factory: Factory) -> None:
    top = await factory.company(kind="distributor")
    middle = await factory.company(supplier=top)
    bottom = await factory.company(supplier=middle)
    headers = await factory.headers(await factory.admin())
    for supplier in (bottom, top):
        response = await client.patch(
            f"/api/v1/companies/{top.id}", json={"supplier_id": supplier.id}, headers=headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["fields"][0]["field"] == "supplier_id"


async def test_moving_a_company_relevels_its_subtree(
    client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    left = await factory.chain(3)
    right_root = await factory.company(kind="distributor")
    right_child = await factory.company(supplier=right_root)
    headers = await factory.headers(await factory.admin())
    response = await client.patch(
        f"/api/v1/companies/{right_root.id}", json={"supplier_id": left[1].id}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["level"] == 2
    assert await _levels(sessionmaker, right_root.id, right_child.id) == [2, 3]
    detach = await client.patch(
        f"/api/v1/companies/{right_root.id}", json={"supplier_id": None}, headers=headers
    )
    assert detach.json()["level"] == 0
    assert await _levels(sessionmaker, right_root.id, right_child.id) == [0, 1]


async def test_move_that_would_push_the_subtree_too_deep_changes_nothing(
    client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    deep = await factory.chain(4)
    branch = await factory.chain(3)  # levels 0, 1, 2; the branch root is a factory
    mover = branch[1]
    headers = await factory.headers(await factory.admin())
    response = await client.patch(
        f"/api/v1/companies/{mover.id}", json={"supplier_id": deep[3].id}, headers=headers
    )
    assert response.status_code == 422
    assert "level 5" in response.json()["detail"]
    assert await _levels(sessionmaker, mover.id, branch[2].id) == [1, 2]


async def test_company_supplying_others_cannot_be_deleted(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    root, child = await factory.chain(2)
    headers = await factory.headers(await factory.admin())
    refused = await client.delete(f"/api/v1/companies/{root.id}", headers=headers)
    assert refused.status_code == 409
    assert "supplies 1" in refused.json()["detail"]
    assert (await client.delete(f"/api/v1/companies/{child.id}", headers=headers)).status_code == 204
    assert (await client.delete(f"/api/v1/companies/{root.id}", headers=headers)).status_code == 204


async def test_company_with_employees_cannot_be_deleted(client: httpx.AsyncClient, factory: Factory) -> None:
    company = await factory.company()
    await factory.user(company)
    headers = await factory.headers(await factory.admin())
    response = await client.delete(f"/api/v1/companies/{company.id}", headers=headers)
    assert response.status_code == 409
    assert "employees" in response.json()["detail"]


async def test_debt_is_read_only(client: httpx.AsyncClient, factory: Factory) -> None:
    _, child = await factory.chain(2)
    headers = await factory.headers(await factory.admin())
    patch = await client.patch(f"/api/v1/companies/{child.id}", json={"debt": "0.00"}, headers=headers)
    create = await client.post("/api/v1/companies", json=COMPANY | {"debt": 10}, headers=headers)
    for response in (patch, create):
        assert response.status_code == 422
        field = response.json()["fields"][0]
        assert field["field"] == "debt"
        assert "read-only" in field["message"]


async def test_debt_keeps_kopecks(client: httpx.AsyncClient, factory: Factory) -> None:
    root = await factory.company()
    child = await factory.company(supplier=root, debt="1234.05")
    headers = await factory.headers(await factory.admin())
    body = (await client.get(f"/api/v1/companies/{child.id}", headers=headers)).json()
    assert Decimal(str(body["debt"])) == Decimal("1234.05")


async def test_employee_edits_contacts_but_not_the_supplier(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    _, company = await factory.chain(2)
    employee = await factory.user(company)
    headers = await factory.headers(employee)
    ok = await client.patch(f"/api/v1/companies/{company.id}", json={"city": "Шымкент"}, headers=headers)
    assert ok.status_code == 200
    assert ok.json()["city"] == "Шымкент"
    refused = await client.patch(
        f"/api/v1/companies/{company.id}", json={"supplier_id": None}, headers=headers
    )
    assert refused.status_code == 403
    assert refused.json()["fields"][0]["field"] == "supplier_id"
    create = await client.post("/api/v1/companies", json=COMPANY, headers=headers)
    assert create.status_code == 403


async def test_null_for_required_field_is_422(client: httpx.AsyncClient, factory: Factory) -> None:
    company = await factory.company()
    headers = await factory.headers(await factory.admin())
    response = await client.patch(f"/api/v1/companies/{company.id}", json={"name": None}, headers=headers)
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "name"


async def test_list_filters_search_order_and_paginate(client: httpx.AsyncClient, factory: Factory) -> None:
    factory_a = await factory.company(name="Завод Альфа", city="Караганда")
    await factory.company(name="Дистрибьютор Бета", supplier=factory_a, city="Караганда")
    await factory.company(name="Гамма", supplier=factory_a, city="Москва", country="Россия")
    headers = await factory.headers(await factory.admin())

    async def names(**params: object) -> list[str]:
        response = await client.get("/api/v1/companies", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [c["name"] for c in response.json()["items"]]

    assert await names(city="Караганда") == ["Дистрибьютор Бета", "Завод Альфа"]
    assert await names(country="Россия") == ["Гамма"]
    assert await names(kind="factory") == ["Завод Альфа"]
    assert await names(level=1, ordering="-name") == ["Дистрибьютор Бета", "Гамма"]
    assert await names(search="бета") == ["Дистрибьютор Бета"]
    assert await names(search="%") == []
    page = (await client.get("/api/v1/companies", params={"limit": 2, "page": 2}, headers=headers)).json()
    assert (page["total"], page["pages"], len(page["items"])) == (3, 2, 1)
    bad = await client.get("/api/v1/companies", params={"level": 7, "ordering": "salary"}, headers=headers)
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["fields"]} == {"level", "ordering"}


async def test_employee_sees_only_own_company(client: httpx.AsyncClient, factory: Factory) -> None:
    root, mine = await factory.chain(2)
    headers = await factory.headers(await factory.user(mine))
    body = (await client.get("/api/v1/companies", headers=headers)).json()
    assert [c["id"] for c in body["items"]] == [mine.id]
    assert body["total"] == 1
    assert (await client.get(f"/api/v1/companies/{root.id}", headers=headers)).status_code == 404


async def test_employee_without_company_sees_nothing(client: httpx.AsyncClient, factory: Factory) -> None:
    await factory.company()
    headers = await factory.headers(await factory.user(None))
    assert (await client.get("/api/v1/companies", headers=headers)).json()["total"] == 0


async def test_employees_and_products_of_a_company(client: httpx.AsyncClient, factory: Factory) -> None:
    company = await factory.company()
    employee = await factory.user(company)
    await factory.product(company, name="Смартфон")
    headers = await factory.headers(employee)
    employees = (await client.get(f"/api/v1/companies/{company.id}/employees", headers=headers)).json()
    assert [e["email"] for e in employees["items"]] == [employee.email]
    products = (await client.get(f"/api/v1/companies/{company.id}/products", headers=headers)).json()
    assert [p["name"] for p in products["items"]] == ["Смартфон"]


async def test_products_crud_scoped_to_own_company(
    client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    company = await factory.company()
    headers = await factory.headers(await factory.user(company))
    data = {"name": "Ноутбук", "model": "X1", "release_date": "2025-03-01", "sku": "NB-X1"}
    created = await client.post("/api/v1/products", json=data, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["company_id"] == company.id
    product_id = created.json()["id"]
    duplicate = await client.post("/api/v1/products", json=data, headers=headers)
    assert duplicate.status_code == 409
    assert duplicate.json()["fields"][0]["field"] == "sku"
    patched = await client.patch(f"/api/v1/products/{product_id}", json={"model": "X2"}, headers=headers)
    assert patched.json()["model"] == "X2"
    moved = await client.patch(f"/api/v1/products/{product_id}", json={"company_id": 1}, headers=headers)
    assert moved.status_code == 422
    bad_date = await client.post(
        "/api/v1/products", json=data | {"release_date": "31.02.2025"}, headers=headers
    )
    assert bad_date.status_code == 422
    assert bad_date.json()["fields"][0]["field"] == "release_date"
    assert (await client.delete(f"/api/v1/products/{product_id}", headers=headers)).status_code == 204
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Company)) == 1


async def test_employee_cannot_add_products_to_another_company(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    mine, other = await factory.company(), await factory.company()
    headers = await factory.headers(await factory.user(mine))
    data = {
        "name": "Ноутбук",
        "model": "X1",
        "release_date": "2025-03-01",
        "sku": "NB-1",
        "company_id": other.id,
    }
    response = await client.post("/api/v1/products", json=data, headers=headers)
    assert response.status_code == 404
