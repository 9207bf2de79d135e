"""Upserts and deletions from 1C keyed by `external_id`: each item on its own, each with its result.

Every item runs in a savepoint, so a bad item leaves no trace and the good ones still land;
sending the same items again updates nothing that is already equal. An item is found by its
`external_id`, or by its `ref` when the key is the UUID 1C gave its copy of a Sauda record.

A client of all companies names each item's company; any other client writes into its own. The
call holds every company it writes into, then their batch locks, in company order; a return's
original receipt is locked before the return itself; the rollup changes of its sales and
receipts are applied once after the last item (the writers' lock order, sauda.sales.repository).

A receipt comes whole, with its lines and payments: an update keeps the receipt (its id and ref)
and replaces its lines and payments through the receipts service.
"""

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.auth.models import IntegrationClient
from sauda.errors import FOREIGN_KEY_VIOLATION, InvalidInput, SaudaError, sqlstate, validation_fields
from sauda.exchange.models import Entity
from sauda.exchange.schemas import (
    CustomerIn,
    FromOneC,
    PointIn,
    ProductIn,
    ReceiptIn,
    ReceiptLineIn,
    Rounded,
    SaleIn,
    as_decimal,
)
from sauda.network import service as network_service
from sauda.network.models import Company, Product
from sauda.sales import service as sales_service
from sauda.sales.models import Customer, Point, Receipt, ReceiptKind, Sale
from sauda.sales.receipts import service as receipts_service
from sauda.sales.receipts.repository import ReceiptRepository
from sauda.sales.receipts.schemas import PaymentIn, ReturnLineIn
from sauda.sales.receipts.service import Header, NewLine, business_aware, check_total
from sauda.sales.repository import hold_company, lock_company_batch
from sauda.sales.rollups import RollupDeltas, RollupRepository
from sauda.sales.schemas import SaleCreate, SaleUpdate
from sauda.tenancy import Scope

Problems = list[dict[str, str]]
# Status (created, updated, unchanged, deleted), the row id, notes on what was filled in.
Outcome = tuple[str, int | None, Problems]


@dataclass(frozen=True)
class Context:
    """What the items of one call share: the business timezone and today's date in it."""

    tz: ZoneInfo
    today: date


Apply = Callable[[AsyncSession, int, Any, Context, RollupDeltas], Awaitable[Outcome]]


@dataclass(frozen=True)
class Upsert:
    schema: type[FromOneC]
    model: Any
    apply: Apply


