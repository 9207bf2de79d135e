import enum
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sauda.db import Base, TimestampMixin
from sauda.network.models import Company, Product


class StoreStatus(enum.StrEnum):
    new = "new"  # never logged in
    active = "active"  # holds a session that worked last time
    needs_login = "needs_login"  # the session expired and could not be renewed: see status_reason


class OfferState(enum.StrEnum):
    on_sale = "on_sale"
    archived = "archived"
    removed = "removed"  # no longer in the cabinet at the last full sync


class DemperStrategy(enum.StrEnum):
    undercut = "undercut"  # the cheapest competitor minus the step (the default)
    position = "position"  # the N-th cheapest competitor minus the step
    match = "match"  # the cheapest competitor's price


class PriceAction(enum.StrEnum):
    pushed = "pushed"  # sent through the pricefeed
    dry_run = "dry_run"  # the store is in dry-run: recorded, not sent
    held = "held"  # nothing to change
    failed = "failed"  # decided, but the push or the lookup failed (see reason)


class PreorderStatus(enum.StrEnum):
    pending = "pending"  # set here; not yet uploaded or not yet visible on the storefront
    active = "active"  # the storefront shows it
    failed = "failed"  # did not show up in time, or the upload failed (see reason)


class KaspiStore(TimestampMixin, Base):
    """A merchant cabinet a company connected. Secrets are Fernet-encrypted (sauda.security)."""

    __tablename__ = "kaspi_stores"
    __table_args__ = (UniqueConstraint("company_id", "merchant_uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    merchant_uid: Mapped[str | None] = mapped_column(String(64))
    merchant_name: Mapped[str | None] = mapped_column(String(200))
    login_email: Mapped[str | None] = mapped_column(String(320))
    login_phone: Mapped[str | None] = mapped_column(String(32))
    city_id: Mapped[str] = mapped_column(String(9), default="750000000")
    sync_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[StoreStatus] = mapped_column(
        Enum(StoreStatus, name="kaspi_store_status"), default=StoreStatus.new
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    session_encrypted: Mapped[str | None] = mapped_column(Text)
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    logged_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    session_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_sync_error: Mapped[str | None] = mapped_column(Text)
    # Demper settings of the store (times in the business timezone; no hours = all day).
    demper_interval_minutes: Mapped[int] = mapped_column(Integer, default=15, server_default="15")
    demper_step: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    demper_hours_from: Mapped[time | None] = mapped_column(Time)
    demper_hours_to: Mapped[time | None] = mapped_column(Time)
    demper_excluded_merchants: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default="[]")
    demper_raise_when_alone: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    demper_dry_run: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    demper_last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    demper_last_result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    demper_last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    company: Mapped[Company] = relationship(lazy="raise")

    @property
    def has_session(self) -> bool:
        return self.session_encrypted is not None

    @property
    def has_credentials(self) -> bool:
        return self.credentials_encrypted is not None

    def __str__(self) -> str:
        return self.name


class KaspiOffer(Base):
    """One offer of a store as the cabinet last showed it, plus what we pushed since."""

    __tablename__ = "kaspi_offers"
    __table_args__ = (
        UniqueConstraint("store_id", "sku"),
        Index("ix_kaspi_offers_company_id_title", "company_id", "title", "id"),
        Index("ix_kaspi_offers_master_sku", "master_sku"),
        Index(
            "ix_kaspi_offers_demper_due",
            "store_id",
            "demper_next_at",
            postgresql_where=text("demper_enabled"),
        ),
        CheckConstraint(
            "demper_floor IS NULL OR demper_ceiling IS NULL OR demper_floor <= demper_ceiling",
            name="demper_floor_le_ceiling",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(ForeignKey("kaspi_stores.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"), index=True)
    sku: Mapped[str] = mapped_column(String(128))
    master_sku: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500), default="")
    brand: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[OfferState] = mapped_column(Enum(OfferState, name="kaspi_offer_state"))
    price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    min_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    max_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    city_prices: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    availabilities: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    shop_link: Mapped[str | None] = mapped_column(String(500))
    image_url: Mapped[str | None] = mapped_column(String(500))
    kaspi_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The last change sent through the pricefeed; Kaspi applies it a little later.
    pushed_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    pushed_available: Mapped[bool | None] = mapped_column(Boolean)
    pushed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pricefeed_id: Mapped[str | None] = mapped_column(String(100))
    # Demper settings of the offer (whole tenge); a null step takes the store's.
    demper_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    demper_floor: Mapped[int | None] = mapped_column(Integer)
    demper_ceiling: Mapped[int | None] = mapped_column(Integer)
    demper_step: Mapped[int | None] = mapped_column(Integer)
    demper_strategy: Mapped[DemperStrategy] = mapped_column(
        Enum(DemperStrategy, name="kaspi_demper_strategy"),
        default=DemperStrategy.undercut,
        server_default=DemperStrategy.undercut.value,
    )
    demper_position: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    demper_priority: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    demper_next_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    demper_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    store: Mapped[KaspiStore] = relationship(lazy="raise")
    product: Mapped[Product | None] = relationship(lazy="raise")

    def __str__(self) -> str:
        return f"{self.sku} {self.title}"


class KaspiPriceHistory(Base):
    """Every demper decision: what the price was, what it became (or would have), and why."""

    __tablename__ = "kaspi_price_history"
    __table_args__ = (Index("ix_kaspi_price_history_offer_id_created_at", "offer_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("kaspi_stores.id", ondelete="CASCADE"), index=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("kaspi_offers.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    old_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    new_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    leader_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    leader_merchant_id: Mapped[str | None] = mapped_column(String(64))
    competitors: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(40))
    action: Mapped[PriceAction] = mapped_column(Enum(PriceAction, name="kaspi_price_action"))
    detail: Mapped[str | None] = mapped_column(Text)
    pricefeed_id: Mapped[str | None] = mapped_column(String(100))

    offer: Mapped[KaspiOffer] = relationship(lazy="raise")


class KaspiPreorder(Base):
    """Preorder days of an offer on some (or all) of its pickup points, and whether Kaspi shows it."""

    __tablename__ = "kaspi_preorders"
    __table_args__ = (CheckConstraint("days BETWEEN 0 AND 30", name="days_0_30"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("kaspi_stores.id", ondelete="CASCADE"), index=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("kaspi_offers.id", ondelete="CASCADE"), unique=True)
    days: Mapped[int] = mapped_column(Integer)
    points: Mapped[list[str]] = mapped_column(JSONB, default=list)  # ["PP1", ...]; empty = every point
    status: Mapped[PreorderStatus] = mapped_column(
        Enum(PreorderStatus, name="kaspi_preorder_status"), default=PreorderStatus.pending
    )
    reason: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    uploaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pricefeed_id: Mapped[str | None] = mapped_column(String(100))
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    offer: Mapped[KaspiOffer] = relationship(lazy="raise")


class KaspiProxy(TimestampMixin, Base):
    """An outgoing proxy for storefront lookups: a company's own, or global (company_id null,
    admins only). The URL (with its credentials) is Fernet-encrypted; `label` is host:port."""

    __tablename__ = "kaspi_proxies"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    url_encrypted: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    benched_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    successes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    last_ok_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    company: Mapped[Company | None] = relationship(lazy="raise")

    def __str__(self) -> str:
        return self.label
