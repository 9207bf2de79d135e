import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from sauda.exchange.entities import EntitySpec
from sauda.exchange.models import Batch, Change, Cursor
from sauda.pagination import PageParams, paginate
from sauda.tenancy import Scope

# Changes of transactions below this xid are final: no transaction of this database that is still
# running, or will run, has a smaller xid. Computed from a snapshot taken *before* the sessions are
# read, and used by a later statement (a later snapshot): a transaction in the snapshot's list that
# has ended by the time the sessions are read is visible to that later snapshot. Only this
# database's transactions count (a long one elsewhere on the cluster must not stall 1C); if some
# sessions are hidden from this role, every running transaction counts.
_SETTLED_BOUND_SQL = text("""
WITH snap AS MATERIALIZED (SELECT pg_current_snapshot() AS s),
ours AS MATERIALIZED (
    SELECT backend_xid::text::bigint AS xid32, query = '<insufficient privilege>' AS hidden
    FROM pg_stat_activity WHERE datname = current_database()
)
SELECT CASE
    WHEN EXISTS (SELECT 1 FROM ours WHERE hidden) THEN pg_snapshot_xmin(s)::text::bigint
    ELSE coalesce(
        (SELECT min(x::text::bigint) FROM pg_snapshot_xip(s) AS x
         WHERE x::text::bigint % 4294967296 IN (SELECT xid32 FROM ours WHERE xid32 IS NOT NULL)),
        pg_snapshot_xmax(s)::text::bigint)
    END
FROM snap
""")


ChangeRow = Row[int, int, bool, dict[str, object] | None]  # row_id, xid, deleted, identifiers


@dataclass(frozen=True)
class Position:
    xid: int
    row_id: int


class FeedRepository:
    def __init__(self, session: AsyncSession, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    async def page(self, spec: EntitySpec, *, after: int, limit: int, tz: str) -> Sequence[Row[Any]]:
        # The page's ids first, on the table alone (an index range scan that stops at `limit`);
        # only then the joins and the JSON. In one query the planner, misled by statistics that
        # lag behind fresh rows, may join and format everything above `after` before the limit.
        ids = (
            select(spec.id_column.label("id"))
            .where(self.scope.where(spec.tenant_column), spec.id_column > after)
            .order_by(spec.id_column)
            .limit(limit)
            .subquery("page")
        )
        stmt = spec.select_json(tz).join(ids, ids.c.id == spec.id_column).order_by(spec.id_column)
        return list((await self.session.execute(stmt)).all())

    async def current(self, spec: EntitySpec, ids: Sequence[int], tz: str) -> dict[int, str]:
        """Item JSON of the rows that still exist, by id."""
        stmt = spec.select_json(tz).where(self.scope.where(spec.tenant_column), spec.id_column.in_(ids))
        return {row.id: row.item for row in await self.session.execute(stmt)}

    async def settled_bound(self) -> int:
        """Call before `settled_changes`, in its own statement (see _SETTLED_BOUND_SQL)."""
        await self.session.execute(text("SELECT pg_stat_clear_snapshot()"))
        return int((await self.session.execute(_SETTLED_BOUND_SQL)).scalar_one())

    async def settled_changes(
        self, entity: str, after: Position, below: int, limit: int
    ) -> Sequence[ChangeRow]:
        stmt = (
            select(Change.row_id, Change.xid, Change.deleted, Change.identifiers)
            .where(
                Change.entity == entity,
                self.scope.where(Change.company_id),
                tuple_(Change.xid, Change.row_id) > tuple_(after.xid, after.row_id),
                Change.xid < below,
            )
            .order_by(Change.xid, Change.row_id)
            .limit(limit)
        )
        return (await self.session.execute(stmt)).all()

    async def identifiers(self, entity: str, row_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """What the deletions of these rows kept, as far as they have committed."""
        stmt = select(Change.row_id, Change.identifiers).where(
            Change.entity == entity, Change.row_id.in_(row_ids), Change.deleted
        )
        return {row.row_id: row.identifiers for row in await self.session.execute(stmt)}


class CursorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, client_id: int, entity: str) -> Position:
        """The client's acknowledged position, locked: one batch is cut at a time per client."""
        await self.session.execute(
            insert(Cursor).values(client_id=client_id, entity=entity).on_conflict_do_nothing()
        )
        cursor = await self.session.scalar(
            select(Cursor).where(Cursor.client_id == client_id, Cursor.entity == entity).with_for_update()
        )
        assert cursor is not None
        return Position(cursor.xid, cursor.row_id)

    async def advance(self, client_id: int, entity: str, to: Position) -> None:
        await self.session.execute(
            update(Cursor)
            .where(Cursor.client_id == client_id, Cursor.entity == entity)
            .values(xid=to.xid, row_id=to.row_id, updated_at=func.now())
        )


class BatchRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def pending(self, client_id: int, entity: str) -> Batch | None:
        return await self.session.scalar(
            select(Batch).where(
                Batch.client_id == client_id, Batch.entity == entity, Batch.acknowledged_at.is_(None)
            )
        )

    async def by_token(self, client_id: int, entity: str, token: str) -> Batch | None:
        return await self.session.scalar(
            select(Batch)
            .where(Batch.client_id == client_id, Batch.entity == entity, Batch.ack_token == token)
            .with_for_update()
        )

    async def get(self, client_id: int, batch_id: uuid.UUID) -> Batch | None:
        return await self.session.scalar(
            select(Batch).where(Batch.client_id == client_id, Batch.id == batch_id)
        )

    async def supersede_pending(self, client_id: int, entity: str, at: datetime) -> Batch | None:
        """Close the unacknowledged batch without moving the cursor (the caller moves it)."""
        batch = await self.pending(client_id, entity)
        if batch is not None:
            batch.acknowledged_at = at
            batch.superseded = True
            await self.session.flush()
        return batch

    async def add(self, batch: Batch) -> Batch:
        self.session.add(batch)
        await self.session.flush()
        return batch

    async def log(self, client_id: int, entity: str | None, params: PageParams) -> tuple[list[Batch], int]:
        stmt = select(Batch).options(defer(Batch.payload, raiseload=True)).where(Batch.client_id == client_id)
        if entity is not None:
            stmt = stmt.where(Batch.entity == entity)
        return await paginate(self.session, stmt.order_by(Batch.delivered_at.desc(), Batch.id), params)