def as_uuid(key: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(key)
    except ValueError:
        return None


async def find(session: AsyncSession, model: Any, company_id: int, key: str, *, lock: bool = False) -> Any:
    """The company's record 1C knows by `key`: its external_id, else its ref."""
    stmt = select(model).where(model.company_id == company_id)
    if lock:
        stmt = stmt.with_for_update()
    row = await session.scalar(stmt.where(model.external_id == key))
    if row is None and (ref := as_uuid(key)) is not None:
        row = await session.scalar(stmt.where(model.ref == ref))
    return row


async def _put_simple(
    session: AsyncSession, model: Any, company_id: int, data: FromOneC, defaults: dict[str, Any] | None = None
) -> Outcome:
    """`defaults`: values a new record takes for fields 1C left empty (an existing one keeps its
    own); a note says so."""
    defaults = defaults or {}
    row = await find(session, model, company_id, data.external_id)
    if row is None:
        values = data.model_dump(exclude=set(FromOneC.model_fields))
        filled = {k: v for k, v in defaults.items() if values.get(k) is None}
        ref = as_uuid(data.external_id) or uuid.uuid4()
        row = model(company_id=company_id, external_id=data.external_id, ref=ref, **values | filled)
        session.add(row)
        await session.flush()
        return (
            "created",
            row.id,
            [{"field": k, "message": f"not sent: set to {v}"} for k, v in filled.items()],
        )
    values = data.model_dump(exclude=set(FromOneC.model_fields), exclude_unset=True)
    values = {k: v for k, v in values.items() if not (k in defaults and v is None)}
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    for field, value in changed.items():
        setattr(row, field, value)
    await session.flush()
    return ("updated" if changed else "unchanged"), row.id, []


async def _put_product(
    session: AsyncSession, company_id: int, data: ProductIn, ctx: Context, *_: object
) -> Outcome:
    if data.release_date is not None:
        network_service.ensure_released(data.release_date, today=ctx.today)
    # As the sales import does for products it creates: the release date is not known.
    return await _put_simple(session, Product, company_id, data, {"release_date": ctx.today})


async def _put_customer(session: AsyncSession, company_id: int, data: CustomerIn, *_: object) -> Outcome:
    return await _put_simple(session, Customer, company_id, data)


async def _put_point(session: AsyncSession, company_id: int, data: PointIn, *_: object) -> Outcome:
    return await _put_simple(session, Point, company_id, data)


async def _reference(
    session: AsyncSession,
    model: Any,
    company_id: int,
    field: str,
    key: str | None,
    code: tuple[Any, str | None] | None = None,
) -> int:
    """The id of a referenced row: by its key (external_id or ref), else by its code."""
    if key is not None:
        found = await find(session, model, company_id, key)
    elif code is not None and code[1] is not None:
        column, value = code
        found = await session.scalar(select(model).where(model.company_id == company_id, column == value))
    else:
        raise InvalidInput.for_field(field, "required (or its code)")
    if found is None:
        raise InvalidInput.for_field(field, "no such record in this company; send it first")
    return int(found.id)


async def _point_and_customer(
    session: AsyncSession, company_id: int, data: SaleIn | ReceiptIn
) -> dict[str, Any]:
    point = (Point.code, data.point_code)
    customer = data.customer_external_id
    return {
        "point_id": await _reference(
            session, Point, company_id, "point_external_id", data.point_external_id, point
        ),
        "customer_id": None
        if customer is None
        else await _reference(session, Customer, company_id, "customer_external_id", customer),
    }


async def _sale_refs(session: AsyncSession, company_id: int, data: SaleIn) -> dict[str, Any]:
    product = (Product.sku, data.product_sku)
    return await _point_and_customer(session, company_id, data) | {
        "product_id": await _reference(
            session, Product, company_id, "product_external_id", data.product_external_id, product
        ),
    }


async def _put_sale(
    session: AsyncSession, company_id: int, data: SaleIn, ctx: Context, rollups: RollupDeltas
) -> Outcome:
    tz = ctx.tz
    values = await _sale_refs(session, company_id, data) | {
        "quantity": data.quantity,
        "unit_price": data.unit_price,
        "discount": data.discount,
        "sold_at": data.sold_at,
    }
    scope = Scope.company(company_id)
    # Not locked here: updating it locks its receipt, then the line (the writers' lock order).
    sale = await find(session, Sale, company_id, data.external_id)
    if sale is None:
        create = SaleCreate(**values, external_id=data.external_id)
        ref = as_uuid(data.external_id)
        created = await sales_service.create_sale(session, scope, create, tz, batch=rollups, ref=ref)
        return "created", created.id, []
    current = {k: getattr(sale, k) for k in values}
    current["sold_at"] = sale.sold_at.astimezone(tz).replace(tzinfo=None)
    if current == values | {"sold_at": data.sold_at.replace(tzinfo=None)}:
        return "unchanged", sale.id, []
    await sales_service.update_sale(session, scope, sale, SaleUpdate(**values), tz, batch=rollups)
    return "updated", sale.id, []


# --- receipts: sent whole; an update replaces the lines and payments ----------------------------

LINE_FIELDS = tuple(f.name for f in fields(NewLine) if f.name != "ref")


async def _original(
    session: AsyncSession, company_id: int, data: ReceiptIn, receipt: Receipt | None
) -> Receipt | None:
    """A return's original, locked: before the return itself, as deleting the original locks it
    before its returns."""
    if data.original_external_id is None:
        return None
    field = "original_external_id"
    if data.kind is not ReceiptKind.return_:
        raise InvalidInput.for_field(field, "only a return has an original receipt")
    original = await find(session, Receipt, company_id, data.original_external_id)
    if original is None:
        raise InvalidInput.for_field(field, "no such receipt in this company; send it first")
    if original.kind is not ReceiptKind.sale or (receipt is not None and original.id == receipt.id):
        raise InvalidInput.for_field(field, "not a sale receipt: a return returns a sale")
    return await ReceiptRepository(session, Scope.company(company_id)).get_for_update(original.id)


def _returned_line(n: int, line: ReceiptLineIn, originals: list[Sale]) -> int:
    """The original's line that a return's line names, by its key (external_id or ref) or number."""
    if line.returned_line_external_id is not None:
        field, key = f"lines[{n}].returned_line_external_id", line.returned_line_external_id
        ref = as_uuid(key)
        found = next((o for o in originals if o.external_id == key or (ref and o.ref == ref)), None)
    elif line.returned_line_no is not None:
        field = f"lines[{n}].returned_line_no"
        found = next((o for o in originals if o.line_no == line.returned_line_no), None)
    else:
        message = "required in a return of a receipt (or returned_line_external_id)"
        raise InvalidInput.for_field(f"lines[{n}].returned_line_no", message)
    if found is None:
        raise InvalidInput.for_field(field, "not a line of the original receipt")
    return found.id


async def _line_products(session: AsyncSession, company_id: int, lines: list[ReceiptLineIn]) -> list[int]:
    return [
        await _reference(
            session,
            Product,
            company_id,
            f"lines[{n}].product_external_id",
            line.product_external_id,
            (Product.sku, line.product_sku),
        )
        for n, line in enumerate(lines)
    ]


def _sale_lines(lines: list[ReceiptLineIn], products: list[int]) -> list[NewLine]:
    """Lines at the prices 1C sent: a sale's, or a return's made without its original."""
    if any(line.returned_line_external_id or line.returned_line_no for line in lines):
        raise InvalidInput.for_field("original_external_id", "required: a line names the line it returns")
    new = []
    for n, (line, product_id) in enumerate(zip(lines, products, strict=True)):
        total = check_total(line.quantity, line.unit_price, line.discount, None, field=f"lines[{n}].")
        new.append(
            NewLine(product_id, line.quantity, line.unit_price, line.discount, total, line.external_id)
        )
    return new


async def _return_lines(
    session: AsyncSession,
    original: Receipt,
    lines: list[ReceiptLineIn],
    products: list[int],
    replacing: int | None,
) -> tuple[list[NewLine], Problems]:
    """A return's lines, each naming the line it returns: at that line's price and a share of its
    discount (a note says so where 1C sent others), at most what is left of it."""
    scope = Scope.company(original.company_id)
    originals = await ReceiptRepository(session, scope).lines(original.id)
    returned = [
        ReturnLineIn(
            line_id=_returned_line(n, line, originals), quantity=line.quantity, external_id=line.external_id
        )
        for n, line in enumerate(lines)
    ]
    new = await receipts_service.return_lines(session, scope, original, returned, replacing=replacing)
    notes = []
    for n, (line, sent, product_id) in enumerate(zip(new, lines, products, strict=True)):
        if line.product_id != product_id:
            raise InvalidInput.for_field(
                f"lines[{n}].product_external_id", "not the product of the returned line"
            )
        if (sent.unit_price, sent.discount) != (line.unit_price, line.discount):
            message = (
                f"the returned line's price {line.unit_price} and discount share {line.discount} are used"
            )
            notes.append({"field": f"lines[{n}].unit_price", "message": message})
    return new, notes


async def _unchanged(
    session: AsyncSession, receipt: Receipt, header: Header, lines: list[NewLine], payments: list[PaymentIn]
) -> bool:
    stored = ReceiptRepository(session, Scope.company(receipt.company_id))
    total = sum((line.total for line in lines), Decimal("0.00"))
    return (
        all(getattr(receipt, name) == getattr(header, name) for name in receipts_service.HEADER_FIELDS)
        and [tuple(getattr(line, name) for name in LINE_FIELDS) for line in await stored.lines(receipt.id)]
        == [tuple(getattr(line, name) for name in LINE_FIELDS) for line in lines]
        and [(p.method, p.amount) for p in await stored.payments(receipt.id)]
        == receipts_service.check_payments(payments, total)
    )


async def _header(
    session: AsyncSession,
    company_id: int,
    data: ReceiptIn,
    receipt: Receipt | None,
    original: Receipt | None,
    tz: ZoneInfo,
) -> Header:
    return Header(
        company_id=company_id,
        **await _point_and_customer(session, company_id, data),
        kind=data.kind,
        number=data.number,
        sold_at=business_aware(data.sold_at, tz),
        external_id=data.external_id if receipt is None else receipt.external_id,
        original_id=None if original is None else original.id,
        ref=as_uuid(data.external_id) if receipt is None else None,  # made in 1C: its reference
    )


async def _lines(
    session: AsyncSession, company_id: int, data: ReceiptIn, original: Receipt | None, receipt: Receipt | None
) -> tuple[list[NewLine], Problems]:
    products = await _line_products(session, company_id, data.lines)
    if original is None:
        return _sale_lines(data.lines, products), []
    replacing = None if receipt is None else receipt.id
    return await _return_lines(session, original, data.lines, products, replacing)


async def _put_receipt(
    session: AsyncSession, company_id: int, data: ReceiptIn, ctx: Context, rollups: RollupDeltas
) -> Outcome:
    """The receipt 1C knows by `external_id`, with these lines and payments: created, replaced
    (same id and ref, new lines and payments) or left as it is when nothing differs."""
    receipt = await find(session, Receipt, company_id, data.external_id)
    original = await _original(session, company_id, data, receipt)
    if receipt is not None:
        await session.refresh(receipt, with_for_update=True)
    header = await _header(session, company_id, data, receipt, original, ctx.tz)
    lines, notes = await _lines(session, company_id, data, original, receipt)
    payments = [PaymentIn(method=p.method, amount=p.amount) for p in data.payments]
    if receipt is None:
        created = await receipts_service.write_receipt(session, header, lines, payments, rollups)
        return "created", created.id, notes
    if await _unchanged(session, receipt, header, lines, payments):
        return "unchanged", receipt.id, notes
    await receipts_service.replace_receipt(session, receipt, header, lines, payments, rollups)
    return "updated", receipt.id, notes


UPSERTS: dict[Entity, Upsert] = {
    Entity.products: Upsert(ProductIn, Product, _put_product),
    Entity.customers: Upsert(CustomerIn, Customer, _put_customer),
    Entity.points: Upsert(PointIn, Point, _put_point),
    Entity.sales: Upsert(SaleIn, Sale, _put_sale),
    Entity.receipts: Upsert(ReceiptIn, Receipt, _put_receipt),
}


async def _delete(
    session: AsyncSession, upsert: Upsert, company_id: int, key: str, ctx: Context, rollups: RollupDeltas
) -> Outcome:
    """1C deleted the record or marked it for deletion: it goes. Already gone is `unchanged`."""
    # A sale's receipt is locked before its line by delete_sale (the writers' lock order).
    row = await find(session, upsert.model, company_id, key, lock=upsert.model is not Sale)
    if row is None:
        return "unchanged", None, []
    if isinstance(row, Sale):
        await sales_service.delete_sale(session, row, ctx.tz, batch=rollups)
    elif isinstance(row, Receipt):
        await receipts_service.delete_receipt(session, row, ctx.tz, batch=rollups)
    else:
        await session.delete(row)
        await session.flush()
    return "deleted", row.id, []


async def _write(
    session: AsyncSession,
    upsert: Upsert,
    company_id: int,
    data: FromOneC,
    ctx: Context,
    rollups: RollupDeltas,
) -> Outcome:
    if data.deleted:
        return await _delete(session, upsert, company_id, data.external_id, ctx, rollups)
    return await upsert.apply(session, company_id, data, ctx, rollups)


def _result(
    index: int, raw: Any, status: str, row_id: int | None, errors: Problems, notes: Problems
) -> dict[str, Any]:
    external_id = raw.get("external_id") if isinstance(raw, dict) else None
    return {
        "index": index,
        "external_id": str(external_id) if external_id is not None else None,
        "status": status,
        "id": row_id,
        "errors": errors,
        "notes": notes,
    }


def _integrity_problem(exc: IntegrityError) -> Problems:
    if sqlstate(exc) == FOREIGN_KEY_VIOLATION:
        return [{"field": "deleted", "message": "other records (sales) still refer to it: delete them first"}]
    constraint = getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None) or "a constraint"
    field = "sku" if "sku" in constraint else "code" if "code" in constraint else "external_id"
    return [{"field": field, "message": f"conflicts with another record ({constraint})"}]


