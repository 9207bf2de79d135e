from typing import Annotated

from fastapi import Depends

from sauda.auth.deps import ScopeDep
from sauda.db import SessionDep
from sauda.network.models import Company, Product
from sauda.network.repository import CompanyRepository, ProductRepository
from sauda.types import Id


async def company_in_scope(company_id: Id, session: SessionDep, scope: ScopeDep) -> Company:
    return await CompanyRepository(session, scope).get(company_id)


async def product_in_scope(product_id: Id, session: SessionDep, scope: ScopeDep) -> Product:
    return await ProductRepository(session, scope).get(product_id)


ScopedCompany = Annotated[Company, Depends(company_in_scope)]
ScopedProduct = Annotated[Product, Depends(product_in_scope)]
