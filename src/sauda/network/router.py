from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from sauda.auth.deps import AdminUser, CurrentUser, ScopeDep
from sauda.auth.schemas import UserOut
from sauda.db import SessionDep
from sauda.deps import BusinessToday, SettingsDep
from sauda.network import service
from sauda.network.deps import ScopedCompany, ScopedProduct
from sauda.network.models import CompanyKind
from sauda.network.qr import MEDIA_TYPES, QrFormat, render_qr
from sauda.network.repository import CompanyFilters, CompanyRepository, ProductRepository
from sauda.network.schemas import (
    ClearDebtIn,
    ClearDebtOut,
    CompanyCreate,
    CompanyOrdering,
    CompanyOut,
    CompanyUpdate,
    DebtEntryOut,
    ProductCreate,
    ProductOut,
    ProductUpdate,
)
from sauda.pagination import Page, PageDep, make_page, paginate
from sauda.schemas import JobStarted
from sauda.types import Id, Line
from sauda.worker import start_job

router = APIRouter(tags=["network"])


@router.get("/companies", response_model=Page[CompanyOut])
async def list_companies(
    session: SessionDep,
    scope: ScopeDep,
    params: PageDep,
    country: Annotated[Line | None, Query(max_length=100, description="exact, any case")] = None,
    city: Annotated[Line | None, Query(max_length=100, description="exact, any case")] = None,
    kind: CompanyKind | None = None,
    level: Annotated[int | None, Query(ge=0, le=4)] = None,
    supplier_id: Id | None = None,
    search: Annotated[str | None, Query(max_length=100, description="part of the name")] = None,
    ordering: CompanyOrdering = CompanyOrdering.name,
) -> Page[CompanyOut]:
    """Companies the caller may see (employees: their own), filtered, ordered and paginated."""
    filters = CompanyFilters(country, city, kind, level, search, supplier_id)
    companies = CompanyRepository(session, scope)
    rows, total = await companies.paginate(companies.filtered(filters, ordering), params)
    return make_page([CompanyOut.model_validate(c) for c in rows], total, params)


# Declared before `/companies/{company_id}...` so no path parameter can take its place.
@router.get("/companies/stats/debt-above-average", response_model=Page[CompanyOut])
async def debt_above_average(
    session: SessionDep,
    scope: ScopeDep,
    params: PageDep,
    ordering: CompanyOrdering = CompanyOrdering.debt_desc,
) -> Page[CompanyOut]:
    """Companies whose debt exceeds the average debt of the companies you may see, largest
    debt first by default. Admins: over all companies. An employee sees only their own company,
    whose debt is that average itself, so the list is empty for them."""
    companies = CompanyRepository(session, scope)
    rows, total = await companies.paginate(companies.debt_above_average(ordering), params)
    return make_page([CompanyOut.model_validate(c) for c in rows], total, params)


@router.post("/companies", response_model=CompanyOut, status_code=status.HTTP_201_CREATED)
async def create_company(data: CompanyCreate, session: SessionDep, _: AdminUser) -> CompanyOut:
    return CompanyOut.model_validate(await service.create_company(session, data))


@router.post(
    "/companies/clear-debt",
    response_model=ClearDebtOut,
    responses={202: {"model": ClearDebtOut, "description": "queued for the worker"}},
)
async def clear_debt(
    data: ClearDebtIn,
    session: SessionDep,
    settings: SettingsDep,
    admin: AdminUser,
    response: Response,
) -> ClearDebtOut:
    """Set the debt of the given companies to zero. Above 20 companies it runs in the worker:
    the answer is 202 with a job id to poll at `/api/v1/jobs/{job_id}`."""
    result, job_id = await service.request_clear_debts(session, settings, data.company_ids, admin=admin)
    if job_id is not None:
        response.status_code = status.HTTP_202_ACCEPTED
        return ClearDebtOut(status="queued", job_id=job_id)
    assert result is not None
    return ClearDebtOut(status="done", cleared=result.companies)


@router.get("/companies/{company_id}", response_model=CompanyOut)
async def get_company(company: ScopedCompany) -> CompanyOut:
    return CompanyOut.model_validate(company)