def rounding_notes(schema: type[BaseModel], raw: dict[str, Any], data: BaseModel, at: str = "") -> Problems:
    """A note for every number that was rounded on its way in (the `Rounded` fields), in nested
    objects too (`lines[0].quantity`)."""
    notes = []
    for name, info in schema.model_fields.items():
        value, sent_value = getattr(data, name), raw.get(name)
        if isinstance(value, list) and isinstance(sent_value, list):
            for n, (part, sent_part) in enumerate(zip(value, sent_value, strict=False)):
                if isinstance(part, BaseModel) and isinstance(sent_part, dict):
                    notes += rounding_notes(type(part), sent_part, part, f"{at}{name}[{n}].")
            continue
        rounded = next((m for m in info.metadata if isinstance(m, Rounded)), None)
        sent = as_decimal(sent_value) if rounded else None
        if sent is not None and sent != value:
            message = f"rounded {sent} to {value} (half up, as 1C's Окр(x, {rounded.places}))"  # type: ignore[union-attr]
            notes.append({"field": at + name, "message": message})
    return notes


def target_company(client: IntegrationClient, item: FromOneC) -> int:
    """The company an item is written into."""
    if client.all_companies:
        if item.company_id is None:
            raise InvalidInput.for_field("company_id", "required from a client of all companies")
        return item.company_id
    if item.company_id not in (None, client.company_id):
        raise InvalidInput.for_field("company_id", "not this client's company")
    return client.company_id


