"""Business rules of the supplier network. Flushes, never commits."""

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from sauda.auth.models import User
from sauda.config import Settings
from sauda.errors import Conflict, InvalidInput, PermissionDenied
from sauda.network.models import MAX_LEVEL, Company, CompanyKind, DebtReason, Product
from sauda.network.repository import (
    CompanyRepository,
    DebtRepository,
    DebtRunResult,
    ProductRepository,
)
from sauda.network.schemas import CompanyCreate, CompanyUpdate, ProductCreate, ProductUpdate
from sauda.tenancy import Scope
from sauda.worker import start_job

ADMIN_ONLY_COMPANY_FIELDS = ("supplier_id", "kind")


class DebtOutstanding(Conflict):
    code = "debt_outstanding"


async def create_company(session: AsyncSession, data: CompanyCreate) -> Company:
    companies = CompanyRepository(session, Scope.everything())
    company = Company(**data.model_dump(exclude={"supplier_id"}), debt=Decimal("0.00"), level=0)
    await companies.add(company)
    if data.supplier_id is not None:
        await change_supplier(session, company, data.supplier_id)
    return company


async def update_company(
    session: AsyncSession, company: Company, data: CompanyUpdate, *, actor: User
) -> Company:
    changes = data.model_dump(exclude_unset=True)
    for field in ADMIN_ONLY_COMPANY_FIELDS:
        if field in changes and not actor.is_admin:
            raise PermissionDenied(
                f"Only administrators may change {field}",
                fields=[{"field": field, "message": "only administrators may change it"}],
            )
    supplier_changed = "supplier_id" in changes and changes["supplier_id"] != company.supplier_id
    kind_changed = "kind" in changes and changes["kind"] != company.kind
    new_supplier = changes.pop("supplier_id", company.supplier_id)
    for field, value in changes.items():
        setattr(company, field, value)
    if company.kind is CompanyKind.factory and company.debt > 0:
        raise InvalidInput.for_field("kind", "a factory has no debt; clear the debt first")
    if supplier_changed or kind_changed:
        await change_supplier(session, company, new_supplier)
    await session.flush()
    return company


async def change_supplier(session: AsyncSession, company: Company, supplier_id: int | None) -> None:
    """Attach `company` under `supplier_id` (or detach it) and re-level its whole subtree."""
    if supplier_id is not None and company.kind is CompanyKind.factory:
        raise InvalidInput.for_field("supplier_id", "a factory has no supplier")
    companies = CompanyRepository(session, Scope.everything())
    await companies.lock_hierarchy()
    if company.supplier_id not in (None, supplier_id):
        await _ensure_no_debt(companies, company)
    depths = await companies.subtree_depths(company.id)
    new_level = 0
    if supplier_id is not None:
        supplier = await companies.get(supplier_id)
        if supplier.id in depths:
            raise InvalidInput.for_field(
                "supplier_id", f"company {supplier.id} is supplied by this company: a cycle"
            )
        new_level = supplier.level + 1
    deepest = new_level + max(depths.values())
    if deepest > MAX_LEVEL:
        raise InvalidInput.for_field(
            "supplier_id",
            f"the chain would reach level {deepest}; the network has five levels (0-{MAX_LEVEL})",
        )
    company.supplier_id = supplier_id
    company.level = new_level
    await session.flush()
    await companies.relevel(depths, new_level)
    await session.refresh(company)


async def _ensure_no_debt(companies: CompanyRepository, company: Company) -> None:
    """A company leaves its supplier only debt-free: otherwise the debt would silently become
    owed to the new supplier (or to nobody). Read under a row lock, so a scheduled run that
    commits meanwhile cannot slip a new debt past the check."""
    debt = await companies.debt_for_update(company.id)
    if debt > 0:
        raise DebtOutstanding(
            f"Company {company.id} owes {debt} to its supplier {company.supplier_id};"
            " clear the debt before changing the supplier",
            fields=[{"field": "supplier_id", "message": f"debt of {debt} outstanding; clear it first"}],
        )


async def delete_company(session: AsyncSession, company: Company) -> None:
    companies = CompanyRepository(session, Scope.everything())
    await companies.lock_hierarchy()
    if customers := await companies.count_customers(company.id):
        raise Conflict(f"Company {company.id} supplies {customers} companies; reassign them first")
    if employees := await companies.count_employees(company.id):
        raise Conflict(f"Company {company.id} has {employees} employees; move or remove them first")
    # The company row before anything it owns: its writers hold it (KEY SHARE) from their start
    # (sauda.sales.repository); only its clients' rows come before it in their requests.
    await companies.lock_clients(company.id)
    await companies.delete(company)


