"""Business rules of sales: points, customers, sales with their rollups. Flushes only.
(Metrics: sauda.sales.metrics.)"""

import uuid
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.auth.models import User
from sauda.errors import Conflict, InvalidInput
from sauda.network.models import Product
from sauda.network.repository import ProductRepository
from sauda.network.service import owner_company
from sauda.sales.models import Customer, Payment, PaymentMethod, Point, Receipt, ReceiptKind, Sale
from sauda.sales.receipts.repository import ReceiptRepository, lock_receipt_of
from sauda.sales.receipts.schemas import LineIn, ReceiptCreate
from sauda.sales.receipts.service import (
    business_aware,
    check_total,
    create_receipt,
    delete_receipt,
    line_total,
    rollup_changes,
    unique_in_company,
)
from sauda.sales.repository import (
    CustomerRepository,
    PointRepository,
    SaleRepository,
)
from sauda.sales.rollups import RollupDeltas
from sauda.sales.schemas import (
    CustomerCreate,
    CustomerUpdate,
    PointCreate,
    PointUpdate,
    SaleCreate,
    SaleUpdate,
)
from sauda.tenancy import Scope

# --- points ----------------------------------------------------------------------------------


async def create_point(session: AsyncSession, scope: Scope, actor: User, data: PointCreate) -> Point:
    company_id = await owner_company(session, scope, actor, data.company_id)
    points = PointRepository(session, scope)
    await _ensure_code_free(points, company_id, data.code)
    async with unique_in_company(session, "code"):
        return await points.add(Point(**data.model_dump(exclude={"company_id"}), company_id=company_id))


async def update_point(session: AsyncSession, scope: Scope, point: Point, data: PointUpdate) -> Point:
    changes = data.model_dump(exclude_unset=True)
    if "code" in changes:
        await _ensure_code_free(PointRepository(session, scope), point.company_id, changes["code"], point.id)
    for field, value in changes.items():
        setattr(point, field, value)
    async with unique_in_company(session, "code"):
        await session.flush()
    return point


async def _ensure_code_free(
    points: PointRepository, company_id: int, code: str, exclude: int | None = None
) -> None:
    if await points.code_taken(company_id, code, exclude):
        raise Conflict(
            f"Code {code!r} is already used by another point of this company",
            fields=[{"field": "code", "message": "already used in this company"}],
        )


# --- customers -------------------------------------------------------------------------------


async def create_customer(session: AsyncSession, scope: Scope, actor: User, data: CustomerCreate) -> Customer:
    company_id = await owner_company(session, scope, actor, data.company_id)
    customers = CustomerRepository(session, scope)
    if data.external_id is not None:
        await _ensure_customer_id_free(customers, company_id, data.external_id)
    async with unique_in_company(session, "external_id"):
        return await customers.add(Customer(**data.model_dump(exclude={"company_id"}), company_id=company_id))


async def update_customer(
    session: AsyncSession, scope: Scope, customer: Customer, data: CustomerUpdate
) -> Customer:
    changes = data.model_dump(exclude_unset=True)
    if changes.get("external_id") is not None:
        customers = CustomerRepository(session, scope)
        await _ensure_customer_id_free(customers, customer.company_id, changes["external_id"], customer.id)
    for field, value in changes.items():
        setattr(customer, field, value)
    async with unique_in_company(session, "external_id"):
        await session.flush()
    return customer


async def _ensure_customer_id_free(
    customers: CustomerRepository, company_id: int, external_id: str, exclude: int | None = None
) -> None:
    if await customers.external_id_taken(company_id, external_id, exclude):
        raise Conflict(
            f"External id {external_id!r} is already used by another customer",
            fields=[{"field": "external_id", "message": "already used in this company"}],
        )


# --- sales: one line of a receipt, through the older /sales routes ---------------------------
#
# A sale created here is a one-line receipt (paid with method `unknown`); a line of a
# one-line receipt may be changed or deleted here and its receipt follows. A line of a bigger
# receipt, or of a return, is changed through its receipt.

sale_total = line_total  # the older name, kept for its callers


async def _resolve_refs(session: AsyncSession, scope: Scope, values: dict[str, Any]) -> None:
    """Point, product and customer must exist in the caller's scope and in the point's company:
    anything else is 404, as if it did not exist."""
    point = await PointRepository(session, scope).get(values["point_id"])
    same_company = Scope.company(point.company_id)
    product: Product = await ProductRepository(session, same_company).get(values["product_id"])
    if values.get("customer_id") is not None:
        await CustomerRepository(session, same_company).get(values["customer_id"])
    values["company_id"] = product.company_id


async def create_sale(
    session: AsyncSession,
    scope: Scope,
    data: SaleCreate,
    tz: ZoneInfo,
    *,
    batch: RollupDeltas | None = None,
    ref: uuid.UUID | None = None,
) -> Sale:
    """A one-line receipt; its line is the sale. `ref`: the 1C reference of a sale made in 1C
    (else the sale gets a new one). The external id names both the receipt and its line."""
    line = LineIn(
        product_id=data.product_id,
        quantity=data.quantity,
        unit_price=data.unit_price,
        discount=data.discount,
        total=data.total,
        external_id=data.external_id,
    )
    receipt_in = ReceiptCreate(
        point_id=data.point_id,
        customer_id=data.customer_id,
        sold_at=data.sold_at,
        external_id=data.external_id,
        lines=[line],
    )
    try:
        receipt = await create_receipt(session, scope, receipt_in, tz, batch=batch, line_ref=ref)
    except InvalidInput as exc:  # the line's fields are the sale's
        raise InvalidInput(exc.message, fields=_sale_fields(exc.fields)) from exc
    sale: Sale | None = await session.scalar(select(Sale).where(Sale.receipt_id == receipt.id))
    assert sale is not None
    return sale