@router.patch("/companies/{company_id}", response_model=CompanyOut)
async def update_company(
    company: ScopedCompany, data: CompanyUpdate, session: SessionDep, user: CurrentUser
) -> CompanyOut:
    """Change contacts and address; administrators may also change kind and supplier.
    `debt`, `level` and `created_at` are read-only (422)."""
    return CompanyOut.model_validate(await service.update_company(session, company, data, actor=user))


@router.delete("/companies/{company_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_company(company: ScopedCompany, session: SessionDep, _: AdminUser) -> Response:
    """Refused (409) while the company supplies others or has employees."""
    await service.delete_company(session, company)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/companies/{company_id}/qr", response_class=Response)
async def company_qr(company: ScopedCompany, format: QrFormat = QrFormat.png) -> Response:
    """A QR code holding the company's address, as PNG or SVG."""
    return Response(render_qr(company, format), media_type=MEDIA_TYPES[format])


@router.post("/companies/{company_id}/qr/email", response_model=JobStarted, status_code=202)
async def email_company_qr(company: ScopedCompany, session: SessionDep, user: CurrentUser) -> JobStarted:
    """Email the company's QR code to you; poll the job for the outcome."""
    job = await start_job(session, "email_company_qr", company.id, user.id, user_id=user.id)
    return JobStarted(job_id=str(job.id))


@router.get("/companies/{company_id}/products", response_model=Page[ProductOut])
async def company_products(
    company: ScopedCompany,
    session: SessionDep,
    scope: ScopeDep,
    params: PageDep,
    search: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[ProductOut]:
    products = ProductRepository(session, scope)
    rows, total = await products.paginate(products.filtered(company_id=company.id, search=search), params)
    return make_page([ProductOut.model_validate(p) for p in rows], total, params)


@router.get("/companies/{company_id}/employees", response_model=Page[UserOut])
async def company_employees(
    company: ScopedCompany, session: SessionDep, scope: ScopeDep, params: PageDep
) -> Page[UserOut]:
    rows, total = await paginate(session, CompanyRepository(session, scope).employees(company.id), params)
    return make_page([UserOut.model_validate(u) for u in rows], total, params)


@router.get("/companies/{company_id}/debt-ledger", response_model=Page[DebtEntryOut])
async def company_debt_ledger(
    company: ScopedCompany, session: SessionDep, scope: ScopeDep, params: PageDep
) -> Page[DebtEntryOut]:
    """Every change of the company's debt, newest first."""
    rows, total = await paginate(session, CompanyRepository(session, scope).ledger(company.id), params)
    return make_page([DebtEntryOut.model_validate(e) for e in rows], total, params)


@router.get("/products", response_model=Page[ProductOut])
async def list_products(
    session: SessionDep,
    scope: ScopeDep,
    params: PageDep,
    company_id: Id | None = None,
    search: Annotated[str | None, Query(max_length=100, description="name, model or SKU")] = None,
) -> Page[ProductOut]:
    products = ProductRepository(session, scope)
    rows, total = await products.paginate(products.filtered(company_id=company_id, search=search), params)
    return make_page([ProductOut.model_validate(p) for p in rows], total, params)


@router.post("/products", response_model=ProductOut, status_code=status.HTTP_201_CREATED)
async def create_product(
    data: ProductCreate, session: SessionDep, scope: ScopeDep, user: CurrentUser, today: BusinessToday
) -> ProductOut:
    """`release_date` may not lie in the future (business timezone): 422."""
    return ProductOut.model_validate(await service.create_product(session, scope, user, data, today=today))


@router.get("/products/{product_id}", response_model=ProductOut)
async def get_product(product: ScopedProduct) -> ProductOut:
    return ProductOut.model_validate(product)


@router.patch("/products/{product_id}", response_model=ProductOut)
async def update_product(
    product: ScopedProduct, data: ProductUpdate, session: SessionDep, scope: ScopeDep, today: BusinessToday
) -> ProductOut:
    """`release_date` may not lie in the future (business timezone): 422."""
    updated = await service.update_product(session, scope, product, data, today=today)
    return ProductOut.model_validate(updated)


@router.delete("/products/{product_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_product(product: ScopedProduct, session: SessionDep, scope: ScopeDep) -> Response:
    await ProductRepository(session, scope).delete(product)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