async def _hold_companies(session: AsyncSession, company_ids: set[int]) -> set[int]:
    """Hold the companies that exist and take their batch locks, in company order."""
    existing = set(await session.scalars(select(Company.id).where(Company.id.in_(company_ids))))
    for company_id in sorted(existing):
        await hold_company(session, company_id)
        await lock_company_batch(session, company_id)
    return existing


_INDEX = re.compile(r"\.(\d+)(?=\.|$)")


def _problems(exc: Exception) -> Problems:
    if isinstance(exc, ValidationError):
        # `lines[0].quantity`, as the notes and the receipts service name a nested field.
        return [f | {"field": _INDEX.sub(r"[\1]", f["field"])} for f in validation_fields(exc)]
    if isinstance(exc, SaudaError):
        return exc.fields or [{"field": "", "message": exc.message}]
    assert isinstance(exc, IntegrityError)
    return _integrity_problem(exc)


@dataclass
class _Item:
    index: int
    raw: Any
    data: FromOneC | None = None
    company_id: int | None = None
    problems: Problems | None = None


def _read(upsert: Upsert, client: IntegrationClient, index: int, raw: Any) -> _Item:
    """Validate an item; a deletion needs only its key and company."""
    item = _Item(index, raw)
    try:
        head = FromOneC.model_validate(raw)
        item.data = head if head.deleted else upsert.schema.model_validate(raw)
        item.company_id = target_company(client, item.data)
    except (ValidationError, SaudaError) as exc:
        item.problems = _problems(exc)
    return item


