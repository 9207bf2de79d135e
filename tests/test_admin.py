"""The admin panel over HTTP: who may log in, the company views, and the clear-debt action."""

from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.auth.models import Role, User
from sauda.jobs.models import Job, JobStatus
from sauda.network.models import Company, DebtEntry, DebtReason, Product
from tests.conftest import FixedClock, RunWorker
from tests.factories import PASSWORD, Factory

CLEAR_DEBT = "/admin/company/action/clear-debt"


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/admin/login", data={"username": email, "password": password})


@pytest.fixture
async def admin(factory: Factory) -> User:
    return await factory.admin()


@pytest.fixture
async def admin_client(client: httpx.AsyncClient, admin: User) -> httpx.AsyncClient:
    response = await login(client, admin.email)
    assert response.status_code == 302
    return client


async def debtors(
    factory: Factory, count: int, *, city: str = "Алматы", debt: str = "150.00"
) -> list[Company]:
    supplier = await factory.company(name=f"Завод {city}", city=city)
    return [
        await factory.company(supplier=supplier, debt=debt, city=city, name=f"Дилер {city} {n:02}")
        for n in range(count)
    ]


async def debts(sessionmaker: async_sessionmaker[AsyncSession], companies: list[Company]) -> list[Decimal]:
    async with sessionmaker() as session:
        by_id = dict((await session.execute(select(Company.id, Company.debt))).all())
    return [by_id[c.id] for c in companies]


async def ledger(sessionmaker: async_sessionmaker[AsyncSession]) -> list[DebtEntry]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(DebtEntry).order_by(DebtEntry.company_id))).all())


def ids(companies: list[Company]) -> str:
    return ",".join(str(c.id) for c in companies)


# --- login -------------------------------------------------------------------------------


async def test_admin_logs_in_and_sees_the_panel(admin_client: httpx.AsyncClient) -> None:
    response = await admin_client.get("/admin/")
    assert response.status_code == 200
    assert "Sauda admin" in response.text


async def test_employee_cannot_log_in(client: httpx.AsyncClient, factory: Factory) -> None:
    employee = await factory.user(await factory.company())
    response = await login(client, employee.email)
    assert response.status_code == 400
    assert "Invalid credentials" in response.text
    assert (await client.get("/admin/company/list")).status_code == 302


async def test_wrong_password_is_refused(client: httpx.AsyncClient, admin: User) -> None:
    assert (await login(client, admin.email, "wrong-password-123")).status_code == 400
    assert (await client.get("/admin/")).headers["location"].endswith("/admin/login")


async def test_failed_logins_are_limited_like_the_api(
    client: httpx.AsyncClient, admin: User, factory: Factory
) -> None:
    for _ in range(factory.settings.auth.login_max_failures_per_account):
        assert (await login(client, admin.email, "wrong-password-123")).status_code == 400
    response = await login(client, admin.email)
    assert response.status_code == 429


@pytest.mark.parametrize("change", [{"is_active": False}, {"role": Role.employee}])
async def test_session_ends_when_admin_is_deactivated_or_demoted(
    admin_client: httpx.AsyncClient,
    admin: User,
    sessionmaker: async_sessionmaker[AsyncSession],
    change: dict[str, Any],
) -> None:
    assert (await admin_client.get("/admin/company/list")).status_code == 200
    async with sessionmaker() as session, session.begin():
        await session.execute(update(User).where(User.id == admin.id).values(**change))
    response = await admin_client.get("/admin/company/list")
    assert response.status_code == 302
    assert response.headers["location"].endswith("/admin/login")


