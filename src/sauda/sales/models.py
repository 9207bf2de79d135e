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


class Sale(TimestampMixin, RefMixin, Base):
    """One sold line. `total` = round(quantity × unit_price − discount, 2), computed by the server."""

    __tablename__ = "sales"
    __table_args__ = (
        UniqueConstraint("company_id", "external_id"),
        UniqueConstraint("company_id", "ref"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
        CheckConstraint("discount >= 0", name="discount_not_negative"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        Index("ix_sales_company_id_sold_at", "company_id", "sold_at", "id"),
        # company_id is included so that the list's count (scope + point + period) is index-only.
        Index("ix_sales_point_id_sold_at", "point_id", "sold_at", "id", postgresql_include=["company_id"]),
        Index("ix_sales_product_id_sold_at", "product_id", "sold_at", postgresql_include=["company_id"]),
        Index("ix_sales_customer_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    # No ON DELETE: a point or product with sales cannot be deleted (409), but a company's
    # cascade removes both in one statement.
    point_id: Mapped[int] = mapped_column(ForeignKey("points.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    discount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    sold_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    external_id: Mapped[str | None] = mapped_column(String(100))

    point: Mapped[Point] = relationship(lazy="raise")
    product: Mapped[Product] = relationship(lazy="raise")
    customer: Mapped[Customer | None] = relationship(lazy="raise")

    def __str__(self) -> str:
        return f"Sale {self.id}"


class DailyPointSales(Base):
    """Rollup: one row per company, business-timezone day and point. Kept in step with `sales`
    in the same transaction as every write (sauda.sales.repository.RollupRepository)."""

    __tablename__ = "sales_daily_points"

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # No foreign key: a point with rollup rows has sales, which already keep it from being
    # deleted, and a key here would make every point delete scan the rollup.
    point_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revenue: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    sales_count: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[Decimal] = mapped_column(Numeric(16, 3))


class DailyProductSales(Base):
    """Rollup: one row per company, business-timezone day and product."""

    __tablename__ = "sales_daily_products"

    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # No foreign key, as for the point rollup: a product delete would scan millions of rows.
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revenue: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    sales_count: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[Decimal] = mapped_column(Numeric(16, 3))


class SalesImport(TimestampMixin, Base):
    """An uploaded file of sales and what the worker made of it."""

    __tablename__ = "sales_imports"
    __table_args__ = (Index("ix_sales_imports_company_id_created_at", "company_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
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
