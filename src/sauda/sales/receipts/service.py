"""Receipts and returns: lines, payments, totals, what is left to return; the rollups follow in
the same transaction (sauda.sales.rollups). Flushes only.

Lock order (sauda.sales.repository): company (KEY SHARE), then the receipt's row before its
lines, then the rollups at the writer's end. A return locks its original receipt: returns of
one receipt take turns, so "what is left" is never counted twice.
"""

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.db import conflict_on
from sauda.errors import FOREIGN_KEY_VIOLATION, Conflict, InvalidInput, NotFound
from sauda.money import KOPECK, MONEY_MAX, money_fits, to_money
from sauda.network.models import Product
from sauda.sales.models import Customer, Payment, PaymentMethod, Point, Receipt, ReceiptKind, Sale
from sauda.sales.receipts.repository import ReceiptRepository
from sauda.sales.receipts.schemas import LineIn, PaymentIn, ReceiptCreate, ReturnCreate, ReturnLineIn
from sauda.sales.repository import hold_company
from sauda.sales.rollups import RollupDeltas, RollupRepository
from sauda.tenancy import Scope


def line_total(quantity: Decimal, unit_price: Decimal, discount: Decimal) -> Decimal:
    return (quantity * unit_price - discount).quantize(KOPECK, rounding=ROUND_HALF_UP)


def check_total(
    quantity: Decimal, unit_price: Decimal, discount: Decimal, sent: Decimal | None, *, field: str = ""
) -> Decimal:
    """The line's total, round(quantity × unit price − discount, 2); `sent` must equal it."""
    gross = to_money(quantity * unit_price)
    if discount > gross:
        raise InvalidInput.for_field(f"{field}discount", f"is larger than quantity × unit price ({gross})")
    total = line_total(quantity, unit_price, discount)
    if not money_fits(total):
        raise InvalidInput.for_field(
            f"{field}total", f"quantity × unit price − discount = {total} is beyond {MONEY_MAX}"
        )
    if sent is not None and to_money(sent) != total:
        raise InvalidInput.for_field(f"{field}total", f"must be quantity × unit price − discount = {total}")
    return total


def business_aware(moment: datetime, tz: ZoneInfo) -> datetime:
    """A moment without an offset is business time; stored and answered in UTC."""
    return (moment.replace(tzinfo=tz) if moment.tzinfo is None else moment).astimezone(UTC)


@asynccontextmanager
async def unique_in_company(session: AsyncSession, field: str) -> AsyncIterator[None]:
    """The checks before a write cannot see a concurrent transaction's uncommitted row: when the
    unique constraint catches it instead, that is the same 409, not a 500."""
    taken = Conflict(
        f"{field} is already used in this company",
        fields=[{"field": field, "message": "already used in this company"}],
    )
    async with conflict_on(session, taken):
        yield


@asynccontextmanager
async def rollup_changes(
    session: AsyncSession, tz: ZoneInfo, batch: RollupDeltas | None
) -> AsyncIterator[RollupDeltas]:
    """Where a write puts its rollup changes: a batch's, applied by the batch at its end, or its
    own, applied here once the write is done. Either way after every receipt row, in lock order."""
    if batch is not None:
        yield batch
        return
    deltas = RollupDeltas(tz)
    yield deltas
    await RollupRepository(session, tz).apply(deltas)


def check_payments(payments: Sequence[PaymentIn], total: Decimal) -> list[tuple[PaymentMethod, Decimal]]:
    """The payments as given, adding up to the total; none given: one of method `unknown`."""
    if not payments:
        return [(PaymentMethod.unknown, total)] if total > 0 else []
    for n, payment in enumerate(payments):
        if payment.amount <= 0:
            raise InvalidInput.for_field(f"payments[{n}].amount", "must be greater than zero")
    paid = sum((p.amount for p in payments), Decimal("0.00"))
    if paid != total:
        raise InvalidInput.for_field("payments", f"add up to {paid}, the receipt's total is {total}")
    return [(p.method, p.amount) for p in payments]


