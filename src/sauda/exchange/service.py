"""Feeds for 1C: full pages in key order, change batches that stay until acknowledged."""

import secrets
import uuid
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sauda.auth.models import IntegrationClient
from sauda.errors import Conflict, InvalidInput, NotFound
from sauda.exchange.entities import SPECS, EntitySpec, tombstone
from sauda.exchange.models import Batch, Entity
from sauda.exchange.onec import RawJSON, dumps
from sauda.exchange.repository import BatchRepository, CursorRepository, FeedRepository, Position
from sauda.pagination import PageParams
from sauda.tenancy import Scope


def client_scope(client: IntegrationClient) -> Scope:
    return Scope.everything() if client.all_companies else Scope.company(client.company_id)


def tz_name(tz: tzinfo) -> str:
    return str(tz)  # a ZoneInfo's key, e.g. Asia/Almaty, which PostgreSQL knows too


def spec_for(client: IntegrationClient, entity: Entity) -> EntitySpec:
    if entity is Entity.companies and not client.all_companies:
        raise NotFound("The companies feed is for clients of all companies (created by an admin)")
    return SPECS[entity]


def parse_cursor(after: str | None) -> int:
    if after is None or after == "":
        return 0
    if not after.isdigit() or len(after) > 19:
        raise InvalidInput.for_field("after", "must be the next_cursor of the previous page")
    return int(after)


async def full_page(
    session: AsyncSession,
    client: IntegrationClient,
    entity: Entity,
    *,
    after: str | None,
    limit: int,
    tz: tzinfo,
) -> dict[str, Any]:
    spec = spec_for(client, entity)
    rows = await FeedRepository(session, client_scope(client)).page(
        spec, after=parse_cursor(after), limit=limit + 1, tz=tz_name(tz)
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    return {
        "entity": entity.value,
        "items": [RawJSON(row.item) for row in rows],
        "has_more": has_more,
        "next_cursor": str(rows[-1].id) if has_more else None,
    }


def _batch_body(
    batch_id: uuid.UUID | None, entity: Entity, items: list[Any], has_more: bool, token: str | None
) -> bytes:
    return dumps(
        {
            "batch_id": str(batch_id) if batch_id else None,
            "entity": entity.value,
            "items": items,
            "has_more": has_more,
            "ack_token": token,
        }
    )


async def next_batch(
    session: AsyncSession, client: IntegrationClient, entity: Entity, *, limit: int, tz: tzinfo
) -> bytes:
    """The client's unacknowledged batch again, or a new one cut after its acknowledged position."""
    spec = spec_for(client, entity)
    position = await CursorRepository(session).lock(client.id, entity.value)
    batches = BatchRepository(session)
    if pending := await batches.pending(client.id, entity.value):
        pending.redelivered += 1
        return pending.payload
    feed = FeedRepository(session, client_scope(client))
    changes = await feed.settled_changes(entity.value, position, await feed.settled_bound(), limit + 1)
    if not changes:
        return _batch_body(None, entity, [], False, None)
    has_more = len(changes) > limit
    changes = changes[:limit]
    live = await feed.current(spec, [c.row_id for c in changes if not c.deleted], tz_name(tz))
    items = [RawJSON(live[c.row_id]) if c.row_id in live else tombstone(spec, c.row_id) for c in changes]
    batch_id, token = uuid.uuid4(), secrets.token_urlsafe(24)
    payload = _batch_body(batch_id, entity, items, has_more, token)
    await batches.add(
        Batch(
            id=batch_id,
            client_id=client.id,
            entity=entity.value,
            item_count=len(items),
            has_more=has_more,
            end_xid=changes[-1].xid,
            end_row_id=changes[-1].row_id,
            ack_token=token,
            payload=payload,
        )
    )
    return payload


async def acknowledge(
    session: AsyncSession, client: IntegrationClient, entity: Entity, token: str
) -> dict[str, Any]:
    """Idempotent: the batch's changes count as delivered; acknowledging again changes nothing."""
    cursors = CursorRepository(session)
    await cursors.lock(client.id, entity.value)
    batch = await BatchRepository(session).by_token(client.id, entity.value, token)
    if batch is None:
        raise Conflict(
            f"ack_token is stale or unknown for {entity.value}: ask for the changes again",
            fields=[{"field": "ack_token", "message": "not the token of a batch delivered to this client"}],
        )
    if batch.acknowledged_at is None:
        batch.acknowledged_at = datetime.now(UTC)
        await cursors.advance(client.id, entity.value, Position(batch.end_xid, batch.end_row_id))
        await session.flush()
    return {
        "batch_id": str(batch.id),
        "entity": entity.value,
        "acknowledged": True,
        "items": batch.item_count,
    }


async def batch_log(
    session: AsyncSession, client: IntegrationClient, entity: Entity | None, params: PageParams
) -> tuple[list[Batch], int]:
    return await BatchRepository(session).log(client.id, entity.value if entity else None, params)


async def batch_file(session: AsyncSession, client: IntegrationClient, batch_id: uuid.UUID) -> Batch:
    batch = await BatchRepository(session).get(client.id, batch_id)
    if batch is None:
        raise NotFound(f"Batch {batch_id} not found")
    return batch


def batch_filename(batch: Batch, tz: tzinfo) -> str:
    moment = batch.delivered_at.astimezone(tz).strftime("%Y-%m-%d_%H-%M-%S")
    return f"sauda_{batch.entity}_{moment}_{str(batch.id)[:8]}.json"
