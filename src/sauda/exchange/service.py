"""Feeds for 1C: full pages in key order, change batches that stay until acknowledged."""

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import tzinfo
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda import clock
from sauda.auth.models import IntegrationClient
from sauda.db import transaction
from sauda.errors import Conflict, InvalidInput, NotFound
from sauda.exchange.entities import SPECS, EntitySpec, tombstone
from sauda.exchange.models import Batch, Entity
from sauda.exchange.onec import RawJSON, dumps, moment
from sauda.exchange.repository import BatchRepository, ChangeRow, CursorRepository, FeedRepository, Position
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


def parse_changes_from(token: str) -> int:
    if not token.isdigit() or len(token) > 19:
        raise InvalidInput.for_field(
            "changes_from", "must be the changes_from of a full feed page or snapshot"
        )
    return int(token)


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
    feed = FeedRepository(session, client_scope(client))
    # Taken before the page is read: every change below it is in the page (see start_changes).
    changes_from = await feed.settled_bound()
    rows = await feed.page(spec, after=parse_cursor(after), limit=limit + 1, tz=tz_name(tz))
    has_more = len(rows) > limit
    rows = rows[:limit]
    return {
        "entity": entity.value,
        "changes_from": str(changes_from),
        "has_more": has_more,
        "next_cursor": str(rows[-1].id) if has_more else None,
        "items": [RawJSON(row.item) for row in rows],
    }


SNAPSHOT_PAGE = 1000


async def snapshot_chunks(
    sessionmaker: async_sessionmaker[AsyncSession], client: IntegrationClient, entity: Entity, tz: tzinfo
) -> AsyncIterator[bytes]:
    """The whole feed of `entity` as one full page (`has_more` false), read from one snapshot so
    the file is consistent however long it streams; its `changes_from` lets the client start its
    changes after loading the file by hand. In its own transaction: the body is produced after
    the request's session has committed."""
    spec = spec_for(client, entity)
    scope = client_scope(client)
    # Every transaction below the bound has ended before the snapshot below is taken, so the
    # file holds all their changes (a bound read inside that snapshot could not know this).
    async with transaction(sessionmaker) as session:
        changes_from = await FeedRepository(session, scope).settled_bound()
    async with transaction(sessionmaker) as session:
        await session.connection(
            execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        )
        feed = FeedRepository(session, scope)
        head = {"entity": entity.value, "changes_from": str(changes_from)}
        prefix = dumps(head | {"has_more": False, "next_cursor": None})[:-1] + b',"items":['
        after = 0
        while rows := await feed.page(spec, after=after, limit=SNAPSHOT_PAGE, tz=tz_name(tz)):
            yield prefix + ",".join(row.item for row in rows).encode()
            prefix, after = b",", rows[-1].id
        yield (b"" if prefix == b"," else prefix) + b"]}"


def snapshot_filename(entity: Entity, tz: tzinfo) -> str:
    return f"sauda_{entity.value}_full_{clock.now().astimezone(tz).strftime('%Y-%m-%d_%H-%M-%S')}.json"


async def start_changes(
    session: AsyncSession, client: IntegrationClient, entity: Entity, changes_from: str
) -> dict[str, Any]:
    """After a full load: the client's changes start where that load began, not from the first
    record ever. Changes of transactions below `changes_from` were all visible to the load; any
    at or above it come as changes (some records may come twice, none is lost). A batch not yet
    acknowledged is closed as superseded."""
    spec_for(client, entity)
    xid = parse_changes_from(changes_from)
    if xid > await FeedRepository(session, client_scope(client)).settled_bound():
        raise InvalidInput.for_field("changes_from", "ahead of this server's feeds: not one it gave")
    cursors = CursorRepository(session)
    await cursors.lock(client.id, entity.value)
    superseded = await BatchRepository(session).supersede_pending(client.id, entity.value, clock.now())
    await cursors.advance(client.id, entity.value, Position(xid, 0))  # row ids start at 1
    return {
        "entity": entity.value,
        "changes_from": changes_from,
        "superseded_batch_id": str(superseded.id) if superseded else None,
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


def _item(spec: EntitySpec, change: ChangeRow, live: dict[int, str], deleted_since: dict[int, Any]) -> Any:
    if change.row_id in live:
        return RawJSON(live[change.row_id])
    identifiers = change.identifiers if change.deleted else deleted_since.get(change.row_id)
    # Deletions captured before tombstones kept identifiers have only their id.
    return tombstone(spec, identifiers or {"id": change.row_id})


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
    # A row deleted since its change was read: its deletion has committed, with its identifiers.
    gone = [c.row_id for c in changes if not c.deleted and c.row_id not in live]
    deleted_since = await feed.identifiers(entity.value, gone) if gone else {}
    items = [_item(spec, c, live, deleted_since) for c in changes]
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
        batch.acknowledged_at = clock.now()
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


def batch_out(batch: Batch, tz: tzinfo, file_url: str) -> dict[str, Any]:
    """A line of the batch log in the feeds' format: moments in business time, no offset."""
    return {
        "id": str(batch.id),
        "client_id": batch.client_id,
        "entity": batch.entity,
        "item_count": batch.item_count,
        "has_more": batch.has_more,
        "delivered_at": moment(batch.delivered_at, tz),
        "redelivered": batch.redelivered,
        "acknowledged_at": moment(batch.acknowledged_at, tz) if batch.acknowledged_at else None,
        "superseded": batch.superseded,
        "file_url": file_url,
    }


def batch_filename(batch: Batch, tz: tzinfo) -> str:
    moment = batch.delivered_at.astimezone(tz).strftime("%Y-%m-%d_%H-%M-%S")
    return f"sauda_{batch.entity}_{moment}_{str(batch.id)[:8]}.json"
