"""What each exchange entity looks like to 1C: its table, its keys and how a row becomes an item.

PostgreSQL writes each item's JSON itself (`json_build_object`), so a page of a thousand rows
costs no Python per value: every documented key is present (null when empty), keys are valid
1C identifiers, `Numeric(14,2)` money keeps its two decimals and never an exponent, moments are
business-time strings `YYYY-MM-DDThh:mm:ss` without an offset, as ONEC.md requires.

An item holds its own record's columns, and of the records it points at only their `id` and
`ref`, which never change: a copied name or code would go stale in 1C whenever the other
record changed, since only the changed record itself is re-sent. 1C resolves a reference by the
`ref` it gave its own copy of the other record.

A record's own parts (a receipt's lines and payments) are nested in its item as an array of
objects (`Parts`), built by PostgreSQL in one subquery per record; a change of a part is captured
as a change of its record, so the record is re-sent whole.
"""

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, cast, false, func, literal_column, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import InstrumentedAttribute, aliased

from sauda.exchange.models import Entity
from sauda.network.models import Company, Product
from sauda.sales.models import Customer, Payment, Point, Receipt, Sale

MOMENT_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS'
DAY_FORMAT = 'YYYY-MM-DD"T00:00:00"'


class Kind(enum.Enum):
    plain = "plain"
    moment = "moment"  # timestamptz: business time, no offset
    day = "day"  # date: midnight of that day


@dataclass(frozen=True)
class Field:
    key: str
    column: ColumnElement[Any] | InstrumentedAttribute[Any]
    kind: Kind = Kind.plain
    # Kept by a deletion's tombstone (the capture trigger stores them; see the migration that
    # lists the same columns): what 1C finds its copy of the record by.
    identifier: bool = False

    def json_value(self, tz: str) -> ColumnElement[Any]:
        if self.kind is Kind.moment:
            return func.to_char(func.timezone(tz, self.column), MOMENT_FORMAT)
        if self.kind is Kind.day:
            return func.to_char(self.column, DAY_FORMAT)
        return self.column  # type: ignore[return-value]


Joins = Callable[[Select[Any]], Select[Any]]


def _no_joins(stmt: Select[Any]) -> Select[Any]:
    return stmt


def _pairs(fields: "tuple[Field | Parts, ...]", tz: str) -> list[ColumnElement[Any]]:
    """The arguments of `json_build_object`: key, value, key, value..."""
    pairs: list[ColumnElement[Any]] = []
    for f in fields:
        pairs += [literal_column(f"'{f.key}'"), f.json_value(tz)]
    return pairs


@dataclass(frozen=True)
class Parts:
    """The rows of another table that make up the record (a receipt's lines): an array of
    objects, `[]` when there are none. Its fields copy nothing of other records but their keys,
    as an item's own fields do."""

    key: str
    owner: InstrumentedAttribute[Any]  # the parts' column naming their record: Sale.receipt_id
    record: InstrumentedAttribute[Any]  # what it names: Receipt.id
    fields: tuple[Field, ...]
    order_by: tuple[InstrumentedAttribute[Any], ...]
    joins: Joins = _no_joins
    identifier: bool = False

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields)

    def json_value(self, tz: str) -> ColumnElement[Any]:
        item = func.json_build_object(*_pairs(self.fields, tz))
        array = func.coalesce(func.json_agg(aggregate_order_by(item, *self.order_by)), text("'[]'::json"))
        stmt = self.joins(select(array).select_from(self.owner.class_)).where(self.owner == self.record)
        # Correlated with the record's table alone: the feed query's joins are not the parts'.
        return stmt.correlate(self.record.class_).scalar_subquery()


@dataclass(frozen=True)
class EntitySpec:
    entity: Entity
    id_column: InstrumentedAttribute[Any]
    tenant_column: InstrumentedAttribute[Any]
    fields: tuple[Field | Parts, ...]
    joins: Joins = _no_joins

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields)

    @property
    def identifiers(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields if f.identifier)

    @property
    def parts(self) -> dict[str, Parts]:
        return {f.key: f for f in self.fields if isinstance(f, Parts)}

    def select_json(self, tz: str) -> Select[tuple[int, str]]:
        """(id, item JSON text) of each row."""
        pairs = [*_pairs(self.fields, tz), literal_column("'deleted'"), false()]
        stmt = select(self.id_column.label("id"), cast(func.json_build_object(*pairs), Text).label("item"))
        return self.joins(stmt.select_from(self.id_column.class_))


def tombstone(spec: EntitySpec, identifiers: dict[str, Any]) -> dict[str, Any]:
    """A deleted record: every key present, so 1C reads it with the same code; its identifiers
    as the live record had them, the rest null."""
    item: dict[str, Any] = dict.fromkeys(spec.keys)
    item.update({key: identifiers.get(key) for key in spec.identifiers}, deleted=True)
    return item


_supplier = aliased(Company)
_point = aliased(Point)
_product = aliased(Product)
_customer = aliased(Customer)
_original = aliased(Receipt)
_line_product = aliased(Product)  # the lines' own: never correlated with the feed's joins


def _key(key: str, column: InstrumentedAttribute[Any]) -> Field:
    return Field(key, column, identifier=True)