@dataclass(frozen=True)
class NewLine:
    product_id: int
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal
    total: Decimal
    external_id: str | None = None
    returned_line_id: int | None = None
    ref: uuid.UUID | None = None


# What a receipt's header sets, the rest (total, ids) being the server's.
HEADER_FIELDS = ("point_id", "customer_id", "kind", "number", "original_id", "sold_at", "external_id")


@dataclass(frozen=True)
class Header:
    company_id: int
    point_id: int
    customer_id: int | None
    kind: ReceiptKind
    number: str | None
    sold_at: datetime  # aware
    external_id: str | None
    original_id: int | None = None
    ref: uuid.UUID | None = None


async def _ensure_receipt_id_free(session: AsyncSession, company_id: int, external_id: str | None) -> None:
    if external_id is None:
        return
    taken = await session.scalar(
        select(Receipt.id).where(Receipt.company_id == company_id, Receipt.external_id == external_id)
    )
    if taken is not None:
        raise Conflict(
            f"External id {external_id!r} is already used by another receipt",
            fields=[{"field": "external_id", "message": "already used in this company"}],
        )


async def _ensure_line_ids_free(session: AsyncSession, company_id: int, lines: Sequence[NewLine]) -> None:
    ids = [line.external_id for line in lines if line.external_id is not None]
    if len(set(ids)) != len(ids):
        raise InvalidInput.for_field("lines", "two lines have the same external_id")
    taken = await session.scalar(
        select(Sale.external_id).where(Sale.company_id == company_id, Sale.external_id.in_(ids)).limit(1)
    )
    if taken is not None:
        raise Conflict(
            f"External id {taken!r} is already used by another sale line",
            fields=[{"field": "lines", "message": f"external_id {taken!r} is already used in this company"}],
        )


async def write_receipt(
    session: AsyncSession,
    header: Header,
    lines: Sequence[NewLine],
    payments: Sequence[PaymentIn],
    rollups: RollupDeltas,
) -> Receipt:
    """Insert the receipt, its lines and payments (the company is held by the caller)."""
    total, paid = _totals(lines, payments)
    await _ensure_receipt_id_free(session, header.company_id, header.external_id)
    await _ensure_line_ids_free(session, header.company_id, lines)
    receipt = Receipt(
        company_id=header.company_id,
        point_id=header.point_id,
        customer_id=header.customer_id,
        kind=header.kind,
        number=header.number,
        original_id=header.original_id,
        sold_at=header.sold_at,
        total=total,
        external_id=header.external_id,
        **({"ref": header.ref} if header.ref else {}),
    )
    session.add(receipt)
    async with unique_in_company(session, "external_id"):
        await session.flush()
    await _add_parts(session, receipt, lines, paid)
    await rollups.capture(session, [receipt.id], +1)
    return receipt


async def replace_receipt(
    session: AsyncSession,
    receipt: Receipt,
    header: Header,
    lines: Sequence[NewLine],
    payments: Sequence[PaymentIn],
    rollups: RollupDeltas,
) -> Receipt:
    """Give `receipt` (locked, of the header's company) the header's values and these lines and
    payments, keeping its id and ref: its lines and payments are deleted and inserted anew. A
    receipt with returns stays as it is (409): their lines refer to its lines."""
    total, paid = _totals(lines, payments)
    if await ReceiptRepository(session, Scope.company(receipt.company_id)).has_returns(receipt.id):
        raise Conflict(
            f"Receipt {receipt.id} has returns: delete them first",
            fields=[{"field": "id", "message": "the receipt has returns"}],
        )
    await rollups.capture(session, [receipt.id], -1)
    await session.execute(delete(Sale).where(Sale.receipt_id == receipt.id))
    await session.execute(delete(Payment).where(Payment.receipt_id == receipt.id))
    await _ensure_line_ids_free(session, receipt.company_id, lines)
    for name in HEADER_FIELDS:
        setattr(receipt, name, getattr(header, name))
    receipt.total = total
    await _add_parts(session, receipt, lines, paid)
    await rollups.capture(session, [receipt.id], +1)
    return receipt


