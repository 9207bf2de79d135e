"""Queries of receipts: the receipt with its lines and payments, locks, what is left to return."""

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.errors import NotFound
from sauda.repository import Repository
from sauda.sales.models import Payment, Receipt, Sale
from sauda.sales.repository import hold_company


class ReceiptRepository(Repository[Receipt]):
    model = Receipt
    tenant_column = Receipt.company_id
    label = "Receipt"

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

    async def returned(self, line_ids: Sequence[int]) -> dict[int, Decimal]:
        """Quantity already returned of each of these lines."""
        stmt = (
            select(Sale.returned_line_id, func.sum(Sale.quantity))
            .where(Sale.returned_line_id.in_(line_ids))
            .group_by(Sale.returned_line_id)
        )
        rows = (await self.session.execute(stmt)).all()
        return {line_id: quantity for line_id, quantity in rows if line_id is not None}


async def lock_receipt_of(session: AsyncSession, line: Sale) -> Receipt:
    """A line's receipt, then the line itself, locked in that order."""
    receipt = await session.scalar(select(Receipt).where(Receipt.id == line.receipt_id).with_for_update())
    if receipt is None:
        raise NotFound(f"Sale {line.id} not found")
    await session.refresh(line, with_for_update=True)
    return receipt
