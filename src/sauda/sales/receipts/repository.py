"""Queries of receipts: the list and its filters, the receipt with its lines and payments,
locks, what is left to return."""

import operator
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.errors import NotFound
from sauda.repository import Repository
from sauda.sales.models import Payment, PaymentMethod, Receipt, ReceiptKind, Sale
from sauda.sales.receipts.schemas import ReceiptOrdering
from sauda.sales.repository import _ordered, day_bounds, hold_company


@dataclass(frozen=True)
class ReceiptFilters:
    company_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    point_id: int | None = None
    customer_id: int | None = None
    kind: ReceiptKind | None = None
    method: PaymentMethod | None = None
    total_min: Decimal | None = None
    total_max: Decimal | None = None
    search: str | None = None


class ReceiptRepository(Repository[Receipt]):
    model = Receipt
    tenant_column = Receipt.company_id
    label = "Receipt"

    def filtered(self, filters: ReceiptFilters, ordering: ReceiptOrdering, tz: ZoneInfo) -> Select[Receipt]:
        """Every filter is an equality or a range on a column of `receipts` (so the indexes on
        (company, sold_at, id) and (point, sold_at, id) serve the page and its count), except
        `method`: receipts having such a payment, one index probe per receipt."""
        stmt = self.select()
        start, end = day_bounds(filters.date_from, filters.date_to, tz)
        for column, op, value in (
            (Receipt.company_id, operator.eq, filters.company_id),
            (Receipt.sold_at, operator.ge, start),
            (Receipt.sold_at, operator.lt, end),
            (Receipt.point_id, operator.eq, filters.point_id),
            (Receipt.customer_id, operator.eq, filters.customer_id),
            (Receipt.kind, operator.eq, filters.kind),
            (Receipt.total, operator.ge, filters.total_min),
            (Receipt.total, operator.le, filters.total_max),
        ):
            if value is not None:
                stmt = stmt.where(op(column, value))
        if filters.method is not None:
            paid = exists().where(Payment.receipt_id == Receipt.id, Payment.method == filters.method)
            stmt = stmt.where(paid)
        if filters.search:
            stmt = stmt.where(or_(Receipt.number == filters.search, Receipt.external_id == filters.search))
        return _ordered(stmt, Receipt, ordering.value)

    def returns_of(self, receipt_id: int) -> Select[Receipt]:
        return self.select().where(Receipt.original_id == receipt_id).order_by(Receipt.sold_at, Receipt.id)

    async def get_for_update(self, id_: int) -> Receipt:
        """The receipt, locked after its company is held (the writers' lock order: a receipt's
        row before its lines)."""
        company_id = await self.session.scalar(
            select(Receipt.company_id).where(self.scope.where(Receipt.company_id), Receipt.id == id_)
        )
        if company_id is not None:
            await hold_company(self.session, company_id)
        found = await self.session.scalar(self.select().where(Receipt.id == id_).with_for_update())
        if found is None:
            raise NotFound(f"Receipt {id_} not found")
        return found

    async def lines(self, receipt_id: int, *, lock: bool = False) -> list[Sale]:
        stmt = select(Sale).where(Sale.receipt_id == receipt_id).order_by(Sale.line_no, Sale.id)
        return list(await self.session.scalars(stmt.with_for_update() if lock else stmt))

    async def payments(self, receipt_id: int) -> list[Payment]:
        stmt = select(Payment).where(Payment.receipt_id == receipt_id).order_by(Payment.id)
        return list(await self.session.scalars(stmt))

    async def payments_of(self, receipt_ids: Sequence[int]) -> dict[int, list[Payment]]:
        """The payments of each of these receipts, in one query."""
        stmt = select(Payment).where(Payment.receipt_id.in_(receipt_ids)).order_by(Payment.id)
        found: dict[int, list[Payment]] = defaultdict(list)
        for payment in await self.session.scalars(stmt):
            found[payment.receipt_id].append(payment)
        return found

    async def lines_of(self, receipt_ids: Sequence[int]) -> dict[int, list[Sale]]:
        stmt = select(Sale).where(Sale.receipt_id.in_(receipt_ids)).order_by(Sale.line_no, Sale.id)
        found: dict[int, list[Sale]] = defaultdict(list)
        for line in await self.session.scalars(stmt):
            found[line.receipt_id].append(line)
        return found

    async def returned(self, line_ids: Sequence[int], *, excluding: int | None = None) -> dict[int, Decimal]:
        """Quantity already returned of each of these lines (by returns other than `excluding`)."""
        stmt = (
            select(Sale.returned_line_id, func.sum(Sale.quantity))
            .where(Sale.returned_line_id.in_(line_ids))
            .group_by(Sale.returned_line_id)
        )
        if excluding is not None:
            stmt = stmt.where(Sale.receipt_id != excluding)
        rows = (await self.session.execute(stmt)).all()
        return {line_id: quantity for line_id, quantity in rows if line_id is not None}

    async def has_returns(self, receipt_id: int) -> bool:
        stmt = select(Receipt.id).where(Receipt.original_id == receipt_id).limit(1)
        return (await self.session.scalar(stmt)) is not None


async def lock_receipt_of(session: AsyncSession, line: Sale) -> Receipt:
    """A line's receipt, then the line itself, locked in that order."""
    receipt = await session.scalar(select(Receipt).where(Receipt.id == line.receipt_id).with_for_update())
    if receipt is None:
        raise NotFound(f"Sale {line.id} not found")
    await session.refresh(line, with_for_update=True)
    return receipt
