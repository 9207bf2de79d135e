"""Upserts from 1C keyed by the 1C reference UUID: each item on its own, each with its result.

Every item runs in a savepoint, so a bad item leaves no trace and the good ones still land;
sending the same items again updates nothing that is already equal. A batch holds its company
and the company's batch lock first; the rollup changes of its sales are applied once after the
last item (the writers' lock order, sauda.sales.repository).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.errors import InvalidInput, SaudaError, validation_fields
from sauda.exchange.models import Entity
from sauda.exchange.schemas import CustomerIn, FromOneC, PointIn, ProductIn, SaleIn
from sauda.network import service as network_service
from sauda.network.models import Product
from sauda.sales import service as sales_service
from sauda.sales.models import Customer, Point
from sauda.sales.repository import (
    RollupDeltas,
    RollupRepository,
    SaleRepository,
    hold_company,
    lock_company_batch,
)
from sauda.sales.schemas import SaleCreate, SaleUpdate
from sauda.tenancy import Scope

Outcome = tuple[str, int]  # status ("created", "updated", "unchanged") and the row id


@dataclass(frozen=True)
class Context:
    """What the items of one call share: the business timezone and today's date in it."""

    tz: ZoneInfo
    today: date


Apply = Callable[[AsyncSession, int, Any, Context, RollupDeltas], Awaitable[Outcome]]


@dataclass(frozen=True)
class Upsert:
    schema: type[FromOneC]
    apply: Apply


async def _by_external_id(session: AsyncSession, model: Any, company_id: int, external_id: str) -> Any:
    return await session.scalar(
        select(model).where(model.company_id == company_id, model.external_id == external_id)
    )


async def _put_simple(session: AsyncSession, model: Any, company_id: int, data: BaseModel) -> Outcome:
    values = data.model_dump(exclude={"external_id"})
    external_id = str(data.external_id)  # type: ignore[attr-defined]
    row = await _by_external_id(session, model, company_id, external_id)
    if row is None:
        row = model(company_id=company_id, external_id=external_id, **values)
        session.add(row)
        await session.flush()
        return "created", row.id
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    for field, value in changed.items():
        setattr(row, field, value)
    await session.flush()
    return ("updated" if changed else "unchanged"), row.id


async def _put_product(
    session: AsyncSession, company_id: int, data: ProductIn, ctx: Context, *_: object
) -> Outcome:
    network_service.ensure_released(data.release_date, today=ctx.today)
    return await _put_simple(session, Product, company_id, data)


async def _put_customer(session: AsyncSession, company_id: int, data: CustomerIn, *_: object) -> Outcome:
    return await _put_simple(session, Customer, company_id, data)


async def _put_point(session: AsyncSession, company_id: int, data: PointIn, *_: object) -> Outcome:
    return await _put_simple(session, Point, company_id, data)


async def _reference(
    session: AsyncSession,
    model: Any,
    company_id: int,
    field: str,
    external_id: Any,
    code: tuple[Any, str | None] | None = None,
) -> int:
    """The id of a referenced row: by its 1C reference, else by its code (point code, SKU)."""
    if external_id is not None:
        found = await _by_external_id(session, model, company_id, str(external_id))
    elif code is not None and code[1] is not None:
        column, value = code
        found = await session.scalar(select(model).where(model.company_id == company_id, column == value))
    else:
        raise InvalidInput.for_field(field, "required (or its code)")
    if found is None:
        raise InvalidInput.for_field(field, "no such record in this company; send it first")
    return int(found.id)


async def _sale_refs(session: AsyncSession, company_id: int, data: SaleIn) -> dict[str, Any]:
    point = (Point.code, data.point_code)
    product = (Product.sku, data.product_sku)
    customer = data.customer_external_id
    return {
        "point_id": await _reference(
            session, Point, company_id, "point_external_id", data.point_external_id, point
        ),
        "product_id": await _reference(
            session, Product, company_id, "product_external_id", data.product_external_id, product
        ),
        "customer_id": None
        if customer is None
        else await _reference(session, Customer, company_id, "customer_external_id", customer),
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
        "external_id": str(data.external_id),
    }
    scope = Scope.company(company_id)
    sale = await SaleRepository(session, scope).by_external_id_for_update(company_id, str(data.external_id))
    if sale is None:
        created = await sales_service.create_sale(session, scope, SaleCreate(**values), tz, batch=rollups)
        return "created", created.id
    current = {k: getattr(sale, k) for k in values}
    current["sold_at"] = sale.sold_at.astimezone(tz).replace(tzinfo=None)
    if current == values | {"sold_at": data.sold_at.replace(tzinfo=None)}:
        return "unchanged", sale.id
    await sales_service.update_sale(session, scope, sale, SaleUpdate(**values), tz, batch=rollups)
    return "updated", sale.id


UPSERTS: dict[Entity, Upsert] = {
    Entity.products: Upsert(ProductIn, _put_product),
    Entity.customers: Upsert(CustomerIn, _put_customer),
    Entity.points: Upsert(PointIn, _put_point),
    Entity.sales: Upsert(SaleIn, _put_sale),
}


def _result(
    index: int, raw: Any, status: str, row_id: int | None, errors: list[dict[str, str]]
) -> dict[str, Any]:
    external_id = raw.get("external_id") if isinstance(raw, dict) else None
    return {
        "index": index,
        "external_id": str(external_id) if external_id is not None else None,
        "status": status,
        "id": row_id,
        "errors": errors,
    }


def _integrity_message(exc: IntegrityError) -> list[dict[str, str]]:
    constraint = getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None) or "a constraint"
    field = "sku" if "sku" in constraint else "code" if "code" in constraint else "external_id"
    return [{"field": field, "message": f"conflicts with another record ({constraint})"}]


async def upsert_items(
    session: AsyncSession, *, company_id: int, entity: Entity, items: list[Any], ctx: Context
) -> list[dict[str, Any]]:
    if entity not in UPSERTS:
        raise InvalidInput.for_field("entity", f"1C cannot send {entity.value}")
    upsert = UPSERTS[entity]
    tz = ctx.tz
    await hold_company(session, company_id)
    await lock_company_batch(session, company_id)
    rollups = RollupDeltas(tz)
    results = []
    for index, raw in enumerate(items):
        try:
            data = upsert.schema.model_validate(raw)
            item_rollups = RollupDeltas(tz)  # dropped with the item's savepoint if it fails
            async with session.begin_nested():
                status, row_id = await upsert.apply(session, company_id, data, ctx, item_rollups)
            rollups.merge(item_rollups)
            results.append(_result(index, raw, status, row_id, []))
        except ValidationError as exc:
            results.append(_result(index, raw, "error", None, validation_fields(exc)))
        except SaudaError as exc:
            results.append(
                _result(index, raw, "error", None, exc.fields or [{"field": "", "message": exc.message}])
            )
        except IntegrityError as exc:
            results.append(_result(index, raw, "error", None, _integrity_message(exc)))
    await RollupRepository(session, tz).apply(rollups)
    return results
