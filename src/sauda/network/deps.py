from typing import Annotated

from fastapi import Depends, Path

from sauda.auth.deps import ScopeDep
from sauda.db import SessionDep
from sauda.network.models import Company, Product
from sauda.network.repository import CompanyRepository, ProductRepository


async def company_in_scope(
    company_id: Annotated[int, Path(ge=1)], session: SessionDep, scope: ScopeDep
) -> Company:
    return await CompanyRepository(session, scope).get(company_id)


async def product_in_scope(
    product_id: Annotated[int, Path(ge=1)], session: SessionDep, scope: ScopeDep
) -> Product:
    return await ProductRepository(session, scope).get(product_id)


ScopedCompany = Annotated[Company, Depends(company_in_scope)]
ScopedProduct = Annotated[Product, Depends(product_in_scope)]
