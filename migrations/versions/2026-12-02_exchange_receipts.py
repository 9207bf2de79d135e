"""1C exchange: receipts, with their lines and payments, as one entity

A receipt is captured as changed when its row changes (the capture triggers every exchanged table
has) and when any of its lines (`sales`) or payments (`receipt_payments`) is written: the receipt
is re-sent whole, its lines and payments nested. Existing receipts count as changed, so a
client's first batch of receipts holds them all.

Revision ID: 0e1c0a000003
Revises: 3e7c1c500001
Create Date: 2026-12-02 06:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0e1c0a000003"
down_revision: str | None = "3e7c1c500001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The identifiers a receipt's tombstone keeps; mirrors sauda.exchange.entities (a test checks).
RECEIPT_IDENTIFIERS = ("id", "ref", "external_id", "company_id")
# Tables of a receipt's parts -> the column naming their receipt.
PARTS = {"sales": "receipt_id", "receipt_payments": "receipt_id"}

# A change of a record's parts is a change of the record: TG_ARGV[0] the entity, [1] the record's
# table, [2] the parts' column naming it, [3] the record's company column. Only records that still
# exist count: when a record is deleted its cascade deletes the parts too, and the record's own
# tombstone must stay. A record already marked changed by this transaction is left alone, so a
# bulk insert of lines into receipts it has just inserted rewrites no change row.
CAPTURE_OWNER_FUNCTION = """
CREATE FUNCTION exchange_capture_owner() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    owners text := CASE TG_OP
        WHEN 'INSERT' THEN format('SELECT %1$I FROM new_rows', TG_ARGV[2])
        WHEN 'DELETE' THEN format('SELECT %1$I FROM old_rows', TG_ARGV[2])
        ELSE format('SELECT %1$I FROM new_rows UNION SELECT %1$I FROM old_rows', TG_ARGV[2])
    END;
BEGIN
    EXECUTE format(
        'INSERT INTO exchange_changes (entity, row_id, company_id, xid, deleted, changed_at)
         SELECT %L, o.id, o.%I, pg_current_xact_id()::text::bigint, false, now()
         FROM %I AS o WHERE o.id IN (%s)
         ON CONFLICT (entity, row_id) DO UPDATE SET xid = EXCLUDED.xid, deleted = false,
             identifiers = NULL, company_id = EXCLUDED.company_id, changed_at = EXCLUDED.changed_at
         WHERE exchange_changes.xid <> EXCLUDED.xid OR exchange_changes.deleted',
        TG_ARGV[0], TG_ARGV[3], TG_ARGV[1], owners);
    RETURN NULL;
END
$$
"""


# (event, transition tables) of the statement-level triggers.
OWN_ROWS = (
    ("INSERT", "NEW TABLE AS new_rows"),
    ("UPDATE", "NEW TABLE AS new_rows"),
    ("DELETE", "OLD TABLE AS old_rows"),
)
PART_ROWS = (
    ("INSERT", "NEW TABLE AS new_rows"),
    ("UPDATE", "NEW TABLE AS new_rows OLD TABLE AS old_rows"),  # a line may move to another receipt
    ("DELETE", "OLD TABLE AS old_rows"),
)


def upgrade() -> None:
    identifiers = "{" + ",".join(RECEIPT_IDENTIFIERS) + "}"
    for event, transition in OWN_ROWS:  # as every exchanged table (exchange_capture of 0e1c0a000002)
        op.execute(
            f"CREATE TRIGGER exchange_capture_{event.lower()} AFTER {event} ON receipts "
            f"REFERENCING {transition} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION exchange_capture('receipts', 'company_id', '{identifiers}')"
        )
    op.execute(CAPTURE_OWNER_FUNCTION)
    for table, column in PARTS.items():
        for event, transition in PART_ROWS:
            op.execute(
                f"CREATE TRIGGER exchange_capture_receipts_{event.lower()} AFTER {event} ON {table} "
                f"REFERENCING {transition} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION exchange_capture_owner('receipts', 'receipts', '{column}', 'company_id')"
            )
    # Receipts that exist already count as changed: a client's first pull of receipts gets them all.
    op.execute(
        "INSERT INTO exchange_changes (entity, row_id, company_id, xid, deleted, changed_at) "
        "SELECT 'receipts', id, company_id, pg_current_xact_id()::text::bigint, false, now() FROM receipts"
    )


def downgrade() -> None:
    for table in PARTS:
        for event, _ in PART_ROWS:
            op.execute(f"DROP TRIGGER exchange_capture_receipts_{event.lower()} ON {table}")
    op.execute("DROP FUNCTION exchange_capture_owner()")
    for event, _ in OWN_ROWS:
        op.execute(f"DROP TRIGGER exchange_capture_{event.lower()} ON receipts")
    for table in ("exchange_changes", "exchange_cursors", "exchange_batches"):
        op.execute(f"DELETE FROM {table} WHERE entity = 'receipts'")
