"""sales import of receipts: an admin's import may write into every company its file names;
a line's point is its receipt's, held by the receipt's foreign key (no per-line check);
customer and original indexes only where there is one (most rows have none)

Revision ID: 5a1e5000001i
Revises: 0e1c0a000003
Create Date: 2026-12-02 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5a1e5000001i"
down_revision: str | None = "0e1c0a000003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTIAL = (("sales", "customer_id"), ("receipts", "customer_id"), ("receipts", "original_id"))


def upgrade() -> None:
    op.alter_column("sales_imports", "company_id", existing_type=sa.Integer(), nullable=True)
    op.drop_constraint(op.f("fk_sales_point_id_points"), "sales", type_="foreignkey")
    for table, column in PARTIAL:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
        op.create_index(f"ix_{table}_{column}", table, [column], postgresql_where=f"{column} IS NOT NULL")


def downgrade() -> None:
    for table, column in PARTIAL:
        op.drop_index(f"ix_{table}_{column}", table_name=table, postgresql_where=f"{column} IS NOT NULL")
        op.create_index(f"ix_{table}_{column}", table, [column])
    op.create_foreign_key(op.f("fk_sales_point_id_points"), "sales", "points", ["point_id"], ["id"])
    op.execute("DELETE FROM sales_imports WHERE company_id IS NULL")
    op.alter_column("sales_imports", "company_id", existing_type=sa.Integer(), nullable=False)