async def test_session_ends_when_admin_is_deleted(
    admin_client: httpx.AsyncClient, admin: User, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session, session.begin():
        await session.delete(await session.get(User, admin.id))
    assert (await admin_client.get("/admin/")).status_code == 302


# --- company views -----------------------------------------------------------------------


async def test_company_list_shows_supplier_linked_and_filters_by_city(
    admin_client: httpx.AsyncClient, factory: Factory
) -> None:
    almaty = await debtors(factory, 2, city="Алматы")
    astana = await debtors(factory, 1, city="Астана")
    response = await admin_client.get("/admin/company/list", params={"city": "Астана"})
    assert response.status_code == 200
    assert astana[0].name in response.text
    assert all(c.name not in response.text for c in almaty)
    assert f'/admin/company/details/{astana[0].supplier_id}">Завод Астана</a>' in response.text


@pytest.mark.parametrize("sort_by", ["name", "city", "debt", "level", "created_at", "kind", "id"])
async def test_company_list_sorts(admin_client: httpx.AsyncClient, factory: Factory, sort_by: str) -> None:
    await debtors(factory, 2)
    response = await admin_client.get("/admin/company/list", params={"sortBy": sort_by, "sort": "desc"})
    assert response.status_code == 200


async def test_company_list_searches_by_name(admin_client: httpx.AsyncClient, factory: Factory) -> None:
    companies = await debtors(factory, 2)
    response = await admin_client.get("/admin/company/list", params={"search": companies[1].name})
    assert companies[1].name in response.text
    assert companies[0].name not in response.text


async def test_company_details_and_edit_pages_render(
    admin_client: httpx.AsyncClient, factory: Factory
) -> None:
    company = (await debtors(factory, 1))[0]
    details = await admin_client.get(f"/admin/company/details/{company.id}")
    assert details.status_code == 200
    assert "Завод Алматы" in details.text
    edit = await admin_client.get(f"/admin/company/edit/{company.id}")
    assert edit.status_code == 200
    assert 'name="name"' in edit.text
    for read_only in ("debt", "level", "created_at"):
        assert f'name="{read_only}"' not in edit.text


def company_form(company: Company, **changes: str) -> dict[str, str]:
    return {
        "name": company.name,
        "kind": company.kind.value,
        "email": company.email,
        "country": company.country,
        "city": company.city,
        "street": company.street,
        "house_number": company.house_number,
        "supplier": str(company.supplier_id) if company.supplier_id else "__None",
        "save": "Save",
    } | changes


async def test_company_edit_ignores_debt_and_level(
    admin_client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    company = (await debtors(factory, 1))[0]
    form = company_form(company, name="Новое имя", debt="0", level="3", created_at="2000-01-01")
    response = await admin_client.post(f"/admin/company/edit/{company.id}", data=form)
    assert response.status_code == 302
    async with sessionmaker() as session:
        stored = await session.get(Company, company.id)
    assert stored is not None
    assert (stored.name, stored.debt, stored.level) == ("Новое имя", Decimal("150.00"), 1)
    assert stored.created_at == company.created_at


async def test_company_supplier_change_goes_through_the_service(
    admin_client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    top, middle, bottom = await factory.chain(3)
    form = company_form(middle, supplier=str(bottom.id))
    response = await admin_client.post(f"/admin/company/edit/{middle.id}", data=form)
    assert response.status_code == 400
    assert "a cycle" in response.text
    async with sessionmaker() as session:
        stored = await session.get(Company, middle.id)
    assert stored is not None
    assert (stored.supplier_id, stored.level) == (top.id, 1)


async def test_company_in_debt_keeps_its_supplier_in_the_form_too(
    admin_client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    company = (await debtors(factory, 1))[0]
    other = await factory.company(name="Другой завод")
    response = await admin_client.post(
        f"/admin/company/edit/{company.id}", data=company_form(company, supplier=str(other.id))
    )
    assert response.status_code == 400
    assert "owes 150.00" in response.text
    async with sessionmaker() as session:
        stored = await session.get(Company, company.id)
    assert stored is not None
    assert stored.supplier_id == company.supplier_id


async def test_company_detach_from_supplier_relevels_the_subtree(
    admin_client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, middle, bottom = await factory.chain(3)
    form = company_form(middle, supplier="__None")
    assert (await admin_client.post(f"/admin/company/edit/{middle.id}", data=form)).status_code == 302
    async with sessionmaker() as session:
        levels = dict((await session.execute(select(Company.id, Company.level))).all())
    assert (levels[middle.id], levels[bottom.id]) == (0, 1)


async def test_company_create_validates_like_the_api(
    admin_client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    supplier = await factory.company()
    form = company_form(supplier, name="Новый дилер", kind="retail_chain", supplier=str(supplier.id))
    assert (await admin_client.post("/admin/company/create", data=form)).status_code == 302
    bad = form | {"name": "Плохой email", "email": "not-an-email"}
    response = await admin_client.post("/admin/company/create", data=bad)
    assert response.status_code == 400
    assert "email" in response.text
    async with sessionmaker() as session:
        created = await session.scalar(select(Company).where(Company.name == "Новый дилер"))
        refused = await session.scalar(select(Company).where(Company.name == "Плохой email"))
    assert created is not None
    assert (created.supplier_id, created.level, created.debt) == (supplier.id, 1, Decimal("0.00"))
    assert refused is None


async def test_company_delete_refused_while_it_supplies_others(
    admin_client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    supplier, customer = await factory.chain(2)
    response = await admin_client.delete("/admin/company/delete", params={"pks": str(supplier.id)})
    assert "supplies 1 companies" in httpx.URL(response.text).params["error"]
    assert (await admin_client.delete("/admin/company/delete", params={"pks": str(customer.id)})).is_success
    async with sessionmaker() as session:
        remaining = (await session.scalars(select(Company.id))).all()
    assert remaining == [supplier.id]


# --- clear-debt action -------------------------------------------------------------------


async def test_clear_debt_action_clears_selected_in_the_request(
    admin_client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    companies = await debtors(factory, 4)
    selected, others = companies[:2], companies[2:]
    response = await admin_client.get(CLEAR_DEBT, params={"pks": ids(selected)})
    assert response.status_code == 302
    assert response.headers["location"] == "http://test/admin/company/list"
    assert await debts(sessionmaker, selected) == [Decimal("0.00")] * 2
    assert await debts(sessionmaker, others) == [Decimal("150.00")] * 2
    entries = await ledger(sessionmaker)
    assert [(e.company_id, e.reason, e.amount) for e in entries] == [
        (c.id, DebtReason.cleared, Decimal("-150.00")) for c in selected
    ]
    listing = await admin_client.get("/admin/company/list")
    assert "Debt cleared for 2 of 2 selected companies" in listing.text


async def test_clear_debt_action_returns_to_the_filtered_list(
    admin_client: httpx.AsyncClient, factory: Factory
) -> None:
    company = (await debtors(factory, 1, city="Астана"))[0]
    referer = "http://test/admin/company/list?city=%D0%90%D1%81%D1%82%D0%B0%D0%BD%D0%B0"
    response = await admin_client.get(
        CLEAR_DEBT, params={"pks": str(company.id)}, headers={"referer": referer}
    )
    assert response.headers["location"] == referer
    elsewhere = await admin_client.get(
        CLEAR_DEBT,
        params={"pks": str(company.id)},
        headers={"referer": "http://evil.test/admin/company/list"},
    )
    assert elsewhere.headers["location"] == "http://test/admin/company/list"


async def test_clear_debt_action_above_the_limit_runs_in_the_worker(
    admin_client: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    run_worker: RunWorker,
) -> None:
    limit = factory.settings.network.clear_debt_inline_limit
    companies = await debtors(factory, limit + 2)
    selected, other = companies[:-1], companies[-1]
    response = await admin_client.get(CLEAR_DEBT, params={"pks": ids(selected)})
    assert response.status_code == 302
    assert await debts(sessionmaker, selected) == [Decimal("150.00")] * len(selected)
    async with sessionmaker() as session:
        job = (await session.scalars(select(Job))).one()
    assert (job.name, job.status) == ("clear_debts_job", JobStatus.queued)
    listing = await admin_client.get("/admin/company/list")
    assert f"in the background (job {job.id})" in listing.text

    await run_worker()

    assert await debts(sessionmaker, selected) == [Decimal("0.00")] * len(selected)
    assert await debts(sessionmaker, [other]) == [Decimal("150.00")]
    async with sessionmaker() as session:
        finished = await session.get(Job, job.id)
    assert finished is not None
    assert finished.status is JobStatus.succeeded
    assert finished.result == {"claimed": True, "companies": len(selected), "total": "-3150.00"}
    assert {e.reason for e in await ledger(sessionmaker)} == {DebtReason.cleared}


async def test_clear_debt_action_without_selection_changes_nothing(
    admin_client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    companies = await debtors(factory, 1)
    response = await admin_client.get(CLEAR_DEBT, params={"pks": ""})
    assert response.status_code == 302
    assert await debts(sessionmaker, companies) == [Decimal("150.00")]
    assert "Select the companies" in (await admin_client.get("/admin/company/list")).text


async def test_clear_debt_action_refuses_bad_ids(admin_client: httpx.AsyncClient) -> None:
    assert (await admin_client.get(CLEAR_DEBT, params={"pks": "1,abc"})).status_code == 400


async def test_clear_debt_action_refuses_cross_site_requests(
    admin_client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    companies = await debtors(factory, 1)
    headers = {"sec-fetch-site": "cross-site"}
    response = await admin_client.get(CLEAR_DEBT, params={"pks": ids(companies)}, headers=headers)
    assert response.status_code == 403
    assert await debts(sessionmaker, companies) == [Decimal("150.00")]


async def test_clear_debt_action_needs_an_admin(
    client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    companies = await debtors(factory, 1)
    response = await client.get(CLEAR_DEBT, params={"pks": ids(companies)})
    assert response.status_code == 302
    assert response.headers["location"].endswith("/admin/login")
    assert await debts(sessionmaker, companies) == [Decimal("150.00")]


# --- other views -------------------------------------------------------------------------


async def test_user_pages_never_show_the_password_hash(
    admin_client: httpx.AsyncClient, factory: Factory
) -> None:
    employee = await factory.user(await factory.company())
    for path in ("/admin/user/list", f"/admin/user/details/{employee.id}", f"/admin/user/edit/{employee.id}"):
        response = await admin_client.get(path)
        assert response.status_code == 200
        assert employee.password_hash not in response.text
        assert "password" not in response.text.lower()
    assert employee.email in (await admin_client.get("/admin/user/list")).text
    assert (await admin_client.get("/admin/user/create")).status_code == 403


async def test_user_edit_changes_role_and_company(
    admin_client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first, second = await factory.company(), await factory.company()
    employee = await factory.user(first)
    form = {
        "full_name": "Айгерим",
        "role": "employee",
        "company": str(second.id),
        "is_active": "y",
        "save": "Save",
    }
    assert (await admin_client.post(f"/admin/user/edit/{employee.id}", data=form)).status_code == 302
    no_company = form | {"company": "__None"}
    assert (await admin_client.post(f"/admin/user/edit/{employee.id}", data=no_company)).status_code == 302
    async with sessionmaker() as session:
        stored = await session.get(User, employee.id)
    assert stored is not None
    assert (stored.full_name, stored.company_id, stored.password_hash) == (
        "Айгерим",
        None,
        employee.password_hash,
    )


async def test_admin_cannot_demote_themselves(
    admin_client: httpx.AsyncClient, admin: User, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    form = {"full_name": "x", "role": "employee", "company": "__None", "is_active": "y", "save": "Save"}
    response = await admin_client.post(f"/admin/user/edit/{admin.id}", data=form)
    assert response.status_code == 400
    assert "cannot demote or deactivate yourself" in response.text
    async with sessionmaker() as session:
        stored = await session.get(User, admin.id)
    assert stored is not None
    assert stored.role is Role.admin


async def test_product_views(
    admin_client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    company = await factory.company(name="Завод Телевизоров")
    product = await factory.product(company, sku="TV-1")
    listing = await admin_client.get("/admin/product/list")
    assert listing.status_code == 200
    assert "Завод Телевизоров" in listing.text
    form = {
        "company": str(company.id),
        "name": "Телевизор",
        "model": "X",
        "sku": "TV-1",
        "release_date": "2025-02-01",
    }
    duplicate = await admin_client.post("/admin/product/create", data=form | {"save": "Save"})
    assert duplicate.status_code == 400
    assert "already used" in duplicate.text
    edit = {"name": "Новый", "model": "Y", "sku": "TV-2", "release_date": "2025-03-01", "save": "Save"}
    assert (await admin_client.post(f"/admin/product/edit/{product.id}", data=edit)).status_code == 302
    async with sessionmaker() as session:
        stored = await session.get(Product, product.id)
    assert stored is not None
    assert (stored.name, stored.sku, stored.company_id) == ("Новый", "TV-2", company.id)


async def test_product_form_refuses_a_future_release_date(
    admin_client: httpx.AsyncClient,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
    fixed_clock: FixedClock,
) -> None:
    company = await factory.company()
    product = await factory.product(company, sku="TV-1")
    form = {"company": str(company.id), "name": "Телевизор", "model": "X", "sku": "TV-9", "save": "Save"}
    future = await admin_client.post("/admin/product/create", data=form | {"release_date": "2026-03-03"})
    assert future.status_code == 400
    assert "must not be in the future (today is 2026-03-02)" in future.text
    edit = {"name": "Новый", "model": "Y", "sku": "TV-1", "release_date": "2026-03-03", "save": "Save"}
    assert (await admin_client.post(f"/admin/product/edit/{product.id}", data=edit)).status_code == 400
    today = await admin_client.post("/admin/product/create", data=form | {"release_date": "2026-03-02"})
    assert today.status_code == 302
    async with sessionmaker() as session:
        stored = {p.sku: p.release_date for p in await session.scalars(select(Product))}
    assert stored == {"TV-1": product.release_date, "TV-9": date(2026, 3, 2)}


@pytest.mark.parametrize("path", ["/admin/debt-entry/list", "/admin/job/list"])
async def test_read_only_views(admin_client: httpx.AsyncClient, factory: Factory, path: str) -> None:
    companies = await debtors(factory, 1)
    await admin_client.get(CLEAR_DEBT, params={"pks": ids(companies)})
    response = await admin_client.get(path)
    assert response.status_code == 200
    create = path.replace("/list", "/create")
    assert (await admin_client.get(create)).status_code == 403


async def test_debt_ledger_filters_by_reason_and_company(
    admin_client: httpx.AsyncClient, factory: Factory
) -> None:
    companies = await debtors(factory, 2)
    await admin_client.get(CLEAR_DEBT, params={"pks": ids(companies)})
    for params in (
        {"reason": "cleared"},
        {"reason": "bogus"},
        {"company_id": str(companies[0].id), "company_id_op": "equals"},
    ):
        response = await admin_client.get("/admin/debt-entry/list", params=params)
        assert response.status_code == 200
        assert f"/admin/company/details/{companies[0].id}" in response.text


async def test_job_details_open_by_uuid(
    admin_client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    companies = await debtors(factory, factory.settings.network.clear_debt_inline_limit + 1)
    await admin_client.get(CLEAR_DEBT, params={"pks": ids(companies)})
    async with sessionmaker() as session:
        job = (await session.scalars(select(Job))).one()
    response = await admin_client.get(f"/admin/job/details/{job.id}")
    assert response.status_code == 200
    assert "clear_debts_job" in response.text


async def test_exports_load_relations_and_leave_out_password_hashes(
    admin_client: httpx.AsyncClient, factory: Factory
) -> None:
    company = (await debtors(factory, 1))[0]
    employee = await factory.user(company)
    companies = await admin_client.get("/admin/company/export/csv")
    assert companies.status_code == 200
    assert f"{company.name},distributor,Алматы,Завод Алматы,1,150.00" in companies.text
    users = await admin_client.get("/admin/user/export/csv")
    assert employee.email in users.text
    assert employee.password_hash not in users.text


async def test_job_list_ignores_an_unknown_status(admin_client: httpx.AsyncClient) -> None:
    assert (await admin_client.get("/admin/job/list", params={"status": "bogus"})).status_code == 200
