"""The admin panel in Debian's Chromium: log in, filter companies by city, clear their debt.

The app runs under uvicorn on a free localhost port, in the test's own event loop
(`tests.servers`); the browser is driven through Playwright and the outcome is read back from
the database.
"""

import re
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.network.models import Company, DebtEntry, DebtReason
from tests.factories import PASSWORD, Factory

pytestmark = pytest.mark.browser

# Name column and city column of the company list (after the checkbox, actions and id cells).
NAME_CELL, CITY_CELL = 3, 5


@pytest.fixture
async def page(chromium: Browser) -> AsyncIterator[Page]:
    context = await chromium.new_context()
    context.set_default_timeout(15_000)
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def log_in(page: Page, base_url: str, email: str) -> None:
    await page.goto(f"{base_url}/admin/login")
    await page.fill("input[name=username]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")


async def column(page: Page, index: int) -> list[str]:
    script = "(rows, i) => rows.map(row => row.cells[i].innerText.trim())"
    texts: list[str] = await page.locator("table tbody tr").evaluate_all(script, index)
    return texts


async def seed_network(factory: Factory) -> dict[str, Company]:
    """A factory in Almaty supplying three dealers in Astana and two in Almaty, all in debt."""
    supplier = await factory.company(name="Завод Алатау", city="Алматы")
    dealers = {
        "Астана Альфа": ("Астана", "120.50"),
        "Астана Бета": ("Астана", "80.00"),
        "Астана Гамма": ("Астана", "999.99"),
        "Алматы Дельта": ("Алматы", "300.00"),
        "Алматы Эпсилон": ("Алматы", "45.10"),
    }
    companies = {"Завод Алатау": supplier}
    for name, (city, debt) in dealers.items():
        companies[name] = await factory.company(name=name, city=city, supplier=supplier, debt=debt)
    return companies


async def stored_debts(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Decimal]:
    async with sessionmaker() as session:
        return dict((await session.execute(select(Company.name, Company.debt))).all())


async def cleared_entries(sessionmaker: async_sessionmaker[AsyncSession]) -> list[tuple[int, Decimal]]:
    async with sessionmaker() as session:
        stmt = (
            select(DebtEntry.company_id, DebtEntry.amount)
            .where(DebtEntry.reason == DebtReason.cleared)
            .order_by(DebtEntry.company_id)
        )
        return [(company_id, amount) for company_id, amount in await session.execute(stmt)]


async def test_admin_filters_by_city_and_clears_selected_debts(
    page: Page,
    served: str,
    factory: Factory,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    admin = await factory.admin()
    companies = await seed_network(factory)
    before = await stored_debts(sessionmaker)

    await log_in(page, served, admin.email)
    await expect(page).to_have_url(f"{served}/admin/")
    await page.get_by_role("link", name="Companys").click()
    await expect(page).to_have_url(re.compile(r"/admin/company/list"))
    assert len(await column(page, NAME_CELL)) == 6

    supplier_link = page.locator("table tbody tr", has_text="Астана Альфа").get_by_role(
        "link", name="Завод Алатау"
    )
    href = f"/admin/company/details/{companies['Завод Алатау'].id}"
    await expect(supplier_link).to_have_attribute("href", re.compile(re.escape(href) + "$"))

    await page.locator("#filter-sidebar").get_by_role("link", name="Астана", exact=True).click()
    await expect(page).to_have_url(re.compile(r"[?&]city="))
    assert sorted(await column(page, NAME_CELL)) == ["Астана Альфа", "Астана Бета", "Астана Гамма"]
    assert set(await column(page, CITY_CELL)) == {"Астана"}

    selected = ["Астана Альфа", "Астана Гамма"]
    for name in selected:
        await page.locator("table tbody tr", has_text=name).locator("input.select-box").check()
    await page.click("#dropdownMenuButton")
    await page.click("#action-customconfirm-clear-debt")
    await page.click("#action-custom-modal-clear-debt")

    await expect(page.locator(".toast-body")).to_contain_text("Debt cleared for 2 of 2 selected companies")
    await expect(page).to_have_url(re.compile(r"/admin/company/list\?city="))
    assert sorted(await column(page, NAME_CELL)) == ["Астана Альфа", "Астана Бета", "Астана Гамма"]

    after = await stored_debts(sessionmaker)
    assert {name: after[name] for name in selected} == {name: Decimal("0.00") for name in selected}
    assert {n: d for n, d in after.items() if n not in selected} == {
        n: d for n, d in before.items() if n not in selected
    }
    expected = sorted((companies[name].id, -before[name]) for name in selected)
    assert await cleared_entries(sessionmaker) == expected


async def test_employee_cannot_log_in_to_admin(page: Page, served: str, factory: Factory) -> None:
    employee = await factory.user(await factory.company())

    await log_in(page, served, employee.email)
    await expect(page.get_by_text("Invalid credentials.").first).to_be_visible()
    await expect(page).to_have_url(f"{served}/admin/login")

    await page.goto(f"{served}/admin/company/list")
    await expect(page).to_have_url(f"{served}/admin/login")