async def upsert_items(
    session: AsyncSession, *, client: IntegrationClient, entity: Entity, items: list[Any], ctx: Context
) -> list[dict[str, Any]]:
    if entity not in UPSERTS:
        raise InvalidInput.for_field("entity", f"1C cannot send {entity.value}")
    upsert = UPSERTS[entity]
    read = [_read(upsert, client, index, raw) for index, raw in enumerate(items)]
    companies = await _hold_companies(session, {i.company_id for i in read if i.company_id is not None})
    rollups = RollupDeltas(ctx.tz)
    results = []
    for item in read:
        if item.problems is None and item.company_id not in companies:
            item.problems = [{"field": "company_id", "message": "no such company"}]
        if item.problems is not None or item.data is None or item.company_id is None:
            results.append(_result(item.index, item.raw, "error", None, item.problems or [], []))
            continue
        item_rollups = RollupDeltas(ctx.tz)  # dropped with the item's savepoint if it fails
        try:
            async with session.begin_nested():
                status, row_id, notes = await _write(
                    session, upsert, item.company_id, item.data, ctx, item_rollups
                )
        except (ValidationError, SaudaError, IntegrityError) as exc:
            results.append(_result(item.index, item.raw, "error", None, _problems(exc), []))
            continue
        rollups.merge(item_rollups)
        if not item.data.deleted:
            notes += rounding_notes(upsert.schema, item.raw, item.data)
        results.append(_result(item.index, item.raw, status, row_id, [], notes))
    await RollupRepository(session, ctx.tz).apply(rollups)
    return results
