import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
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

    store: Mapped[KaspiStore] = relationship(lazy="raise")
    product: Mapped[Product | None] = relationship(lazy="raise")

    def __str__(self) -> str:
        return f"{self.sku} {self.title}"
