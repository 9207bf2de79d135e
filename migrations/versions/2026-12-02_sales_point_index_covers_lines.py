"""sales: the (point_id, sold_at) index covers what the metrics sum of a line

Metrics of one point by product (top products of a point, a point and a product together) sum
the lines of that point over the period: with product, kind, quantity and total in the index
they are an index-only scan instead of a heap page per line. The list's count under tenancy
stays index-only (company_id was already included).

Revision ID: 3e7c1c500001
Revises: 5a1e5000001a
Create Date: 2026-12-02 06:30:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "3e7c1c500001"
down_revision: str | None = "5a1e5000001a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_sales_point_id_sold_at"


def _point_index(include: list[str]) -> None:
    op.drop_index(NAME, table_name="sales")
    op.create_index(NAME, "sales", ["point_id", "sold_at", "id"], postgresql_include=include)


def upgrade() -> None:
    _point_index(["company_id", "product_id", "kind", "quantity", "total"])


def downgrade() -> None:
    _point_index(["company_id"])
