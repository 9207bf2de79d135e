"""sales

Revision ID: c3a1e5a1e5a1
Revises: e5ca5b1a0001
Create Date: 2026-11-25 16:25:29.070033+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c3a1e5a1e5a1"
down_revision: str | None = "e5ca5b1a0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_customers_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("company_id", "external_id", name=op.f("uq_customers_company_id_external_id")),
    )
    op.create_index("ix_customers_company_id_name", "customers", ["company_id", "name", "id"], unique=False)
    op.create_table(
        "points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column(
            "kind", sa.Enum("store", "kiosk", "online", "warehouse", name="point_kind"), nullable=False
        ),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_points_company_id_companies"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points")),
        sa.UniqueConstraint("company_id", "code", name=op.f("uq_points_company_id_code")),
    )
    op.create_index("ix_points_company_id_name", "points", ["company_id", "name", "id"], unique=False)
    op.create_table(
        "sales",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=12, scale=3), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("discount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("sold_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("discount >= 0", name=op.f("ck_sales_discount_not_negative")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_sales_quantity_positive")),
        sa.CheckConstraint("total >= 0", name=op.f("ck_sales_total_not_negative")),
        sa.CheckConstraint("unit_price >= 0", name=op.f("ck_sales_unit_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_sales_company_id_companies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_sales_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["point_id"], ["points.id"], name=op.f("fk_sales_point_id_points")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_sales_product_id_products")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales")),
        sa.UniqueConstraint("company_id", "external_id", name=op.f("uq_sales_company_id_external_id")),
    )
    op.create_index("ix_sales_company_id_sold_at", "sales", ["company_id", "sold_at", "id"], unique=False)
    op.create_index("ix_sales_customer_id", "sales", ["customer_id"], unique=False)
    # company_id is included so that the list's count (scope + point + period) is index-only.
    op.create_index(
        "ix_sales_point_id_sold_at",
        "sales",
        ["point_id", "sold_at", "id"],
        unique=False,
        postgresql_include=["company_id"],
    )
    op.create_index(
        "ix_sales_product_id_sold_at",
        "sales",
        ["product_id", "sold_at"],
        unique=False,
        postgresql_include=["company_id"],
    )
    op.create_table(
        "sales_daily_points",
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("sales_count", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=16, scale=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_sales_daily_points_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", "day", "point_id", name=op.f("pk_sales_daily_points")),
    )
    op.create_table(
        "sales_daily_products",
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("sales_count", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=16, scale=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_sales_daily_products_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", "day", "product_id", name=op.f("pk_sales_daily_products")),
    )
    op.create_table(
        "sales_imports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("format", sa.Enum("csv", "xlsx", name="sales_import_format"), nullable=False),
        sa.Column("encoding", sa.String(length=20), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("all_or_nothing", sa.Boolean(), nullable=False),
        sa.Column("create_missing", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("queued", "running", "succeeded", "failed", name="sales_import_status"),
            nullable=False,
        ),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_inserted", sa.Integer(), nullable=False),
        sa.Column("rows_duplicate", sa.Integer(), nullable=False),
        sa.Column("rows_failed", sa.Integer(), nullable=False),
        sa.Column("errors", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_sales_imports_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sales_imports_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_imports")),
    )
    op.create_index(
        "ix_sales_imports_company_id_created_at", "sales_imports", ["company_id", "created_at"], unique=False
    )
    op.create_table(
        "sales_import_chunks",
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["sales_imports.id"],
            name=op.f("fk_sales_import_chunks_import_id_sales_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("import_id", "seq", name=op.f("pk_sales_import_chunks")),
    )

    # The file is already compressed (XLSX) or read once (CSV): storing it uncompressed saves CPU.
    op.execute("ALTER TABLE sales_import_chunks ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("sales_import_chunks")
    op.drop_index("ix_sales_imports_company_id_created_at", table_name="sales_imports")
    op.drop_table("sales_imports")
    op.drop_table("sales_daily_products")
    op.drop_table("sales_daily_points")
    op.drop_index("ix_sales_product_id_sold_at", table_name="sales")
    op.drop_index("ix_sales_point_id_sold_at", table_name="sales")
    op.drop_index("ix_sales_customer_id", table_name="sales")
    op.drop_index("ix_sales_company_id_sold_at", table_name="sales")
    op.drop_table("sales")
    op.drop_index("ix_points_company_id_name", table_name="points")
    op.drop_table("points")
    op.drop_index("ix_customers_company_id_name", table_name="customers")
    op.drop_table("customers")
    for enum_type in ("sales_import_status", "sales_import_format", "point_kind"):
        op.execute(f"DROP TYPE IF EXISTS {enum_type}")
