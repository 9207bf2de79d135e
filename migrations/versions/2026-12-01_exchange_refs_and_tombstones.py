"""1C exchange: a stable `ref` on every exchanged record, tombstones with identifiers, superseded
batches

Revision ID: 0e1c0a000002
Revises: 7c1ca5e0c171
Create Date: 2026-12-01 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0e1c0a000002"
down_revision: str | None = "7c1ca5e0c171"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Entity -> (column naming the owning company, the identifiers a tombstone keeps). Mirrors
# sauda.exchange.entities (each spec's identifier fields); a test checks that they agree.
CAPTURED = {
    "companies": ("id", ("id", "ref")),
    "products": ("company_id", ("id", "ref", "external_id", "company_id", "sku")),
    "customers": ("company_id", ("id", "ref", "external_id", "company_id")),
    "points": ("company_id", ("id", "ref", "external_id", "company_id", "code")),
    "sales": ("company_id", ("id", "ref", "external_id", "company_id")),
}
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

# As in 0e1c0a000001, plus TG_ARGV[2]: the columns a deletion keeps in `identifiers`.
CAPTURE_FUNCTION = """
CREATE OR REPLACE FUNCTION exchange_capture() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        EXECUTE format(
            'INSERT INTO exchange_changes (entity, row_id, company_id, xid, deleted, identifiers, changed_at)
             SELECT %L, o.id, o.%I, pg_current_xact_id()::text::bigint, true,
                 (SELECT jsonb_object_agg(k, to_jsonb(o) -> k) FROM unnest(%L::text[]) AS k), now()
             FROM old_rows AS o
             ON CONFLICT (entity, row_id) DO UPDATE SET xid = EXCLUDED.xid, deleted = true,
                 identifiers = EXCLUDED.identifiers, company_id = EXCLUDED.company_id,
                 changed_at = EXCLUDED.changed_at',
            TG_ARGV[0], TG_ARGV[1], TG_ARGV[2]);
    ELSE
        EXECUTE format(
            'INSERT INTO exchange_changes (entity, row_id, company_id, xid, deleted, changed_at)
             SELECT %L, n.id, n.%I, pg_current_xact_id()::text::bigint, false, now() FROM new_rows AS n
             ON CONFLICT (entity, row_id) DO UPDATE SET xid = EXCLUDED.xid, deleted = false,
                 identifiers = NULL, company_id = EXCLUDED.company_id, changed_at = EXCLUDED.changed_at',
            TG_ARGV[0], TG_ARGV[1]);
    END IF;
    RETURN NULL;
END
$$
"""


# The function of 0e1c0a000001, restored by downgrade (migrations are frozen copies).
OLD_CAPTURE_FUNCTION = """
CREATE OR REPLACE FUNCTION exchange_capture() RETURNS trigger LANGUAGE plpgsql AS $$
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


def _recreate_triggers(table: str, args: str) -> None:
    for event, alias in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        name = f"exchange_capture_{event.lower()}"
        op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} "
            f"REFERENCING {alias} TABLE AS {alias.lower()}_rows FOR EACH STATEMENT "
            f"EXECUTE FUNCTION exchange_capture({args})"
        )


def upgrade() -> None:
    op.add_column(
        "exchange_changes", sa.Column("identifiers", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column(
        "exchange_batches",
        sa.Column("superseded", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    for table in CAPTURED:
        op.add_column(
            table, sa.Column("ref", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False)
        )
        if table != "companies":
            # A record made in 1C keeps its 1C reference as its ref.
            op.execute(f"UPDATE {table} SET ref = external_id::uuid WHERE external_id ~ '{UUID_PATTERN}'")
            op.create_unique_constraint(op.f(f"uq_{table}_company_id_ref"), table, ["company_id", "ref"])
    op.create_unique_constraint(op.f("uq_companies_ref"), "companies", ["ref"])
    op.execute(CAPTURE_FUNCTION)
    for table, (company_column, identifiers) in CAPTURED.items():
        _recreate_triggers(table, f"'{table}', '{company_column}', '{{{','.join(identifiers)}}}'")


def downgrade() -> None:
    op.execute(OLD_CAPTURE_FUNCTION)
    for table, (company_column, _) in CAPTURED.items():
        _recreate_triggers(table, f"'{table}', '{company_column}'")
    for table in CAPTURED:
        name = "uq_companies_ref" if table == "companies" else f"uq_{table}_company_id_ref"
        op.drop_constraint(op.f(name), table, type_="unique")
        op.drop_column(table, "ref")
    op.drop_column("exchange_batches", "superseded")
    op.drop_column("exchange_changes", "identifiers")
