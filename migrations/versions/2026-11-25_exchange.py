"""1C exchange: change capture, cursors, batches; 1C references on products and points

Revision ID: 0e1c0a000001
Revises: c3a1e5a1e5a1
Create Date: 2026-11-25 17:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0e1c0a000001"
down_revision: str | None = "c3a1e5a1e5a1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Tables whose changes 1C pulls: entity name -> the column naming the owning company.
CAPTURED = {
    "companies": "id",
    "products": "company_id",
    "customers": "company_id",
    "points": "company_id",
    "sales": "company_id",
}

# One statement per writing statement (transition tables), so a bulk import of a million rows
# costs one extra INSERT ... SELECT, not a million trigger calls. The xid is the writing
# transaction's: readers deliver a change only once every older transaction has ended.
CAPTURE_FUNCTION = """
CREATE FUNCTION exchange_capture() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        EXECUTE format(
            'INSERT INTO exchange_changes (entity, row_id, company_id, xid, deleted, changed_at)
             SELECT %L, o.id, o.%I, pg_current_xact_id()::text::bigint, true, now() FROM old_rows AS o
             ON CONFLICT (entity, row_id) DO UPDATE SET xid = EXCLUDED.xid, deleted = true,
                 company_id = EXCLUDED.company_id, changed_at = EXCLUDED.changed_at',
            TG_ARGV[0], TG_ARGV[1]);
    ELSE
        EXECUTE format(
            'INSERT INTO exchange_changes (entity, row_id, company_id, xid, deleted, changed_at)
             SELECT %L, n.id, n.%I, pg_current_xact_id()::text::bigint, false, now() FROM new_rows AS n
             ON CONFLICT (entity, row_id) DO UPDATE SET xid = EXCLUDED.xid, deleted = false,
                 company_id = EXCLUDED.company_id, changed_at = EXCLUDED.changed_at',
            TG_ARGV[0], TG_ARGV[1]);
    END IF;
    RETURN NULL;
END
$$
"""


def _create_triggers(table: str, company_column: str) -> None:
    args = f"'{table}', '{company_column}'"
    for event, transition in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        alias = "new_rows" if transition == "NEW" else "old_rows"
        op.execute(
            f"CREATE TRIGGER exchange_capture_{event.lower()} AFTER {event} ON {table} "
            f"REFERENCING {transition} TABLE AS {alias} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION exchange_capture({args})"
        )


def upgrade() -> None:
    op.create_table(
        "exchange_changes",
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("row_id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("entity", "row_id", name=op.f("pk_exchange_changes")),
    )
    op.create_index(
        "ix_exchange_changes_entity_company_id_xid",
        "exchange_changes",
        ["entity", "company_id", "xid", "row_id"],
        unique=False,
    )
    op.create_index(
        "ix_exchange_changes_entity_xid", "exchange_changes", ["entity", "xid", "row_id"], unique=False
    )
    op.create_table(
        "exchange_batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("has_more", sa.Boolean(), nullable=False),
        sa.Column("end_xid", sa.BigInteger(), nullable=False),
        sa.Column("end_row_id", sa.BigInteger(), nullable=False),
        sa.Column("ack_token", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column(
            "delivered_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("redelivered", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["integration_clients.id"],
            name=op.f("fk_exchange_batches_client_id_integration_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_batches")),
        sa.UniqueConstraint("ack_token", name=op.f("uq_exchange_batches_ack_token")),
    )
    op.create_index(
        "ix_exchange_batches_client_id_delivered_at",
        "exchange_batches",
        ["client_id", "delivered_at"],
        unique=False,
    )
    op.create_index(
        "ix_exchange_batches_pending",
        "exchange_batches",
        ["client_id", "entity"],
        unique=True,
        postgresql_where=sa.text("acknowledged_at IS NULL"),
    )
    op.create_table(
        "exchange_cursors",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("xid", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("row_id", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["integration_clients.id"],
            name=op.f("fk_exchange_cursors_client_id_integration_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", "entity", name=op.f("pk_exchange_cursors")),
    )
    op.add_column(
        "integration_clients",
        sa.Column("all_companies", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column("points", sa.Column("external_id", sa.String(length=100), nullable=True))
    op.create_unique_constraint(
        op.f("uq_points_company_id_external_id"), "points", ["company_id", "external_id"]
    )
    op.add_column("products", sa.Column("external_id", sa.String(length=100), nullable=True))
    op.create_unique_constraint(
        op.f("uq_products_company_id_external_id"), "products", ["company_id", "external_id"]
    )
    op.execute(CAPTURE_FUNCTION)
    for table, company_column in CAPTURED.items():
        _create_triggers(table, company_column)
        # Rows that exist already count as changed: a new client's first pull gets them all.
        op.execute(
            f"INSERT INTO exchange_changes (entity, row_id, company_id, xid, deleted, changed_at) "
            f"SELECT '{table}', id, {company_column}, pg_current_xact_id()::text::bigint, false, now() "
            f"FROM {table}"
        )


def downgrade() -> None:
    for table in CAPTURED:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER exchange_capture_{event} ON {table}")
    op.execute("DROP FUNCTION exchange_capture()")
    op.drop_constraint(op.f("uq_products_company_id_external_id"), "products", type_="unique")
    op.drop_column("products", "external_id")
    op.drop_constraint(op.f("uq_points_company_id_external_id"), "points", type_="unique")
    op.drop_column("points", "external_id")
    op.drop_column("integration_clients", "all_companies")
    op.drop_table("exchange_cursors")
    op.drop_index(
        "ix_exchange_batches_pending",
        table_name="exchange_batches",
        postgresql_where=sa.text("acknowledged_at IS NULL"),
    )
    op.drop_index("ix_exchange_batches_client_id_delivered_at", table_name="exchange_batches")
    op.drop_table("exchange_batches")
    op.drop_index("ix_exchange_changes_entity_xid", table_name="exchange_changes")
    op.drop_index("ix_exchange_changes_entity_company_id_xid", table_name="exchange_changes")
    op.drop_table("exchange_changes")