def _totals(
    lines: Sequence[NewLine], payments: Sequence[PaymentIn]
) -> tuple[Decimal, list[tuple[PaymentMethod, Decimal]]]:
    """The receipt's total and its payments, which add up to it."""
    total = sum((line.total for line in lines), Decimal("0.00"))
    if not money_fits(total):
        raise InvalidInput.for_field("lines", f"the receipt's total {total} is beyond {MONEY_MAX}")
    return total, check_payments(payments, total)


async def _add_parts(
    session: AsyncSession,
    receipt: Receipt,
    lines: Sequence[NewLine],
    paid: Sequence[tuple[PaymentMethod, Decimal]],
) -> None:
    for n, line in enumerate(lines, start=1):
        session.add(_line(receipt, n, line))
    session.add_all(Payment(receipt_id=receipt.id, method=method, amount=amount) for method, amount in paid)
    async with unique_in_company(session, "external_id"):
        await session.flush()


def _line(receipt: Receipt, line_no: int, line: NewLine) -> Sale:
    return Sale(
        receipt_id=receipt.id,
        line_no=line_no,
        kind=receipt.kind,
        returned_line_id=line.returned_line_id,
        company_id=receipt.company_id,
        point_id=receipt.point_id,
        customer_id=receipt.customer_id,
        product_id=line.product_id,
        quantity=line.quantity,
        unit_price=line.unit_price,
        discount=line.discount,
        total=line.total,
        sold_at=receipt.sold_at,
        external_id=line.external_id,
        **({"ref": line.ref} if line.ref else {}),
    )


async def _point_in_scope(session: AsyncSession, scope: Scope, point_id: int) -> Point:
    point = await session.scalar(select(Point).where(scope.where(Point.company_id), Point.id == point_id))
    if point is None:
        raise NotFound(f"Point {point_id} not found")
    return point


async def _check_products(session: AsyncSession, company_id: int, lines: Sequence[LineIn]) -> None:
    wanted = {line.product_id for line in lines}
    found = set(
        await session.scalars(
            select(Product.id).where(Product.company_id == company_id, Product.id.in_(wanted))
        )
    )
    if missing := sorted(wanted - found):
        raise NotFound(f"Product {missing[0]} not found")


async def _check_customer(session: AsyncSession, company_id: int, customer_id: int | None) -> None:
    if customer_id is None:
        return
    found = await session.scalar(
        select(Customer.id).where(Customer.company_id == company_id, Customer.id == customer_id)
    )
    if found is None:
        raise NotFound(f"Customer {customer_id} not found")


async def create_receipt(
    session: AsyncSession,
    scope: Scope,
    data: ReceiptCreate,
    tz: ZoneInfo,
    *,
    batch: RollupDeltas | None = None,
    ref: uuid.UUID | None = None,
    line_ref: uuid.UUID | None = None,
) -> Receipt:
    """A sale receipt, or a return without its original. Point, products and customer must be
    of the caller's scope and of one company: anything else is 404, as if it did not exist."""
    point = await _point_in_scope(session, scope, data.point_id)
    await _check_products(session, point.company_id, data.lines)
    await _check_customer(session, point.company_id, data.customer_id)
    await hold_company(session, point.company_id)
    lines = [
        NewLine(
            line.product_id,
            line.quantity,
            line.unit_price,
            line.discount,
            check_total(line.quantity, line.unit_price, line.discount, line.total, field=f"lines[{n}]."),
            line.external_id,
            ref=line_ref,
        )
        for n, line in enumerate(data.lines)
    ]
    header = Header(
        point.company_id,
        point.id,
        data.customer_id,
        data.kind,
        data.number,
        business_aware(data.sold_at, tz),
        data.external_id,
        ref=ref,
    )
    async with rollup_changes(session, tz, batch) as rollups:
        return await write_receipt(session, header, lines, data.payments, rollups)


