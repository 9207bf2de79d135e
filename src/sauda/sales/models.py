import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sauda.db import Base, RefMixin, TimestampMixin
from sauda.network.models import Company, Product


class PointKind(enum.StrEnum):
    store = "store"
    kiosk = "kiosk"
    online = "online"
    warehouse = "warehouse"


class ReceiptKind(enum.StrEnum):
    sale = "sale"
    return_ = "return"


class PaymentMethod(enum.StrEnum):
    cash = "cash"
    card = "card"
    kaspi_qr = "kaspi_qr"
    kaspi_red = "kaspi_red"
    transfer = "transfer"
    other = "other"
    unknown = "unknown"  # sales recorded before receipts, and files without a method


class ImportStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class ImportFormat(enum.StrEnum):
    csv = "csv"
    xlsx = "xlsx"


class Point(TimestampMixin, RefMixin, Base):
    """A point of sale. `code` is how POS exports and import files name it."""

    __tablename__ = "points"
    __table_args__ = (
        UniqueConstraint("company_id", "code"),
        UniqueConstraint("company_id", "external_id"),
        UniqueConstraint("company_id", "ref"),
        Index("ix_points_company_id_name", "company_id", "name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    kind: Mapped[PointKind] = mapped_column(Enum(PointKind, name="point_kind"), default=PointKind.store)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The key another system (1C, a POS) knows the point by: free text.
    external_id: Mapped[str | None] = mapped_column(String(100))

    company: Mapped[Company] = relationship(lazy="raise")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Customer(TimestampMixin, RefMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("company_id", "external_id"),
        UniqueConstraint("company_id", "ref"),
        Index("ix_customers_company_id_name", "company_id", "name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    external_id: Mapped[str | None] = mapped_column(String(100))

    company: Mapped[Company] = relationship(lazy="raise")

    def __str__(self) -> str:
        return self.name


class Receipt(TimestampMixin, RefMixin, Base):
    """A receipt (чек) of a till: lines and payments. A return is a receipt of kind `return`,
    with its original where there is one; its lines and payments are positive amounts that the
    metrics subtract. `total` is the sum of the lines' totals and of the payments."""

    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("company_id", "external_id"),
        UniqueConstraint("company_id", "ref"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint("kind = 'return' OR original_id IS NULL", name="only_returns_have_an_original"),
        Index("ix_receipts_company_id_sold_at", "company_id", "sold_at", "id"),
        Index("ix_receipts_point_id_sold_at", "point_id", "sold_at", "id", postgresql_include=["company_id"]),
        # Partial: most receipts have no customer and no original, and none is looked up by that.
        Index("ix_receipts_customer_id", "customer_id", postgresql_where="customer_id IS NOT NULL"),
        Index("ix_receipts_original_id", "original_id", postgresql_where="original_id IS NOT NULL"),
        # The list's search: a till's number (with the external id's unique index beside it).
        Index("ix_receipts_company_id_number", "company_id", "number"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    point_id: Mapped[int] = mapped_column(ForeignKey("points.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    kind: Mapped[ReceiptKind] = mapped_column(
        Enum(ReceiptKind, name="receipt_kind", values_callable=lambda e: [m.value for m in e]),
        default=ReceiptKind.sale,
    )
    # The till's number: free text, unique only together with its point and time.
    number: Mapped[str | None] = mapped_column(String(64))
    # A return's original receipt; none for a return made without one. No ON DELETE: a receipt
    # with returns stays (409), but a company's cascade removes both.
    original_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"))
    sold_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    external_id: Mapped[str | None] = mapped_column(String(100))

    point: Mapped[Point] = relationship(lazy="raise")
    # The database deletes lines and payments with their receipt (ON DELETE CASCADE).
    lines: Mapped[list["Sale"]] = relationship(lazy="raise", order_by="Sale.line_no", passive_deletes=True)
    payments: Mapped[list["Payment"]] = relationship(
        lazy="raise", order_by="Payment.id", passive_deletes=True
    )

    def __str__(self) -> str:
        return f"Receipt {self.number or self.id}"


class Payment(Base):
    """One payment of a receipt (a refund for a return): method and a positive amount."""

    __tablename__ = "receipt_payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # With the method: the list's "has a payment of this method" is an index-only probe.
        Index("ix_receipt_payments_receipt_id_method", "receipt_id", "method"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id", ondelete="CASCADE"))
    method: Mapped[PaymentMethod] = mapped_column(Enum(PaymentMethod, name="payment_method"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))


class Sale(TimestampMixin, RefMixin, Base):
    """One line of a receipt. `total` = round(quantity × unit_price − discount, 2), computed by
    the server. The receipt's company, point, customer, time and kind are kept on the line too
    (the receipt's writers keep them equal), so that lists, filters and rollups of lines need no
    join."""

    __tablename__ = "sales"
    __table_args__ = (
        UniqueConstraint("company_id", "external_id"),
        UniqueConstraint("company_id", "ref"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
        CheckConstraint("discount >= 0", name="discount_not_negative"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint("kind = 'return' OR returned_line_id IS NULL", name="only_returns_return_lines"),
        Index("ix_sales_company_id_sold_at", "company_id", "sold_at", "id"),
        # company_id is included so that the list's count (scope + point + period) is index-only,
        # the figures of a line so that metrics of one point by product are too.
        Index(
            "ix_sales_point_id_sold_at",
            "point_id",
            "sold_at",
            "id",
            postgresql_include=["company_id", "product_id", "kind", "quantity", "total"],
        ),
        Index("ix_sales_product_id_sold_at", "product_id", "sold_at", postgresql_include=["company_id"]),
        Index("ix_sales_customer_id", "customer_id", postgresql_where="customer_id IS NOT NULL"),
        Index("ix_sales_receipt_id", "receipt_id", "line_no"),
        Index(
            "ix_sales_returned_line_id", "returned_line_id", postgresql_where="returned_line_id IS NOT NULL"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(SmallInteger, default=1)
    kind: Mapped[ReceiptKind] = mapped_column(
        Enum(ReceiptKind, name="receipt_kind", values_callable=lambda e: [m.value for m in e]),
        default=ReceiptKind.sale,
    )
    # A return line's line of the original receipt: it returns at most what is left of that.
    returned_line_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id"))
    # The company's cascade deletes lines directly: through their receipts it would come after
    # the products' check that no line refers to them.
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    # The receipt's point, copied: no key of its own, the receipt's holds it (a point with
    # receipts cannot be deleted), and an import of a million lines skips a million checks.
    point_id: Mapped[int] = mapped_column(Integer)
    # No ON DELETE: a product with sales cannot be deleted (409), but a company's cascade
    # removes both in one statement.
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    discount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    sold_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    external_id: Mapped[str | None] = mapped_column(String(100))

    point: Mapped[Point] = relationship(lazy="raise", primaryjoin="foreign(Sale.point_id) == Point.id")
    product: Mapped[Product] = relationship(lazy="raise")
    customer: Mapped[Customer | None] = relationship(lazy="raise")

    def __str__(self) -> str:
        return f"Sale {self.id}"


# Rollups: kept in step with receipts in the same transaction as every write (sauda.sales.rollups).
# No foreign keys to points or products: a point or product with rollup rows has sales, which
# already keep it from being deleted, and a key here would make every delete scan the rollup.
# Amounts of returns are kept apart from sales (`returns`): net = revenue − returns.


class DailyPointSales(Base):
    """Per company, business day and point."""

    __tablename__ = "sales_daily_points"

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    point_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revenue: Mapped[Decimal] = mapped_column(Numeric(16, 2))  # lines of sale receipts
    sales_count: Mapped[int] = mapped_column(Integer)  # lines of sale receipts
    quantity: Mapped[Decimal] = mapped_column(Numeric(16, 3))
    receipts: Mapped[int] = mapped_column(Integer, server_default="0")
    returns: Mapped[Decimal] = mapped_column(Numeric(16, 2), server_default="0")
    return_lines: Mapped[int] = mapped_column(Integer, server_default="0")
    returned_quantity: Mapped[Decimal] = mapped_column(Numeric(16, 3), server_default="0")
    return_receipts: Mapped[int] = mapped_column(Integer, server_default="0")


class DailyProductSales(Base):
    """Per company, business day and product."""

    __tablename__ = "sales_daily_products"

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revenue: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    sales_count: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[Decimal] = mapped_column(Numeric(16, 3))
    returns: Mapped[Decimal] = mapped_column(Numeric(16, 2), server_default="0")
    return_lines: Mapped[int] = mapped_column(Integer, server_default="0")
    returned_quantity: Mapped[Decimal] = mapped_column(Numeric(16, 3), server_default="0")


class MonthlyProductSales(Base):
    """Per company, month (its first day) and product: top products over long periods read
    twelve rows a year per product instead of 365."""

    __tablename__ = "sales_monthly_products"

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revenue: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    sales_count: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[Decimal] = mapped_column(Numeric(16, 3))
    returns: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    return_lines: Mapped[int] = mapped_column(Integer)
    returned_quantity: Mapped[Decimal] = mapped_column(Numeric(16, 3))


class DailyPayments(Base):
    """Per company, business day, point and payment method: paid on sales, refunded on returns."""

    __tablename__ = "sales_daily_payments"

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    point_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    method: Mapped[PaymentMethod] = mapped_column(
        Enum(PaymentMethod, name="payment_method", create_type=False), primary_key=True
    )
    paid: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    payments: Mapped[int] = mapped_column(Integer)
    refunded: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    refunds: Mapped[int] = mapped_column(Integer)


class HourlyPointSales(Base):
    """Per company, business day, point and hour of day (0–23): the peak-hours view."""

    __tablename__ = "sales_hourly_points"

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    point_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    revenue: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    receipts: Mapped[int] = mapped_column(Integer)
    returns: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    return_receipts: Mapped[int] = mapped_column(Integer)


class SalesImport(TimestampMixin, Base):
    """An uploaded file of sales and what the worker made of it."""

    __tablename__ = "sales_imports"
    __table_args__ = (Index("ix_sales_imports_company_id_created_at", "company_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # None: an admin's import whose rows each name their company (a `company_id` column).
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    format: Mapped[ImportFormat] = mapped_column(Enum(ImportFormat, name="sales_import_format"))
    encoding: Mapped[str] = mapped_column(String(20), default="utf-8")
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    all_or_nothing: Mapped[bool] = mapped_column(Boolean, default=True)
    create_missing: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[ImportStatus] = mapped_column(
        Enum(ImportStatus, name="sales_import_status"), default=ImportStatus.queued
    )
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_inserted: Mapped[int] = mapped_column(Integer, default=0)
    rows_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    rows_failed: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class SalesImportChunk(Base):
    """The uploaded file, in 1 MB pieces, so the worker needs no disk shared with the API.
    Deleted when the import finishes."""

    __tablename__ = "sales_import_chunks"

    import_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sales_imports.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
