"""receipts list: search by a till's number, filter by payment method on indexes

`ix_receipts_company_id_number` answers `search` (a number; the external id has its unique
index). `ix_receipt_payments_receipt_id_method` replaces the index on `receipt_id` alone: it
serves the same lookups and makes "has a payment of this method" an index-only probe.

Revision ID: 5a1e5000001a
Revises: 5a1e5000000r
Create Date: 2026-12-01 06:20:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5a1e5000001a"
down_revision: str | None = "5a1e5000000r"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_receipts_company_id_number", "receipts", ["company_id", "number"])
    op.create_index("ix_receipt_payments_receipt_id_method", "receipt_payments", ["receipt_id", "method"])
    op.drop_index("ix_receipt_payments_receipt_id", table_name="receipt_payments")


def downgrade() -> None:
    op.create_index("ix_receipt_payments_receipt_id", "receipt_payments", ["receipt_id"])
    op.drop_index("ix_receipt_payments_receipt_id_method", table_name="receipt_payments")
    op.drop_index("ix_receipts_company_id_number", table_name="receipts")