SPECS: dict[Entity, EntitySpec] = {
    Entity.companies: EntitySpec(
        Entity.companies,
        Company.id,
        Company.id,
        (
            _key("id", Company.id),
            _key("ref", Company.ref),
            Field("name", Company.name),
            Field("kind", Company.kind),
            Field("email", Company.email),
            Field("country", Company.country),
            Field("city", Company.city),
            Field("street", Company.street),
            Field("house_number", Company.house_number),
            Field("supplier_id", Company.supplier_id),
            Field("supplier_ref", _supplier.ref),
            Field("level", Company.level),
            Field("debt", Company.debt),
            Field("created_at", Company.created_at, Kind.moment),
        ),
        lambda stmt: stmt.outerjoin(_supplier, _supplier.id == Company.supplier_id),
    ),
    Entity.products: EntitySpec(
        Entity.products,
        Product.id,
        Product.company_id,
        (
            _key("id", Product.id),
            _key("ref", Product.ref),
            _key("external_id", Product.external_id),
            _key("company_id", Product.company_id),
            _key("sku", Product.sku),
            Field("name", Product.name),
            Field("model", Product.model),
            Field("release_date", Product.release_date, Kind.day),
            Field("created_at", Product.created_at, Kind.moment),
        ),
    ),
    Entity.customers: EntitySpec(
        Entity.customers,
        Customer.id,
        Customer.company_id,
        (
            _key("id", Customer.id),
            _key("ref", Customer.ref),
            _key("external_id", Customer.external_id),
            _key("company_id", Customer.company_id),
            Field("name", Customer.name),
            Field("phone", Customer.phone),
            Field("email", Customer.email),
            Field("created_at", Customer.created_at, Kind.moment),
        ),
    ),
    Entity.points: EntitySpec(
        Entity.points,
        Point.id,
        Point.company_id,
        (
            _key("id", Point.id),
            _key("ref", Point.ref),
            _key("external_id", Point.external_id),
            _key("company_id", Point.company_id),
            _key("code", Point.code),
            Field("name", Point.name),
            Field("city", Point.city),
            Field("address", Point.address),
            Field("kind", Point.kind),
            Field("is_active", Point.is_active),
            Field("created_at", Point.created_at, Kind.moment),
        ),
    ),
    Entity.sales: EntitySpec(
        Entity.sales,
        Sale.id,
        Sale.company_id,
        (
            _key("id", Sale.id),
            _key("ref", Sale.ref),
            _key("external_id", Sale.external_id),
            _key("company_id", Sale.company_id),
            Field("point_id", Sale.point_id),
            Field("point_ref", _point.ref),
            Field("product_id", Sale.product_id),
            Field("product_ref", _product.ref),
            Field("customer_id", Sale.customer_id),
            Field("customer_ref", _customer.ref),
            Field("quantity", Sale.quantity),
            Field("unit_price", Sale.unit_price),
            Field("discount", Sale.discount),
            Field("total", Sale.total),
            Field("sold_at", Sale.sold_at, Kind.moment),
            Field("created_at", Sale.created_at, Kind.moment),
        ),
        lambda stmt: (
            stmt.join(_point, _point.id == Sale.point_id)
            .join(_product, _product.id == Sale.product_id)
            .outerjoin(_customer, _customer.id == Sale.customer_id)
        ),
    ),
    Entity.receipts: EntitySpec(
        Entity.receipts,
        Receipt.id,
        Receipt.company_id,
        (
            _key("id", Receipt.id),
            _key("ref", Receipt.ref),
            _key("external_id", Receipt.external_id),
            _key("company_id", Receipt.company_id),
            Field("point_id", Receipt.point_id),
            Field("point_ref", _point.ref),
            Field("customer_id", Receipt.customer_id),
            Field("customer_ref", _customer.ref),
            Field("kind", Receipt.kind),
            Field("number", Receipt.number),
            Field("original_id", Receipt.original_id),
            Field("original_ref", _original.ref),
            Field("sold_at", Receipt.sold_at, Kind.moment),
            Field("total", Receipt.total),
            Field("created_at", Receipt.created_at, Kind.moment),
            Parts(
                "lines",
                Sale.receipt_id,
                Receipt.id,
                (
                    Field("id", Sale.id),
                    Field("ref", Sale.ref),
                    Field("line_no", Sale.line_no),
                    Field("external_id", Sale.external_id),
                    Field("product_id", Sale.product_id),
                    Field("product_ref", _line_product.ref),
                    Field("quantity", Sale.quantity),
                    Field("unit_price", Sale.unit_price),
                    Field("discount", Sale.discount),
                    Field("total", Sale.total),
                    Field("returned_line_id", Sale.returned_line_id),
                ),
                (Sale.line_no, Sale.id),
                lambda stmt: stmt.join(_line_product, _line_product.id == Sale.product_id),
            ),
            Parts(
                "payments",
                Payment.receipt_id,
                Receipt.id,
                (Field("method", Payment.method), Field("amount", Payment.amount)),
                (Payment.id,),
            ),
        ),
        lambda stmt: (
            stmt.join(_point, _point.id == Receipt.point_id)
            .outerjoin(_customer, _customer.id == Receipt.customer_id)
            .outerjoin(_original, _original.id == Receipt.original_id)
        ),
    ),
}
