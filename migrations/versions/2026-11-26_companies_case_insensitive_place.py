"""companies: case-insensitive city and country filters, served by indexes on lower()

Revision ID: 7c1ca5e0c171
Revises: e5ca5b1a0002
Create Date: 2026-11-26 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c1ca5e0c171"
down_revision: str | None = "e5ca5b1a0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for place in ("city", "country"):
        op.create_index(
            f"ix_companies_lower_{place}_name",
            "companies",
            [sa.text(f"lower({place})"), "name", "id"],
            unique=False,
            postgresql_include=[place],
        )
    # Nothing filters or orders by the exact country any more; the city index stays for ordering.
    op.drop_index("ix_companies_country_name", table_name="companies")


def downgrade() -> None:
    op.create_index("ix_companies_country_name", "companies", ["country", "name", "id"], unique=False)
    op.drop_index("ix_companies_lower_country_name", table_name="companies")
    op.drop_index("ix_companies_lower_city_name", table_name="companies")