async def create_return(
    session: AsyncSession,
    scope: Scope,
    original: Receipt,
    data: ReturnCreate,
    tz: ZoneInfo,
    *,
    batch: RollupDeltas | None = None,
) -> Receipt:
    """A return against `original` (locked by the caller, `ReceiptRepository.get_for_update`):
    each line returns at most what is left of the original's line (409 says how much), at the
    original's price and a share of its discount."""
    lines = await return_lines(session, scope, original, data.lines)
    point_id = original.point_id
    if data.point_id is not None and data.point_id != original.point_id:
        point = await _point_in_scope(session, scope, data.point_id)
        if point.company_id != original.company_id:
            raise NotFound(f"Point {data.point_id} not found")
        point_id = point.id
    header = Header(
        original.company_id,
        point_id,
        original.customer_id,
        ReceiptKind.return_,
        data.number,
        business_aware(data.sold_at, tz),
        data.external_id,
        original_id=original.id,
    )
    async with rollup_changes(session, tz, batch) as rollups:
        return await write_receipt(session, header, lines, data.payments, rollups)


async def return_lines(
    session: AsyncSession,
    scope: Scope,
    original: Receipt,
    lines: Sequence[ReturnLineIn],
    *,
    replacing: int | None = None,
) -> list[NewLine]:
    """The lines of a return of `original` (locked): each returns at most what is left of its
    line (409 says how much), at the original's price and a share of its discount. `replacing`:
    a return whose lines these replace, so its own do not count as returned."""
    if original.kind is not ReceiptKind.sale:
        raise InvalidInput.for_field("receipt_id", "a return cannot itself be returned")
    receipts = ReceiptRepository(session, scope)
    originals = {line.id: line for line in await receipts.lines(original.id)}
    left = {line_id: line.quantity for line_id, line in originals.items()}
    for line_id, quantity in (await receipts.returned(list(originals), excluding=replacing)).items():
        left[line_id] -= quantity
    return [_return_line(n, line, originals, left) for n, line in enumerate(lines)]


def _return_line(n: int, line: ReturnLineIn, originals: dict[int, Sale], left: dict[int, Decimal]) -> NewLine:
    sold = originals.get(line.line_id)
    if sold is None:
        raise InvalidInput.for_field(f"lines[{n}].line_id", "not a line of this receipt")
    if line.quantity > left[sold.id]:
        raise Conflict(
            f"Line {sold.id} has {left[sold.id]} left to return",
            fields=[{"field": f"lines[{n}].quantity", "message": f"at most {left[sold.id]} left to return"}],
        )
    left[sold.id] -= line.quantity
    share = line.quantity / sold.quantity
    discount = (sold.discount * share).quantize(KOPECK, rounding=ROUND_HALF_UP)
    total = line_total(line.quantity, sold.unit_price, discount)
    return NewLine(
        sold.product_id, line.quantity, sold.unit_price, discount, total, line.external_id, sold.id
    )


async def delete_receipt(
    session: AsyncSession, receipt: Receipt, tz: ZoneInfo, *, batch: RollupDeltas | None = None
) -> None:
    """`receipt` comes locked (`ReceiptRepository.get_for_update`). One with returns stays: 409."""
    has_returns = Conflict(
        f"Receipt {receipt.id} has returns: delete them first",
        fields=[{"field": "id", "message": "the receipt has returns"}],
    )
    async with rollup_changes(session, tz, batch) as rollups:
        await rollups.capture(session, [receipt.id], -1)
        async with conflict_on(session, has_returns, states=(FOREIGN_KEY_VIOLATION,)):
            await session.delete(receipt)
            await session.flush()
