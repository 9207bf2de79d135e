"""Demo data: the seeded network obeys every rule of the domain, and `dev --demo` is idempotent."""

from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.auth.models import Role, User
from sauda.config import Settings
from sauda.network.demo import DEMO_COMPANIES, ensure_demo, seed_network
from sauda.network.models import Company, CompanyKind, Product
from sauda.security import verify_password

ADMIN_EMAIL = "admin@sauda.demo"
ADMIN_PASSWORD = "sauda-demo-2026"

# The depth of every company, walked from the factories down the supplier chain.
CHAIN_DEPTHS = text(
    """
    WITH RECURSIVE chain AS (
        SELECT id, 0 AS depth, ARRAY[id] AS path FROM companies WHERE supplier_id IS NULL
        UNION ALL
        SELECT c.id, chain.depth + 1, chain.path || c.id
        FROM companies AS c JOIN chain ON c.supplier_id = chain.id
        WHERE c.id <> ALL(chain.path)
    )
    SELECT chain.id, chain.depth, companies.level
    FROM chain JOIN companies USING (id)
    """
)


async def _scalar(sessionmaker: async_sessionmaker[AsyncSession], stmt: Select[Any]) -> Any:
    async with sessionmaker() as session:
        return await session.scalar(stmt)


async def test_seeded_network_is_valid(
    app: FastAPI, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    summary = await seed_network(settings, companies=200, seed=7)

    assert "200 companies" in summary
    async with sessionmaker() as session:
        companies = (await session.scalars(select(Company))).all()
        depths = (await session.execute(CHAIN_DEPTHS)).all()
    assert len(companies) == 200
    assert {c.level for c in companies} == {0, 1, 2, 3, 4}
    # Every company is reached from a factory (no cycles) and its level is its real depth.
    assert len(depths) == 200
    assert all(row.depth == row.level for row in depths)
    for company in companies:
        if company.kind is CompanyKind.factory:
            assert company.supplier_id is None
            assert company.debt == 0
        assert (company.supplier_id is None) == (company.level == 0)
        assert company.debt >= 0
        assert company.debt == company.debt.quantize(Decimal("0.01"))
        assert company.country in {"Казахстан", "Россия"}
        assert all((company.city, company.street, company.house_number))
    assert all(c.kind is CompanyKind.factory for c in companies if c.level == 0)
    assert any(c.debt % 1 for c in companies), "debts carry kopecks"
    assert len({c.email for c in companies}) == 200


async def test_products_and_employees(
    app: FastAPI, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await seed_network(settings, companies=200, seed=7)

    async with sessionmaker() as session:
        per_company = (
            await session.execute(
                select(Product.company_id, func.count(), func.count(func.distinct(Product.sku))).group_by(
                    Product.company_id
                )
            )
        ).all()
        staff = (await session.execute(select(User.company_id, func.count()).group_by(User.company_id))).all()
        users = (await session.scalars(select(User))).all()
    assert len(per_company) == 200
    assert all(2 <= total <= 4 and distinct == total for _, total, distinct in per_company)
    assert len(staff) == 200
    assert all(1 <= total <= 3 for _, total in staff)
    assert all(u.role is Role.employee and u.is_active for u in users)
    assert len({u.email.lower() for u in users}) == len(users)
    # One shared hash (Argon2 is slow), and it is a real hash of the demo password.
    assert len({u.password_hash for u in users}) == 1
    assert verify_password(users[0].password_hash, "sauda-employee-2026")


async def test_reseeding_adds_without_collisions(
    app: FastAPI, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # The same seed twice: the same choices, yet new ids, emails and a valid second network.
    await seed_network(settings, companies=50, seed=3)
    await seed_network(settings, companies=50, seed=3)

    assert await _scalar(sessionmaker, select(func.count()).select_from(Company)) == 100
    users = await _scalar(sessionmaker, select(func.count()).select_from(User))
    emails = await _scalar(sessionmaker, select(func.count(func.distinct(func.lower(User.email)))))
    assert users == emails


async def test_ensure_demo_is_idempotent(
    app: FastAPI, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = await ensure_demo(settings, ADMIN_EMAIL, ADMIN_PASSWORD)
    second = await ensure_demo(settings, ADMIN_EMAIL, ADMIN_PASSWORD)

    assert "created" in first
    assert "already" in second
    assert await _scalar(sessionmaker, select(func.count()).select_from(Company)) == DEMO_COMPANIES
    async with sessionmaker() as session:
        admins = (await session.scalars(select(User).where(User.role == Role.admin))).all()
    assert [a.email for a in admins] == [ADMIN_EMAIL]
    assert verify_password(admins[0].password_hash, ADMIN_PASSWORD)
    assert admins[0].company_id is None


async def test_ensure_demo_keeps_an_existing_network(
    app: FastAPI, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await seed_network(settings, companies=10, seed=1)

    await ensure_demo(settings, ADMIN_EMAIL, ADMIN_PASSWORD)

    assert await _scalar(sessionmaker, select(func.count()).select_from(Company)) == 10
    role = await _scalar(sessionmaker, select(User.role).where(User.email == ADMIN_EMAIL))
    assert role is Role.admin