async def owner_company(session: AsyncSession, scope: Scope, actor: User, requested: int | None) -> int:
    """The company a new row (product, point, customer, store, import) belongs to: the one an admin
    names, else the caller's own; it must exist and lie in the caller's scope (else 404)."""
    if requested is None:
        if actor.company_id is None:
            raise InvalidInput.for_field("company_id", "required: you belong to no company")
        requested = actor.company_id
    scope.ensure(requested)
    await CompanyRepository(session, scope).get(requested)
    return requested


def ensure_released(release_date: date, *, today: date) -> None:
    """A product is on the market already: its release date is today or earlier (business
    timezone). An announced product waits until its release to be entered."""
    if release_date > today:
        raise InvalidInput.for_field("release_date", f"must not be in the future (today is {today})")


async def create_product(
    session: AsyncSession, scope: Scope, actor: User, data: ProductCreate, *, today: date
) -> Product:
    ensure_released(data.release_date, today=today)
    company_id = await owner_company(session, scope, actor, data.company_id)
    products = ProductRepository(session, scope)
    await _ensure_sku_free(products, company_id, data.sku)
    return await products.add(Product(**data.model_dump(exclude={"company_id"}), company_id=company_id))


async def update_product(
    session: AsyncSession, scope: Scope, product: Product, data: ProductUpdate, *, today: date
) -> Product:
    changes = data.model_dump(exclude_unset=True)
    if "release_date" in changes:
        ensure_released(changes["release_date"], today=today)
    if "sku" in changes:
        await _ensure_sku_free(
            ProductRepository(session, scope), product.company_id, changes["sku"], product.id
        )
    for field, value in changes.items():
        setattr(product, field, value)
    await session.flush()
    return product


async def _ensure_sku_free(
    products: ProductRepository, company_id: int, sku: str, exclude_id: int | None = None
) -> None:
    if await products.sku_taken(company_id, sku, exclude_id):
        raise Conflict(
            f"SKU {sku!r} is already used by another product of this company",
            fields=[{"field": "sku", "message": "already used in this company"}],
        )


def _kopecks(value: str) -> int:
    return int(Decimal(value) * 100)


def increase_slot(moment: datetime) -> datetime:
    """The start of the 3-hour slot (00:00, 03:00, ... business time) that holds `moment`."""
    return moment.replace(hour=moment.hour - moment.hour % 3, minute=0, second=0, microsecond=0)


def decrease_slot(moment: datetime) -> datetime:
    """The most recent 06:30 (business time) at or before `moment`."""
    slot = moment.replace(hour=6, minute=30, second=0, microsecond=0)
    return slot if slot <= moment else slot - timedelta(days=1)


async def run_scheduled_increase(session: AsyncSession, settings: Settings, slot: datetime) -> DebtRunResult:
    cfg = settings.network
    return await DebtRepository(session).apply_run(
        f"increase:{slot.isoformat()}",
        DebtReason.scheduled_increase,
        lo_kop=_kopecks(cfg.increase_min),
        hi_kop=_kopecks(cfg.increase_max),
    )


async def run_scheduled_decrease(session: AsyncSession, settings: Settings, slot: datetime) -> DebtRunResult:
    cfg = settings.network
    return await DebtRepository(session).apply_run(
        f"decrease:{slot.isoformat()}",
        DebtReason.scheduled_decrease,
        lo_kop=_kopecks(cfg.decrease_min),
        hi_kop=_kopecks(cfg.decrease_max),
    )


async def clear_debts(session: AsyncSession, company_ids: list[int], run_key: str) -> DebtRunResult:
    return await DebtRepository(session).apply_run(run_key, DebtReason.cleared, ids=sorted(set(company_ids)))


async def request_clear_debts(
    session: AsyncSession, settings: Settings, company_ids: list[int], *, admin: User
) -> tuple[DebtRunResult | None, str | None]:
    """Clear in the request for a few companies; above the limit, hand it to the worker."""
    run_key = f"clear:{uuid.uuid4()}"
    if len(set(company_ids)) <= settings.network.clear_debt_inline_limit:
        return await clear_debts(session, company_ids, run_key), None
    job = await start_job(session, "clear_debts_job", sorted(set(company_ids)), run_key, user_id=admin.id)
    return None, str(job.id)
