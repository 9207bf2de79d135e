import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sauda.db import Base, RefMixin, TimestampMixin

MAX_LEVEL = 4  # five levels: 0 (no supplier) .. 4
COMPANIES_STORAGE = {
    "fillfactor": "50",
    "autovacuum_vacuum_scale_factor": "0.02",
    "autovacuum_analyze_scale_factor": "0.05",
}


class CompanyKind(enum.StrEnum):
    factory = "factory"
    distributor = "distributor"
    dealer_center = "dealer_center"
    retail_chain = "retail_chain"
    entrepreneur = "entrepreneur"


class DebtReason(enum.StrEnum):
    scheduled_increase = "scheduled_increase"
    scheduled_decrease = "scheduled_decrease"
    cleared = "cleared"


class Company(TimestampMixin, RefMixin, Base):
    __tablename__ = "companies"
    __table_args__ = (
        CheckConstraint("debt >= 0", name="debt_not_negative"),
        CheckConstraint(f"level BETWEEN 0 AND {MAX_LEVEL}", name="level_range"),
        CheckConstraint(
            "kind <> 'factory' OR (supplier_id IS NULL AND debt = 0)",
            name="factory_has_no_supplier",
        ),
        CheckConstraint("supplier_id IS NULL OR supplier_id <> id", name="not_own_supplier"),
        CheckConstraint("(supplier_id IS NULL) = (level = 0)", name="level_matches_supplier"),
        UniqueConstraint("ref"),
        # The city and country filters ignore case: these serve them in the list's order. The
        # plain column is included so the list's count stays an index-only scan.
        *(
            Index(
                f"ix_companies_lower_{place}_name",
                func.lower(text(place)),
                "name",
                "id",
                postgresql_include=[place],
            )
            for place in ("city", "country")
        ),
        # Ordering by city (and the admin's list of cities) reads the plain column.
        Index("ix_companies_city_name", "city", "name", "id"),
        Index("ix_companies_name_id", "name", "id"),
        Index(
            "ix_companies_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
        # Half-empty pages let the scheduled debt runs update rows in place (HOT), without a new
        # entry in every index; prompt vacuums keep list counts index-only after a run.
        {"postgresql_with": COMPANIES_STORAGE},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[CompanyKind] = mapped_column(Enum(CompanyKind, name="company_kind"))
    email: Mapped[str] = mapped_column(String(320))
    country: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(100))
    street: Mapped[str] = mapped_column(String(200))
    house_number: Mapped[str] = mapped_column(String(20))
    supplier_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="RESTRICT"), index=True
    )
    level: Mapped[int] = mapped_column(SmallInteger, default=0)
    debt: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))

    supplier: Mapped["Company | None"] = relationship(remote_side=[id], lazy="raise")

    @property
    def address(self) -> str:
        return f"{self.country}, {self.city}, {self.street}, {self.house_number}"

    def __str__(self) -> str:
        return self.name


class Product(TimestampMixin, RefMixin, Base):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("company_id", "sku"),
        UniqueConstraint("company_id", "external_id"),
        UniqueConstraint("company_id", "ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200))
    release_date: Mapped[date] = mapped_column(Date)
    sku: Mapped[str] = mapped_column(String(64))
    # The key another system (1C, a POS) knows the product by: free text.
    external_id: Mapped[str | None] = mapped_column(String(100))

    company: Mapped[Company] = relationship(lazy="raise")

    def __str__(self) -> str:
        return f"{self.name} {self.model}"


class DebtRun(Base):
    """A claimed slot of a debt adjustment: its unique key makes every run happen once."""

    __tablename__ = "debt_runs"

    run_key: Mapped[str] = mapped_column(String(120), primary_key=True)
    reason: Mapped[DebtReason] = mapped_column(Enum(DebtReason, name="debt_reason"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DebtEntry(Base):
    """One change of one company's debt: the ledger that explains every balance."""

    __tablename__ = "debt_ledger"
    __table_args__ = (
        UniqueConstraint("run_key", "company_id"),
        Index("ix_debt_ledger_company_id_created_at", "company_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    balance_after: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    reason: Mapped[DebtReason] = mapped_column(Enum(DebtReason, name="debt_reason"))
    run_key: Mapped[str] = mapped_column(ForeignKey("debt_runs.run_key", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
