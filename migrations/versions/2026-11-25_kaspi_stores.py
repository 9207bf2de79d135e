"""Kaspi stores and offers (issue 5): stores per company with encrypted session and credentials,
offers as the last sync saw them.

Revision ID: e5ca5b1a0001
Revises: d7ca1e4da7e0
Create Date: 2026-11-25 16:26:28.797393+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e5ca5b1a0001"
down_revision: str | None = "d7ca1e4da7e0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kaspi_stores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("merchant_uid", sa.String(length=64), nullable=True),
        sa.Column("merchant_name", sa.String(length=200), nullable=True),
        sa.Column("login_email", sa.String(length=320), nullable=True),
        sa.Column("login_phone", sa.String(length=32), nullable=True),
        sa.Column("city_id", sa.String(length=9), nullable=False),
        sa.Column("sync_enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "status", sa.Enum("new", "active", "needs_login", name="kaspi_store_status"), nullable=False
        ),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("session_encrypted", sa.Text(), nullable=True),
        sa.Column("credentials_encrypted", sa.Text(), nullable=True),
        sa.Column("logged_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_kaspi_stores_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kaspi_stores")),
        sa.UniqueConstraint(
            "company_id", "merchant_uid", name=op.f("uq_kaspi_stores_company_id_merchant_uid")
        ),
    )
    op.create_index(op.f("ix_kaspi_stores_company_id"), "kaspi_stores", ["company_id"], unique=False)
    op.create_table(
        "kaspi_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("sku", sa.String(length=128), nullable=False),
        sa.Column("master_sku", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("brand", sa.String(length=200), nullable=True),
        sa.Column(
            "state", sa.Enum("on_sale", "archived", "removed", name="kaspi_offer_state"), nullable=False
        ),
        sa.Column("price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("min_price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("max_price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("city_prices", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("availabilities", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("shop_link", sa.String(length=500), nullable=True),
        sa.Column("image_url", sa.String(length=500), nullable=True),
        sa.Column("kaspi_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("pushed_price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("pushed_available", sa.Boolean(), nullable=True),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pricefeed_id", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_kaspi_offers_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_kaspi_offers_product_id_products"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["kaspi_stores.id"],
            name=op.f("fk_kaspi_offers_store_id_kaspi_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kaspi_offers")),
        sa.UniqueConstraint("store_id", "sku", name=op.f("uq_kaspi_offers_store_id_sku")),
    )
    op.create_index(
        "ix_kaspi_offers_company_id_title", "kaspi_offers", ["company_id", "title", "id"], unique=False
    )
    op.create_index("ix_kaspi_offers_master_sku", "kaspi_offers", ["master_sku"], unique=False)
    op.create_index(op.f("ix_kaspi_offers_product_id"), "kaspi_offers", ["product_id"], unique=False)
    op.create_index(op.f("ix_kaspi_offers_store_id"), "kaspi_offers", ["store_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_kaspi_offers_store_id"), table_name="kaspi_offers")
    op.drop_index(op.f("ix_kaspi_offers_product_id"), table_name="kaspi_offers")
    op.drop_index("ix_kaspi_offers_master_sku", table_name="kaspi_offers")
    op.drop_index("ix_kaspi_offers_company_id_title", table_name="kaspi_offers")
    op.drop_table("kaspi_offers")
    op.drop_index(op.f("ix_kaspi_stores_company_id"), table_name="kaspi_stores")
    op.drop_table("kaspi_stores")
    for enum_type in ("kaspi_offer_state", "kaspi_store_status"):
        op.execute(f"DROP TYPE IF EXISTS {enum_type}")