def _sale_fields(fields: list[dict[str, str]] | None) -> list[dict[str, str]] | None:
    return [f | {"field": f["field"].removeprefix("lines[0].")} for f in fields] if fields else fields


async def _only_line(session: AsyncSession, sale: Sale) -> Receipt:
    """The sale's receipt, locked before the line, if the sale is all of it."""
    receipt = await lock_receipt_of(session, sale)
    lines = await session.scalar(select(func.count()).where(Sale.receipt_id == receipt.id))
    if lines != 1 or receipt.kind is not ReceiptKind.sale:
        raise Conflict(
            f"Sale {sale.id} is a line of receipt {receipt.id}: change it through /api/v1/receipts",
            fields=[{"field": "id", "message": "a line of a receipt with several lines, or of a return"}],
        )
    return receipt


async def update_sale(
    session: AsyncSession,
    scope: Scope,
    sale: Sale,
    data: SaleUpdate,
    tz: ZoneInfo,
    *,
    batch: RollupDeltas | None = None,
) -> Sale:
    """`sale`'s company comes held (`SaleRepository.get_for_update`); its receipt follows."""
    receipt = await _only_line(session, sale)
    changes = data.model_dump(exclude_unset=True)
    await _keep_what_was_returned(session, sale, changes)
    sent_total = changes.pop("total", None)
    current = {c: getattr(sale, c) for c in ("point_id", "product_id", "customer_id")}
    values = current | {k: v for k, v in changes.items() if k in current}
    if values != current:
        await _resolve_refs(session, scope, values)
        if values["company_id"] != sale.company_id:
            raise InvalidInput.for_field("point_id", "a sale stays with its company")
    if changes.get("external_id") is not None:
        await _ensure_sale_id_free(
            SaleRepository(session, scope), sale.company_id, changes["external_id"], sale.id
        )
    async with rollup_changes(session, tz, batch) as rollups:
        await rollups.capture(session, [receipt.id], -1)
        for field, value in changes.items():
            setattr(sale, field, business_aware(value, tz) if field == "sold_at" else value)
        sale.total = check_total(sale.quantity, sale.unit_price, sale.discount, sent_total)
        await _follow(session, receipt, sale)
        async with unique_in_company(session, "external_id"):
            await session.flush()
        await rollups.capture(session, [receipt.id], +1)
    return sale


async def _keep_what_was_returned(session: AsyncSession, sale: Sale, changes: dict[str, Any]) -> None:
    """A sale with returns keeps the product, price and discount they were made at, and at
    least the quantity returned (its receipt is locked: no return comes in meanwhile)."""
    fixed = [
        f for f in ("product_id", "unit_price", "discount") if f in changes and changes[f] != getattr(sale, f)
    ]
    if not fixed and "quantity" not in changes:
        return
    receipts = ReceiptRepository(session, Scope.company(sale.company_id))
    returned = (await receipts.returned([sale.id])).get(sale.id)
    if returned is None:
        return
    if fixed:
        raise Conflict(
            f"Sale {sale.id} has returns: its {fixed[0]} stays",
            fields=[{"field": f, "message": "the sale has returns made at it"} for f in fixed],
        )
    if changes["quantity"] < returned:
        raise Conflict(
            f"Sale {sale.id} has {returned} returned: its quantity cannot be less",
            fields=[{"field": "quantity", "message": f"at least {returned}, returned already"}],
        )


async def _follow(session: AsyncSession, receipt: Receipt, sale: Sale) -> None:
    """A one-line receipt takes its line's point, customer, time, key and total; its single
    payment the total (more than one could no longer add up: 409)."""
    receipt.point_id, receipt.customer_id, receipt.sold_at = sale.point_id, sale.customer_id, sale.sold_at
    if sale.external_id is not None:
        await _ensure_receipt_key_free(session, receipt, sale.external_id)
        receipt.external_id = sale.external_id
    if receipt.total == sale.total:
        return
    payments = await ReceiptRepository(session, Scope.company(receipt.company_id)).payments(receipt.id)
    if len(payments) > 1:
        raise Conflict(
            f"Receipt {receipt.id} is paid in {len(payments)} payments: change it through /api/v1/receipts",
            fields=[{"field": "total", "message": "the payments would no longer add up"}],
        )
    receipt.total = sale.total
    if payments and sale.total > 0:
        payments[0].amount = sale.total
    elif payments:
        await session.delete(payments[0])
    elif sale.total > 0:
        session.add(Payment(receipt_id=receipt.id, method=PaymentMethod.unknown, amount=sale.total))


async def _ensure_receipt_key_free(session: AsyncSession, receipt: Receipt, external_id: str) -> None:
    taken = await session.scalar(
        select(Receipt.id).where(
            Receipt.company_id == receipt.company_id,
            Receipt.external_id == external_id,
            Receipt.id != receipt.id,
        )
    )
    if taken is not None:
        raise Conflict(
            f"External id {external_id!r} is already used by another receipt",
            fields=[{"field": "external_id", "message": "already used in this company"}],
        )


async def delete_sale(
    session: AsyncSession, sale: Sale, tz: ZoneInfo, *, batch: RollupDeltas | None = None
) -> None:
    """The sale's one-line receipt goes with it (`SaleRepository.get_for_update` held the company)."""
    receipt = await _only_line(session, sale)
    await delete_receipt(session, receipt, tz, batch=batch)


async def _ensure_sale_id_free(
    sales: SaleRepository, company_id: int, external_id: str, exclude: int | None = None
) -> None:
    if await sales.external_id_taken(company_id, external_id, exclude):
        raise Conflict(
            f"External id {external_id!r} is already used by another sale",
            fields=[{"field": "external_id", "message": "already used in this company"}],
        )
