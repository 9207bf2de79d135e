import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Row, Text, cast, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from sauda.exchange.entities import EntitySpec
from sauda.exchange.models import Batch, Change, Cursor
from sauda.pagination import PageParams, paginate
from sauda.tenancy import Scope

# The oldest transaction that may still commit; changes of older transactions are final.
_SETTLED_BELOW = cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)


@dataclass(frozen=True)
class Position:
    xid: int
    row_id: int


class FeedRepository:
    def __init__(self, session: AsyncSession, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    async def page(self, spec: EntitySpec, *, after: int, limit: int) -> Sequence[Row[Any]]:
        stmt = (
            spec.select()
            .where(self.scope.where(spec.tenant_column), spec.id_column > after)
            .order_by(spec.id_column)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).all())

    async def current(self, spec: EntitySpec, ids: Sequence[int]) -> dict[int, Row[Any]]:
        stmt = spec.select().where(self.scope.where(spec.tenant_column), spec.id_column.in_(ids))
        return {row.id: row for row in await self.session.execute(stmt)}

    async def settled_changes(
        self, entity: str, after: Position, limit: int
    ) -> Sequence[Row[int, int, bool]]:
        stmt = (
            select(Change.row_id, Change.xid, Change.deleted)
            .where(
                Change.entity == entity,
                self.scope.where(Change.company_id),
                tuple_(Change.xid, Change.row_id) > tuple_(after.xid, after.row_id),
                Change.xid < _SETTLED_BELOW,
            )
            .order_by(Change.xid, Change.row_id)
            .limit(limit)
        )
        return (await self.session.execute(stmt)).all()


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

    async def add(self, batch: Batch) -> Batch:
        self.session.add(batch)
        await self.session.flush()
        return batch

    async def log(self, client_id: int, entity: str | None, params: PageParams) -> tuple[list[Batch], int]:
        stmt = select(Batch).options(defer(Batch.payload, raiseload=True)).where(Batch.client_id == client_id)
        if entity is not None:
            stmt = stmt.where(Batch.entity == entity)
        return await paginate(self.session, stmt.order_by(Batch.delivered_at.desc(), Batch.id), params)
