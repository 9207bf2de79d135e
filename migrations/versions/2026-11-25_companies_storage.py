"""companies: fillfactor 50 and prompt autovacuum, so debt runs update in place

Revision ID: 5f11fac70050
Revises: b135ba55c36b
Create Date: 2026-11-25 16:40:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5f11fac70050"
down_revision: str | None = "b135ba55c36b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Applies to pages written from now on; `VACUUM FULL companies` repacks existing ones.
    op.execute(
        "ALTER TABLE companies SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.02,"
        " autovacuum_analyze_scale_factor = 0.05)"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE companies RESET (fillfactor, autovacuum_vacuum_scale_factor,"
        " autovacuum_analyze_scale_factor)"
    )
