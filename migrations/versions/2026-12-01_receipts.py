"""sales as receipts: receipts with lines (the sales) and payments; returns; more rollups

Every existing sale becomes a one-line receipt with the sale's id, paid with method `unknown`
(nothing for a zero total). The rollups gain receipt counts and returns, three new ones appear
(monthly products, hourly points, daily payments), and all of them are rebuilt from the receipts
in the business timezone of the settings (`SAUDA_TIMEZONE`); after changing that timezone run
`sauda rebuild-rollups`.

Revision ID: 5a1e5000000r
Revises: 0e1c0a000002
Create Date: 2026-12-01 05:49:12.811232+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from sauda.config import get_settings

revision: str = "5a1e5000000r"
down_revision: str | None = "0e1c0a000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


PAYMENT_METHOD = postgresql.ENUM(
    "cash",
    "card",
    "kaspi_qr",
    "kaspi_red",
    "transfer",
    "other",
    "unknown",
    name="payment_method",
    create_type=False,
)
RECEIPT_KIND = postgresql.ENUM("sale", "return", name="receipt_kind", create_type=False)

DAY = "(l.sold_at AT TIME ZONE :tz)::date"
LINE_COLUMNS = "revenue, sales_count, quantity, returns, return_lines, returned_quantity"
LINE_FIGURES = """coalesce(sum(l.total) FILTER (WHERE l.kind = 'sale'), 0), count(*) FILTER (WHERE l.kind = 'sale'),
    coalesce(sum(l.quantity) FILTER (WHERE l.kind = 'sale'), 0),
    coalesce(sum(l.total) FILTER (WHERE l.kind = 'return'), 0), count(*) FILTER (WHERE l.kind = 'return'),
    coalesce(sum(l.quantity) FILTER (WHERE l.kind = 'return'), 0)"""

# Existing sales as one-line receipts with the same ids; no change rows for 1C (its sales feed
# does not change), so the capture trigger is off for the backfill.
BACKFILL = [
    """INSERT INTO receipts (id, company_id, point_id, customer_id, kind, sold_at, total, external_id,
                            created_at)
       SELECT id, company_id, point_id, customer_id, 'sale', sold_at, total, external_id, created_at
       FROM sales ORDER BY id""",
    "SELECT setval(pg_get_serial_sequence('receipts', 'id'), coalesce((SELECT max(id) FROM receipts), 0) + 1, false)",
    """INSERT INTO receipt_payments (receipt_id, method, amount)
       SELECT id, 'unknown', total FROM sales WHERE total > 0 ORDER BY id""",
    "ALTER TABLE sales DISABLE TRIGGER exchange_capture_update",
    "UPDATE sales SET receipt_id = id, line_no = 1, kind = 'sale'",
    "ALTER TABLE sales ENABLE TRIGGER exchange_capture_update",
    # Every rollup rebuilt from the receipts (a frozen copy of sauda.sales.rollups at this revision).
    "DELETE FROM sales_daily_points",
    "DELETE FROM sales_daily_products",
    f"""INSERT INTO sales_daily_points (company_id, day, point_id, {LINE_COLUMNS}, receipts, return_receipts)
       SELECT l.company_id, {DAY}, l.point_id, {LINE_FIGURES},
              count(DISTINCT l.receipt_id) FILTER (WHERE l.kind = 'sale'),
              count(DISTINCT l.receipt_id) FILTER (WHERE l.kind = 'return')
       FROM sales l GROUP BY 1, 2, 3""",
    f"""INSERT INTO sales_daily_products (company_id, day, product_id, {LINE_COLUMNS})
       SELECT l.company_id, {DAY}, l.product_id, {LINE_FIGURES} FROM sales l GROUP BY 1, 2, 3""",
    f"""INSERT INTO sales_monthly_products (company_id, month, product_id, {LINE_COLUMNS})
       SELECT l.company_id, date_trunc('month', {DAY})::date, l.product_id, {LINE_FIGURES}
       FROM sales l GROUP BY 1, 2, 3""",
    f"""INSERT INTO sales_hourly_points (company_id, day, point_id, hour, revenue, receipts, returns,
                                        return_receipts)
       SELECT l.company_id, {DAY}, l.point_id, extract(hour FROM l.sold_at AT TIME ZONE :tz)::smallint,
              coalesce(sum(l.total) FILTER (WHERE l.kind = 'sale'), 0),
              count(DISTINCT l.receipt_id) FILTER (WHERE l.kind = 'sale'),
              coalesce(sum(l.total) FILTER (WHERE l.kind = 'return'), 0),
              count(DISTINCT l.receipt_id) FILTER (WHERE l.kind = 'return')
       FROM sales l GROUP BY 1, 2, 3, 4""",
    """INSERT INTO sales_daily_payments (company_id, day, point_id, method, paid, payments, refunded, refunds)
       SELECT r.company_id, (r.sold_at AT TIME ZONE :tz)::date, r.point_id, p.method,
              coalesce(sum(p.amount) FILTER (WHERE r.kind = 'sale'), 0), count(*) FILTER (WHERE r.kind = 'sale'),
              coalesce(sum(p.amount) FILTER (WHERE r.kind = 'return'), 0),
              count(*) FILTER (WHERE r.kind = 'return')
       FROM receipt_payments p JOIN receipts r ON r.id = p.receipt_id GROUP BY 1, 2, 3, 4""",
]


def upgrade() -> None:
    bind = op.get_bind()
    PAYMENT_METHOD.create(bind)
    RECEIPT_KIND.create(bind)
    op.create_table(
        "sales_daily_payments",
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column(
            "method",
            PAYMENT_METHOD,
            nullable=False,
        ),
        sa.Column("paid", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("payments", sa.Integer(), nullable=False),
        sa.Column("refunded", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("refunds", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_sales_daily_payments_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "company_id", "day", "point_id", "method", name=op.f("pk_sales_daily_payments")
        ),
    )
    op.create_table(
        "sales_hourly_points",
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("receipts", sa.Integer(), nullable=False),
        sa.Column("returns", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("return_receipts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_sales_hourly_points_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", "day", "point_id", "hour", name=op.f("pk_sales_hourly_points")),
    )
    op.create_table(
        "sales_monthly_products",
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("sales_count", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=16, scale=3), nullable=False),
        sa.Column("returns", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("return_lines", sa.Integer(), nullable=False),
        sa.Column("returned_quantity", sa.Numeric(precision=16, scale=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_sales_monthly_products_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("company_id", "month", "product_id", name=op.f("pk_sales_monthly_products")),
    )
    op.create_table(
        "receipts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("kind", RECEIPT_KIND, nullable=False),
        sa.Column("number", sa.String(length=64), nullable=True),
        sa.Column("original_id", sa.BigInteger(), nullable=True),
        sa.Column("sold_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("ref", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint(
            "kind = 'return' OR original_id IS NULL", name=op.f("ck_receipts_only_returns_have_an_original")
        ),
        sa.CheckConstraint("total >= 0", name=op.f("ck_receipts_total_not_negative")),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_receipts_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_receipts_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["original_id"], ["receipts.id"], name=op.f("fk_receipts_original_id_receipts")
        ),
        sa.ForeignKeyConstraint(["point_id"], ["points.id"], name=op.f("fk_receipts_point_id_points")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipts")),
        sa.UniqueConstraint("company_id", "external_id", name=op.f("uq_receipts_company_id_external_id")),
        sa.UniqueConstraint("company_id", "ref", name=op.f("uq_receipts_company_id_ref")),
    )
    op.create_index(
        "ix_receipts_company_id_sold_at", "receipts", ["company_id", "sold_at", "id"], unique=False
    )
    op.create_index("ix_receipts_customer_id", "receipts", ["customer_id"], unique=False)
    op.create_index("ix_receipts_original_id", "receipts", ["original_id"], unique=False)
    op.create_index(
        "ix_receipts_point_id_sold_at",
        "receipts",
        ["point_id", "sold_at", "id"],
        unique=False,
        postgresql_include=["company_id"],
    )
    op.create_table(
        "receipt_payments",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("receipt_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "method",
            PAYMENT_METHOD,
            nullable=False,
        ),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_receipt_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["receipts.id"],
            name=op.f("fk_receipt_payments_receipt_id_receipts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt_payments")),
    )
    op.create_index(op.f("ix_receipt_payments_receipt_id"), "receipt_payments", ["receipt_id"], unique=False)
    op.add_column("sales", sa.Column("receipt_id", sa.BigInteger(), nullable=True))
    op.add_column("sales", sa.Column("line_no", sa.SmallInteger(), nullable=True))
    op.add_column("sales", sa.Column("kind", RECEIPT_KIND, nullable=True))
    op.add_column("sales", sa.Column("returned_line_id", sa.BigInteger(), nullable=True))
    op.add_column(
        "sales_daily_points", sa.Column("receipts", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "sales_daily_points",
        sa.Column("returns", sa.Numeric(precision=16, scale=2), server_default="0", nullable=False),
    )
    op.add_column(
        "sales_daily_points", sa.Column("return_lines", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "sales_daily_points",
        sa.Column("returned_quantity", sa.Numeric(precision=16, scale=3), server_default="0", nullable=False),
    )
    op.add_column(
        "sales_daily_points", sa.Column("return_receipts", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "sales_daily_products",
        sa.Column("returns", sa.Numeric(precision=16, scale=2), server_default="0", nullable=False),
    )
    op.add_column(
        "sales_daily_products", sa.Column("return_lines", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "sales_daily_products",
        sa.Column("returned_quantity", sa.Numeric(precision=16, scale=3), server_default="0", nullable=False),
    )
    tz = get_settings().timezone
    for statement in BACKFILL:
        op.execute(sa.text(statement).bindparams(tz=tz) if ":tz" in statement else statement)
    for column in ("receipt_id", "line_no", "kind"):
        op.alter_column("sales", column, nullable=False)
    op.create_check_constraint(
        op.f("ck_sales_only_returns_return_lines"), "sales", "kind = 'return' OR returned_line_id IS NULL"
    )
    op.create_index("ix_sales_receipt_id", "sales", ["receipt_id", "line_no"], unique=False)
    op.create_index(
        "ix_sales_returned_line_id",
        "sales",
        ["returned_line_id"],
        unique=False,
        postgresql_where="returned_line_id IS NOT NULL",
    )
    op.create_foreign_key(
        op.f("fk_sales_receipt_id_receipts"), "sales", "receipts", ["receipt_id"], ["id"], ondelete="CASCADE"
    )
    op.create_foreign_key(
        op.f("fk_sales_returned_line_id_sales"), "sales", "sales", ["returned_line_id"], ["id"]
    )


def downgrade() -> None:
    # Returns and multi-line receipts cannot go back to one-line sales: refused while there are any.
    bind = op.get_bind()
    many = bind.execute(
        sa.text("SELECT count(*) FROM sales WHERE kind <> 'sale' OR line_no > 1 OR receipt_id <> id")
    ).scalar()
    if many:
        raise RuntimeError(f"{many} lines of returns or multi-line receipts: downgrade would lose them")
    op.drop_constraint(op.f("ck_sales_only_returns_return_lines"), "sales", type_="check")
    op.drop_column("sales_daily_products", "returned_quantity")
    op.drop_column("sales_daily_products", "return_lines")
    op.drop_column("sales_daily_products", "returns")
    op.drop_column("sales_daily_points", "return_receipts")
    op.drop_column("sales_daily_points", "returned_quantity")
    op.drop_column("sales_daily_points", "return_lines")
    op.drop_column("sales_daily_points", "returns")
    op.drop_column("sales_daily_points", "receipts")
    op.drop_constraint(op.f("fk_sales_returned_line_id_sales"), "sales", type_="foreignkey")
    op.drop_constraint(op.f("fk_sales_receipt_id_receipts"), "sales", type_="foreignkey")
    op.drop_index(
        "ix_sales_returned_line_id", table_name="sales", postgresql_where="returned_line_id IS NOT NULL"
    )
    op.drop_index("ix_sales_receipt_id", table_name="sales")
    op.drop_column("sales", "returned_line_id")
    op.drop_column("sales", "kind")
    op.drop_column("sales", "line_no")
    op.drop_column("sales", "receipt_id")
    op.drop_index(op.f("ix_receipt_payments_receipt_id"), table_name="receipt_payments")
    op.drop_table("receipt_payments")
    op.drop_index("ix_receipts_point_id_sold_at", table_name="receipts", postgresql_include=["company_id"])
    op.drop_index("ix_receipts_original_id", table_name="receipts")
    op.drop_index("ix_receipts_customer_id", table_name="receipts")
    op.drop_index("ix_receipts_company_id_sold_at", table_name="receipts")
    op.drop_table("receipts")
    op.drop_table("sales_monthly_products")
    op.drop_table("sales_hourly_points")
    op.drop_table("sales_daily_payments")
    RECEIPT_KIND.drop(bind)
    PAYMENT_METHOD.drop(bind)
