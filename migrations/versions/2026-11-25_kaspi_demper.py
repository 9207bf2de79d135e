"""Kaspi part 2 (issue 6): demper settings on stores and offers, the price history, preorders and
the proxy pool.

Revision ID: e5ca5b1a0002
Revises: 0e1c0a000001
Create Date: 2026-11-25 17:07:12.040324+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e5ca5b1a0002"
down_revision: str | None = "0e1c0a000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kaspi_proxies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("url_encrypted", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("benched_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("successes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_kaspi_proxies_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kaspi_proxies")),
    )
    op.create_index(op.f("ix_kaspi_proxies_company_id"), "kaspi_proxies", ["company_id"], unique=False)
    op.create_table(
        "kaspi_preorders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("points", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "status", sa.Enum("pending", "active", "failed", name="kaspi_preorder_status"), nullable=False
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "requested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pricefeed_id", sa.String(length=100), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("days BETWEEN 0 AND 30", name=op.f("ck_kaspi_preorders_days_0_30")),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_kaspi_preorders_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["kaspi_offers.id"],
            name=op.f("fk_kaspi_preorders_offer_id_kaspi_offers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["kaspi_stores.id"],
            name=op.f("fk_kaspi_preorders_store_id_kaspi_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kaspi_preorders")),
        sa.UniqueConstraint("offer_id", name=op.f("uq_kaspi_preorders_offer_id")),
    )
    op.create_index(op.f("ix_kaspi_preorders_company_id"), "kaspi_preorders", ["company_id"], unique=False)
    op.create_index(op.f("ix_kaspi_preorders_store_id"), "kaspi_preorders", ["store_id"], unique=False)
    op.create_table(
        "kaspi_price_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("offer_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("old_price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("new_price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("leader_price", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("leader_merchant_id", sa.String(length=64), nullable=True),
        sa.Column("competitors", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column(
            "action",
            sa.Enum("pushed", "dry_run", "held", "failed", name="kaspi_price_action"),
            nullable=False,
        ),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("pricefeed_id", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_kaspi_price_history_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["offer_id"],
            ["kaspi_offers.id"],
            name=op.f("fk_kaspi_price_history_offer_id_kaspi_offers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["kaspi_stores.id"],
            name=op.f("fk_kaspi_price_history_store_id_kaspi_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kaspi_price_history")),
    )
    op.create_index(
        op.f("ix_kaspi_price_history_company_id"), "kaspi_price_history", ["company_id"], unique=False
    )
    op.create_index(
        "ix_kaspi_price_history_offer_id_created_at",
        "kaspi_price_history",
        ["offer_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_kaspi_price_history_store_id"), "kaspi_price_history", ["store_id"], unique=False
    )
    sa.Enum("undercut", "position", "match", name="kaspi_demper_strategy").create(op.get_bind())
    op.add_column(
        "kaspi_offers", sa.Column("demper_enabled", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("kaspi_offers", sa.Column("demper_floor", sa.Integer(), nullable=True))
    op.add_column("kaspi_offers", sa.Column("demper_ceiling", sa.Integer(), nullable=True))
    op.add_column("kaspi_offers", sa.Column("demper_step", sa.Integer(), nullable=True))
    op.add_column(
        "kaspi_offers",
        sa.Column(
            "demper_strategy",
            sa.Enum("undercut", "position", "match", name="kaspi_demper_strategy"),
            server_default="undercut",
            nullable=False,
        ),
    )
    op.add_column(
        "kaspi_offers", sa.Column("demper_position", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column(
        "kaspi_offers", sa.Column("demper_priority", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("kaspi_offers", sa.Column("demper_next_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("kaspi_offers", sa.Column("demper_checked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_kaspi_offers_demper_due",
        "kaspi_offers",
        ["store_id", "demper_next_at"],
        unique=False,
        postgresql_where=sa.text("demper_enabled"),
    )
    op.add_column(
        "kaspi_stores",
        sa.Column("demper_interval_minutes", sa.Integer(), server_default="15", nullable=False),
    )
    op.add_column("kaspi_stores", sa.Column("demper_step", sa.Integer(), server_default="1", nullable=False))
    op.add_column("kaspi_stores", sa.Column("demper_hours_from", sa.Time(), nullable=True))
    op.add_column("kaspi_stores", sa.Column("demper_hours_to", sa.Time(), nullable=True))
    op.add_column(
        "kaspi_stores",
        sa.Column(
            "demper_excluded_merchants",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
    )
    op.add_column(
        "kaspi_stores",
        sa.Column("demper_raise_when_alone", sa.Boolean(), server_default="false", nullable=False),
    )
    op.add_column(
        "kaspi_stores", sa.Column("demper_dry_run", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("kaspi_stores", sa.Column("demper_last_run_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "kaspi_stores",
        sa.Column("demper_last_result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column("kaspi_stores", sa.Column("demper_last_error", sa.Text(), nullable=True))
    op.create_check_constraint(
        op.f("ck_kaspi_offers_demper_floor_le_ceiling"),
        "kaspi_offers",
        "demper_floor IS NULL OR demper_ceiling IS NULL OR demper_floor <= demper_ceiling",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_kaspi_offers_demper_floor_le_ceiling"), "kaspi_offers", type_="check")
    op.drop_column("kaspi_stores", "demper_last_error")
    op.drop_column("kaspi_stores", "demper_last_result")
    op.drop_column("kaspi_stores", "demper_last_run_at")
    op.drop_column("kaspi_stores", "demper_dry_run")
    op.drop_column("kaspi_stores", "demper_raise_when_alone")
    op.drop_column("kaspi_stores", "demper_excluded_merchants")
    op.drop_column("kaspi_stores", "demper_hours_to")
    op.drop_column("kaspi_stores", "demper_hours_from")
    op.drop_column("kaspi_stores", "demper_step")
    op.drop_column("kaspi_stores", "demper_interval_minutes")
    op.drop_index(
        "ix_kaspi_offers_demper_due", table_name="kaspi_offers", postgresql_where=sa.text("demper_enabled")
    )
    op.drop_column("kaspi_offers", "demper_checked_at")
    op.drop_column("kaspi_offers", "demper_next_at")
    op.drop_column("kaspi_offers", "demper_priority")
    op.drop_column("kaspi_offers", "demper_position")
    op.drop_column("kaspi_offers", "demper_strategy")
    op.drop_column("kaspi_offers", "demper_step")
    op.drop_column("kaspi_offers", "demper_ceiling")
    op.drop_column("kaspi_offers", "demper_floor")
    op.drop_column("kaspi_offers", "demper_enabled")
    op.drop_index(op.f("ix_kaspi_price_history_store_id"), table_name="kaspi_price_history")
    op.drop_index("ix_kaspi_price_history_offer_id_created_at", table_name="kaspi_price_history")
    op.drop_index(op.f("ix_kaspi_price_history_company_id"), table_name="kaspi_price_history")
    op.drop_table("kaspi_price_history")
    op.drop_index(op.f("ix_kaspi_preorders_store_id"), table_name="kaspi_preorders")
    op.drop_index(op.f("ix_kaspi_preorders_company_id"), table_name="kaspi_preorders")
    op.drop_table("kaspi_preorders")
    op.drop_index(op.f("ix_kaspi_proxies_company_id"), table_name="kaspi_proxies")
    op.drop_table("kaspi_proxies")
    for enum in ("kaspi_demper_strategy", "kaspi_price_action", "kaspi_preorder_status"):
        sa.Enum(name=enum).drop(op.get_bind(), checkfirst=True)
