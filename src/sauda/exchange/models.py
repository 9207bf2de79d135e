import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sauda.db import Base


class Entity(enum.StrEnum):
    """What 1C can pull and push. Also the `entity` value the capture triggers write."""

    companies = "companies"
    products = "products"
    customers = "customers"
    points = "points"
    sales = "sales"
    receipts = "receipts"


class Change(Base):
    """The latest change of one row, written by triggers on the source tables (so every path
    that writes, API, admin, import or job, is captured). `xid` is the writing transaction's
    64-bit id (`pg_current_xact_id()`, never wraps). A reader delivers only changes of
    transactions older than its snapshot's xmin, ordered by (xid, row_id): every transaction
    that can still commit has an xid at or above that xmin, so a change that commits late can
    never land behind a cursor that has already moved past it."""

    __tablename__ = "exchange_changes"
    __table_args__ = (
        Index("ix_exchange_changes_entity_company_id_xid", "entity", "company_id", "xid", "row_id"),
        Index("ix_exchange_changes_entity_xid", "entity", "xid", "row_id"),  # clients of all companies
    )

    entity: Mapped[str] = mapped_column(String(20), primary_key=True)
    row_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(Integer)
    xid: Mapped[int] = mapped_column(BigInteger)
    deleted: Mapped[bool] = mapped_column(Boolean)
    # A deleted row's identifiers (id, ref, external_id, company_id, a code), taken by the trigger
    # at deletion: the tombstone carries what 1C finds its copy by. Null while the row lives.
    identifiers: Mapped[dict[str, object] | None] = mapped_column(JSONB)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Cursor(Base):
    """How far a client has acknowledged one entity's changes: (xid, row_id) of the last one."""

    __tablename__ = "exchange_cursors"

    client_id: Mapped[int] = mapped_column(
        ForeignKey("integration_clients.id", ondelete="CASCADE"), primary_key=True
    )
    entity: Mapped[str] = mapped_column(String(20), primary_key=True)
    xid: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    row_id: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Batch(Base):
    """One delivered batch of changes and its JSON file, kept for redelivery and manual loads."""

    __tablename__ = "exchange_batches"
    __table_args__ = (
        # At most one unacknowledged batch per client and entity: asking again gets it back.
        Index(
            "ix_exchange_batches_pending",
            "client_id",
            "entity",
            unique=True,
            postgresql_where=text("acknowledged_at IS NULL"),
        ),
        Index("ix_exchange_batches_client_id_delivered_at", "client_id", "delivered_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    client_id: Mapped[int] = mapped_column(ForeignKey("integration_clients.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(20))
    item_count: Mapped[int] = mapped_column(Integer)
    has_more: Mapped[bool] = mapped_column(Boolean)
    end_xid: Mapped[int] = mapped_column(BigInteger)
    end_row_id: Mapped[int] = mapped_column(BigInteger)
    ack_token: Mapped[str] = mapped_column(String(64), unique=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    delivered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    redelivered: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Closed unacknowledged because the client started its changes afresh after a full load.
    superseded: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
