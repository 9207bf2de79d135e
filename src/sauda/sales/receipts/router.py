"""Receipts and returns: the primary sales routes (`/sales` is the one-line view of them)."""

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from sauda.auth.deps import ScopeDep
from sauda.db import SessionDep
from sauda.pagination import Page, PageDep, make_page
from sauda.sales.deps import BusinessTz
from sauda.sales.models import PaymentMethod, Receipt, ReceiptKind
from sauda.sales.receipts import service
from sauda.sales.receipts.deps import LockedReceipt, ScopedReceipt
from sauda.sales.receipts.repository import ReceiptFilters, ReceiptRepository
from sauda.sales.receipts.schemas import (
    ReceiptCreate,
    ReceiptOrdering,
    ReceiptOut,
    ReceiptSummary,
    ReturnCreate,
)
from sauda.types import BusinessDate, Id, MoneyIn

router = APIRouter(prefix="/receipts", tags=["receipts"])


async def _answers(receipts: ReceiptRepository, rows: Sequence[Receipt]) -> list[ReceiptOut]:
    """The receipts with their lines, payments and what is returned of each sale line: three
    queries for any number of receipts."""
    ids = [receipt.id for receipt in rows]
    lines, payments = await receipts.lines_of(ids), await receipts.payments_of(ids)
    sold = [line.id for receipt in rows if receipt.kind is ReceiptKind.sale for line in lines[receipt.id]]
    returned = await receipts.returned(sold) if sold else {}
    return [ReceiptOut.full(r, lines[r.id], payments[r.id], returned) for r in rows]


async def _answer(receipts: ReceiptRepository, receipt: Receipt) -> ReceiptOut:
    return (await _answers(receipts, [receipt]))[0]


# Filters fit their columns (`sauda.types`), so a query with them cannot fail in the database.
def receipt_filters(
    company_id: Id | None = None,
    date_from: Annotated[
        BusinessDate | None, Query(description="first day (business timezone), inclusive")
    ] = None,
    date_to: Annotated[
        BusinessDate | None, Query(description="last day (business timezone), inclusive")
    ] = None,
    point_id: Id | None = None,
    customer_id: Id | None = None,
    kind: ReceiptKind | None = None,
    method: Annotated[
        PaymentMethod | None, Query(description="receipts with a payment of this method")
    ] = None,
    total_min: MoneyIn | None = None,
    total_max: MoneyIn | None = None,
    search: Annotated[
        str | None, Query(max_length=100, description="the receipt's number or external id, exactly")
    ] = None,
) -> ReceiptFilters:
    return ReceiptFilters(
        company_id, date_from, date_to, point_id, customer_id, kind, method, total_min, total_max, search
    )


ReceiptFiltersDep = Annotated[ReceiptFilters, Depends(receipt_filters)]


@router.get("", response_model=Page[ReceiptSummary])
async def list_receipts(
    session: SessionDep,
    scope: ScopeDep,
    params: PageDep,
    filters: ReceiptFiltersDep,
    tz: BusinessTz,
    ordering: ReceiptOrdering = ReceiptOrdering.sold_at_desc,
) -> Page[ReceiptSummary]:
    """Receipts and returns with their payments; the lines are in `GET /receipts/{id}`."""
    receipts = ReceiptRepository(session, scope)
    rows, total = await receipts.paginate(receipts.filtered(filters, ordering, tz), params)
    payments = await receipts.payments_of([r.id for r in rows])
    return make_page([ReceiptSummary.of(r, payments[r.id]) for r in rows], total, params)


@router.post("", response_model=ReceiptOut, status_code=status.HTTP_201_CREATED)
async def create_receipt(
    data: ReceiptCreate, session: SessionDep, scope: ScopeDep, tz: BusinessTz
) -> ReceiptOut:
    """A receipt with its lines and payments in one call; line totals and the receipt's total
    are computed, and the payments must add up to it (none: one payment of method `unknown`).
    `kind` `return` records a return made without its receipt (`original_id` stays null)."""
    receipt = await service.create_receipt(session, scope, data, tz)
    return await _answer(ReceiptRepository(session, scope), receipt)


@router.get("/{receipt_id}", response_model=ReceiptOut)
async def get_receipt(receipt: ScopedReceipt, session: SessionDep, scope: ScopeDep) -> ReceiptOut:
    return await _answer(ReceiptRepository(session, scope), receipt)


@router.delete("/{receipt_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_receipt(receipt: LockedReceipt, session: SessionDep, tz: BusinessTz) -> Response:
    """A receipt with returns stays (409): delete its returns first."""
    await service.delete_receipt(session, receipt, tz)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{receipt_id}/returns", response_model=ReceiptOut, status_code=status.HTTP_201_CREATED)
async def create_return(
    original: LockedReceipt, data: ReturnCreate, session: SessionDep, scope: ScopeDep, tz: BusinessTz
) -> ReceiptOut:
    """A return of some of the receipt's lines: each at most what is left of it (409 naming
    `lines[i].quantity` and how much is left), at the original's unit price and its share of
    the line's discount. A return cannot itself be returned (422)."""
    receipt = await service.create_return(session, scope, original, data, tz)
    return await _answer(ReceiptRepository(session, scope), receipt)


@router.get("/{receipt_id}/returns", response_model=Page[ReceiptOut])
async def list_returns(
    original: ScopedReceipt, session: SessionDep, scope: ScopeDep, params: PageDep
) -> Page[ReceiptOut]:
    """The returns made against this receipt, oldest first, with their lines."""
    receipts = ReceiptRepository(session, scope)
    rows, total = await receipts.paginate(receipts.returns_of(original.id), params)
    return make_page(await _answers(receipts, rows), total, params)
