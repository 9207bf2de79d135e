"""Builders of test data through the real models, committed like the app would."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import count
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.auth.models import Role, User
from sauda.auth.service import issue_tokens
from sauda.config import Settings
from sauda.db import transaction
from sauda.network.models import Company, CompanyKind, Product
from sauda.network.schemas import CompanyCreate
from sauda.network.service import create_company
from sauda.security import hash_password

PASSWORD = "Correct-horse-42"
_PASSWORD_HASH = hash_password(PASSWORD)
_seq = count(1)


@dataclass
class Factory:
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings

    async def company(
        self, *, supplier: Company | None = None, debt: Decimal | str | None = None, **values: Any
    ) -> Company:
        n = next(_seq)
        data = {
            "name": f"Компания {n}",
            "kind": CompanyKind.distributor if supplier else CompanyKind.factory,
            "email": f"company{n}@example.kz",
            "country": "Казахстан",
            "city": "Алматы",
            "street": "проспект Абая",
            "house_number": str(n),
            "supplier_id": supplier.id if supplier else None,
        } | values
        async with transaction(self.sessionmaker) as session:
            company = await create_company(session, CompanyCreate(**data))
            if debt is not None:
                await session.execute(
                    update(Company).where(Company.id == company.id).values(debt=Decimal(debt))
                )
                await session.refresh(company)
        return company

    async def chain(self, length: int) -> list[Company]:
        """A factory and `length - 1` companies below it, one per level."""
        companies = [await self.company()]
        for _ in range(length - 1):
            companies.append(await self.company(supplier=companies[-1]))
        return companies

    async def user(
        self,
        company: Company | None = None,
        *,
        role: Role = Role.employee,
        email: str | None = None,
    ) -> User:
        n = next(_seq)
        user = User(
            email=email or f"user{n}@example.kz",
            password_hash=_PASSWORD_HASH,
            full_name=f"Сотрудник {n}",
            role=role,
            company_id=company.id if company else None,
        )
        async with transaction(self.sessionmaker) as session:
            session.add(user)
        return user

    async def admin(self) -> User:
        return await self.user(role=Role.admin)

    async def product(self, company: Company, **values: Any) -> Product:
        n = next(_seq)
        data = {
            "name": f"Телевизор {n}",
            "model": f"TV-{n}",
            "release_date": date(2025, 1, 1),
            "sku": f"SKU-{n}",
        } | values
        async with transaction(self.sessionmaker) as session:
            product = Product(company_id=company.id, **data)
            session.add(product)
        return product

    async def headers(self, user: User) -> dict[str, str]:
        async with transaction(self.sessionmaker) as session:
            tokens = await issue_tokens(session, self.settings, user)
        return {"Authorization": f"Bearer {tokens.access_token}"}
