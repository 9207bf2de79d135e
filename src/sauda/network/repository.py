from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.auth.models import IntegrationClient, User
from sauda.network.models import Company, CompanyKind, DebtEntry, DebtReason, Product
from sauda.network.schemas import CompanyOrdering
from sauda.repository import Repository, escape_like

# One advisory lock serialises supplier changes, so two concurrent edits cannot form a cycle.
HIERARCHY_LOCK = 0x5A0DA_0001


@dataclass(frozen=True)
class CompanyFilters:
    country: str | None = None
    city: str | None = None
    kind: CompanyKind | None = None
    level: int | None = None
    search: str | None = None
    supplier_id: int | None = None


@dataclass(frozen=True)
class DebtRunResult:
    claimed: bool
    companies: int
    total: Decimal


def _ordered(stmt: Select[Company], ordering: CompanyOrdering) -> Select[Company]:
    column = getattr(Company, ordering.value.lstrip("-"))
    first = column.desc() if ordering.value.startswith("-") else column.asc()
    return stmt.order_by(first, Company.id)


class CompanyRepository(Repository[Company]):
    model = Company
    tenant_column = Company.id
    label = "Company"

    def filtered(self, filters: CompanyFilters, ordering: CompanyOrdering) -> Select[Company]:
        stmt = self.select()
        # Equal ignoring case (`алматы` finds `Алматы`), as the lower() indexes serve it.
        for place, name in ((Company.country, filters.country), (Company.city, filters.city)):
            if name is not None:
                stmt = stmt.where(func.lower(place) == func.lower(name))
        for column, value in (
            (Company.kind, filters.kind),
            (Company.level, filters.level),
            (Company.supplier_id, filters.supplier_id),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if filters.search:
            stmt = stmt.where(Company.name.ilike(f"%{escape_like(filters.search)}%"))
        return _ordered(stmt, ordering)

    def debt_above_average(self, ordering: CompanyOrdering) -> Select[Company]:
        """Companies in scope owing more than the average debt of all companies in scope
        (those owing nothing count too). The average is one scalar subquery, run once."""
        average = select(func.avg(Company.debt)).where(self.scope.where(Company.id)).scalar_subquery()
        return _ordered(self.select().where(Company.debt > average), ordering)

    async def lock_hierarchy(self) -> None:
        await self.session.execute(select(func.pg_advisory_xact_lock(HIERARCHY_LOCK)))

    async def subtree_depths(self, root_id: int) -> dict[int, int]:
        """Every company supplied (directly or not) by `root_id`, with its depth below it (root: 0)."""
        tree_cte = (
            select(Company.id, literal_column("0").label("depth"))
            .where(Company.id == root_id)
            .cte("tree", recursive=True)
        )
        child = select(Company.id, (tree_cte.c.depth + 1).label("depth")).join(
            tree_cte, Company.supplier_id == tree_cte.c.id
        )
        tree_cte = tree_cte.union_all(child)
        rows = await self.session.execute(select(tree_cte.c.id, tree_cte.c.depth))
        return {row.id: row.depth for row in rows}

    async def relevel(self, depths: dict[int, int], root_level: int) -> None:
        await self.session.execute(
            text(
                "UPDATE companies SET level = :root_level + d.depth "
                "FROM unnest(CAST(:ids AS int[]), CAST(:depths AS int[])) AS d(id, depth) "
                "WHERE companies.id = d.id"
            ),
            {"root_level": root_level, "ids": list(depths), "depths": list(depths.values())},
        )

    async def debt_for_update(self, company_id: int) -> Decimal:
        stmt = select(Company.debt).where(Company.id == company_id).with_for_update()
        return (await self.session.execute(stmt)).scalar_one()

    async def count_customers(self, company_id: int) -> int:
        stmt = select(func.count()).where(Company.supplier_id == company_id)
        return (await self.session.execute(stmt)).scalar_one()

    async def count_employees(self, company_id: int) -> int:
        stmt = select(func.count()).select_from(User).where(User.company_id == company_id)
        return (await self.session.execute(stmt)).scalar_one()

    async def lock_clients(self, company_id: int) -> None:
        """The company's integration clients, locked: a request of one records its use (locks
        its row) before it holds the company, so a deletion must take them in that order too."""
        stmt = select(IntegrationClient.id).where(IntegrationClient.company_id == company_id)
        await self.session.execute(stmt.order_by(IntegrationClient.id).with_for_update())

    def employees(self, company_id: int) -> Select[User]:
        return select(User).where(User.company_id == company_id).order_by(User.id)

    def ledger(self, company_id: int) -> Select[DebtEntry]:
        return (
            select(DebtEntry)
            .where(DebtEntry.company_id == company_id)
            .order_by(DebtEntry.created_at.desc(), DebtEntry.id.desc())
        )


class ProductRepository(Repository[Product]):
    model = Product
    tenant_column = Product.company_id
    label = "Product"

    def filtered(self, *, company_id: int | None, search: str | None) -> Select[Product]:
        stmt = self.select()
        if company_id is not None:
            stmt = stmt.where(Product.company_id == company_id)
        if search:
            pattern = f"%{escape_like(search)}%"
            stmt = stmt.where(
                Product.name.ilike(pattern) | Product.model.ilike(pattern) | Product.sku.ilike(pattern)
            )
        return stmt.order_by(Product.name, Product.id)

    async def sku_taken(self, company_id: int, sku: str, exclude_id: int | None = None) -> bool:
        stmt = select(Product.id).where(Product.company_id == company_id, Product.sku == sku)
        if exclude_id is not None:
            stmt = stmt.where(Product.id != exclude_id)
        return (await self.session.scalar(stmt)) is not None


# One statement per run: claim the run key (a second claim of the same slot finds it taken and
# changes nothing), lock and draw per company, update the balances and write the ledger.
_DEBT_RUN_SQL = """
WITH run AS (
    INSERT INTO debt_runs (run_key, reason) VALUES (:run_key, CAST(:reason AS debt_reason))
    ON CONFLICT (run_key) DO NOTHING
    RETURNING run_key
), target AS (
    SELECT c.id, {delta} AS delta
    FROM companies AS c JOIN run ON true
    WHERE {where}
    FOR UPDATE OF c
), changed AS (
    UPDATE companies AS c SET debt = c.debt + t.delta
    FROM target AS t
    WHERE c.id = t.id AND t.delta <> 0
    RETURNING c.id, t.delta, c.debt
), ledger AS (
    INSERT INTO debt_ledger (company_id, amount, balance_after, reason, run_key)
    SELECT id, delta, debt, CAST(:reason AS debt_reason), :run_key FROM changed
    RETURNING amount
)
SELECT (SELECT count(*) FROM run) AS claimed, count(*) AS companies,
       coalesce(sum(amount), 0) AS total
FROM ledger
"""

# A uniform draw in whole kopecks from [lo, hi], drawn separately for every company.
_DRAW = (
    "round((CAST(:lo_kop AS int) + floor(random() * (CAST(:hi_kop AS int) - CAST(:lo_kop AS int) + 1)))"
    "::numeric / 100, 2)"
)

_DEBT_RUN_SHAPES: dict[DebtReason, tuple[str, str]] = {
    DebtReason.scheduled_increase: (_DRAW, "c.supplier_id IS NOT NULL"),
    DebtReason.scheduled_decrease: (
        f"-least(c.debt, {_DRAW})",
        "c.supplier_id IS NOT NULL AND c.debt > 0",
    ),
    DebtReason.cleared: ("-c.debt", "c.id = ANY(CAST(:ids AS int[])) AND c.debt > 0"),
}


class DebtRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def apply_run(self, run_key: str, reason: DebtReason, **params: Any) -> DebtRunResult:
        delta, where = _DEBT_RUN_SHAPES[reason]
        sql = text(_DEBT_RUN_SQL.format(delta=delta, where=where))
        # The run joins every company with a supplier; the default 4 MB spills that to disk.
        await self.session.execute(text("SET LOCAL work_mem = '64MB'"))
        row = (await self.session.execute(sql, {"run_key": run_key, "reason": reason.value, **params})).one()
        return DebtRunResult(claimed=bool(row.claimed), companies=row.companies, total=row.total)
