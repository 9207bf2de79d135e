import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ARRAY, Boolean, CheckConstraint, DateTime, Enum, ForeignKey, String, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sauda.db import Base, TimestampMixin

if TYPE_CHECKING:
    from sauda.network.models import Company


class Role(enum.StrEnum):
    admin = "admin"
    employee = "employee"


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(Enum(Role, name="user_role"), default=Role.employee)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="RESTRICT"), index=True
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    company: Mapped["Company | None"] = relationship(lazy="raise")

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    def __str__(self) -> str:
        return self.email


class Invite(TimestampMixin, Base):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    company: Mapped["Company"] = relationship(lazy="raise")


class RefreshToken(Base):
    """One issued refresh token. Rotation revokes it; a revoked token presented again is reuse."""

    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ClientScope(enum.StrEnum):
    """What an integration client may call: the 1C exchange, the Telegram bot's calendar."""

    exchange = "exchange"
    calendar = "calendar"


class IntegrationClient(TimestampMixin, Base):
    """A machine login (1C, the Telegram bot): login + secret, bound to a company and to scopes.

    Only a SHA-256 digest of the secret is stored. Secrets are 256-bit random tokens the server
    generates, so a slow password hash would add nothing against guessing and would cost an
    Argon2 run on every request; the digest also lets an `X-Api-Key` be looked up directly.
    """

    __tablename__ = "integration_clients"
    __table_args__ = (
        CheckConstraint("scopes <@ ARRAY['exchange', 'calendar']::varchar[]", name="known_scopes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    login: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Plain strings (checked by the constraint): arrays of native enums trip up drivers and tools.
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set by an admin: the client sees every company (1C of the whole network), not only its own.
    all_companies: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    company: Mapped["Company"] = relationship(lazy="raise")

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: ClientScope) -> bool:
        return scope.value in self.scopes

    def __str__(self) -> str:
        return self.login
