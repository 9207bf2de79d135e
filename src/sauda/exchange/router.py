"""1C:Enterprise exchange (ONEC.md): feeds, change batches with acknowledgement, batch files,
upserts keyed by 1C references; and the clients 1C logs in with."""

import uuid
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ValidationError
from sqlalchemy import any_
from starlette.types import ASGIApp, Receive, Scope, Send

from sauda.auth import service as auth_service
from sauda.auth.deps import CurrentUser, ScopeDep
from sauda.auth.models import ClientScope, IntegrationClient
from sauda.auth.repository import IntegrationClientRepository
from sauda.auth.schemas import ClientOut, ClientWithSecret
from sauda.db import SessionDep
from sauda.deps import BusinessToday, SettingsDep
from sauda.errors import InvalidInput, validation_fields
from sauda.exchange import service
from sauda.exchange.deps import ExchangeClient
from sauda.exchange.models import Entity
from sauda.exchange.onec import MEDIA_TYPE, OneCResponse, loads
from sauda.exchange.schemas import (
    AckIn,
    AckOut,
    BatchOut,
    ChangesBatchOut,
    ExchangeClientIn,
    FeedPageOut,
    StartIn,
    StartOut,
    UpsertBody,
    UpsertOut,
)
from sauda.exchange.upserts import Context, upsert_items
from sauda.pagination import Page, PageDep, make_page
from sauda.streaming import StreamedFile
from sauda.types import Id

M = TypeVar("M", bound=BaseModel)
PREFIX = "/exchange"
router = APIRouter(prefix=PREFIX, tags=["exchange (1C)"])

Limit = Annotated[int, Query(ge=1, le=5000, description="items per page or batch")]


def onec_json(model: type[BaseModel] | None = None) -> dict[int | str, dict[str, Any]]:
    """The 200 answer in 1C's media type, with the shape `model` documents (1C reads it as is)."""
    answer: dict[str, Any] = {"content": {MEDIA_TYPE: {}}}
    if model is not None:
        answer["model"] = model
    return {200: answer}


class NoTrailingSlash:
    """1C must never see a redirect: `/exchange/products/` is served as `/exchange/products`."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(self.prefix) and path.endswith("/"):
            scope = dict(scope, path=path.rstrip("/"), raw_path=path.rstrip("/").encode())
        await self.app(scope, receive, send)


def _body(schema: type[M], raw: bytes) -> M:
    """A request body from 1C: UTF-8, a BOM at the start allowed."""
    try:
        return schema.model_validate(loads(raw))
    except (UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            raise InvalidInput.for_fields(validation_fields(exc)) from exc
        raise InvalidInput.for_field("body", "not JSON in UTF-8") from exc


# --- clients (people manage them with their JWT) --------------------------------------------


def _client_out(client: IntegrationClient, secret: str | None = None) -> dict[str, Any]:
    out = ClientOut.model_validate(client).model_dump()
    return out | {"secret": secret} if secret else out


async def _exchange_client_in_scope(client_id: Id, session: SessionDep, scope: ScopeDep) -> IntegrationClient:
    # A client beyond the caller's powers is not found (the repository's rule): 404.
    client = await IntegrationClientRepository(session, scope).get(client_id)
    if not client.has_scope(ClientScope.exchange):
        raise InvalidInput.for_field("client_id", "not an exchange client")
    return client


ScopedClient = Annotated[IntegrationClient, Depends(_exchange_client_in_scope)]


@router.post("/clients", response_model=ClientWithSecret, status_code=status.HTTP_201_CREATED)
async def create_client(
    data: ExchangeClientIn, user: CurrentUser, scope: ScopeDep, session: SessionDep
) -> dict[str, Any]:
    """A login for 1C (scope `exchange`). The secret is in this answer only. Employees create
    clients of their own company; admins name the company, and may let it see all."""
    company_id = data.company_id
    if company_id is None and not user.is_admin:
        company_id = user.company_id  # an employee's own company, unless named
    if company_id is None:
        raise InvalidInput.for_field("company_id", "required")
    client, secret = await auth_service.create_client(
        session,
        scope,
        company_id=company_id,
        name=data.name,
        login=data.login,
        scopes=[ClientScope.exchange],
        all_companies=data.all_companies,
        created_by=user,
    )
    return _client_out(client, secret)


@router.get("/clients", response_model=Page[ClientOut])
async def list_clients(session: SessionDep, scope: ScopeDep, params: PageDep) -> Page[ClientOut]:
    clients = IntegrationClientRepository(session, scope)
    stmt = clients.filtered(company_id=None, active=None).where(
        any_(IntegrationClient.scopes) == ClientScope.exchange.value
    )
    rows, total = await clients.paginate(stmt, params)
    return make_page([ClientOut.model_validate(c) for c in rows], total, params)


@router.post("/clients/{client_id}/rotate", response_model=ClientWithSecret)
async def rotate_client(client: ScopedClient, session: SessionDep) -> dict[str, Any]:
    """A new secret, shown once; the old one stops working at once."""
    return _client_out(client, await auth_service.rotate_client_secret(session, client))


@router.post("/clients/{client_id}/revoke", response_model=ClientOut)
async def revoke_client(client: ScopedClient, session: SessionDep) -> dict[str, Any]:
    return _client_out(await auth_service.revoke_client(session, client))


# --- what 1C calls ----------------------------------------------------------------------------


@router.get("/batches", response_class=OneCResponse, responses=onec_json(Page[BatchOut]))
async def list_batches(
    client: ExchangeClient,
    session: SessionDep,
    settings: SettingsDep,
    params: PageDep,
    entity: Entity | None = None,
) -> OneCResponse:
    """Every batch of changes delivered to this client, newest first, in the feeds' format."""
    rows, total = await service.batch_log(session, client, entity, params)
    items = [service.batch_out(b, settings.tz, f"/api/v1{PREFIX}/batches/{b.id}.json") for b in rows]
    return OneCResponse(make_page(items, total, params).model_dump())


@router.get("/batches/{batch_id}.json", response_class=OneCResponse, responses=onec_json())
async def batch_file(
    batch_id: uuid.UUID, client: ExchangeClient, session: SessionDep, settings: SettingsDep
) -> OneCResponse:
    """The batch exactly as it was delivered, as a file to load by hand in 1C."""
    batch = await service.batch_file(session, client, batch_id)
    filename = service.batch_filename(batch, settings.tz)
    return OneCResponse(batch.payload, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/{entity}", response_class=OneCResponse, responses=onec_json(FeedPageOut))
async def full_feed(
    entity: Entity,
    client: ExchangeClient,
    session: SessionDep,
    settings: SettingsDep,
    limit: Limit = 1000,
    after: Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page")] = None,
) -> OneCResponse:
    """Every record in key order, a page at a time: `{"entity", "items", "has_more", "next_cursor"}`."""
    page = await service.full_page(session, client, entity, after=after, limit=limit, tz=settings.tz)
    return OneCResponse(page)


@router.get(
    "/{entity}/snapshot.json",
    response_class=StreamedFile,
    responses={200: {"content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/FeedPageOut"}}}}},
)
async def snapshot(
    entity: Entity, client: ExchangeClient, request: Request, settings: SettingsDep
) -> StreamedFile:
    """Every record of the entity as one file, streamed (any size), in the full feed's format
    with `has_more` false: for loading by hand in 1C. Its `changes_from` starts the changes."""
    service.spec_for(client, entity)  # 404 before anything is streamed
    chunks = service.snapshot_chunks(request.app.state.sessionmaker, client, entity, settings.tz)
    filename = service.snapshot_filename(entity, settings.tz)
    return StreamedFile(
        chunks, media_type=MEDIA_TYPE, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@router.post("/{entity}/changes/start", response_class=OneCResponse, responses=onec_json(StartOut))
async def start_changes(
    entity: Entity, client: ExchangeClient, session: SessionDep, request: Request
) -> OneCResponse:
    """After a full load: `{"changes_from": ...}` from its first page (or the snapshot file). The
    client's changes then start where the load began instead of repeating every record; a
    change made during the load still comes. An unacknowledged batch is closed as superseded."""
    data = _body(StartIn, await request.body())
    return OneCResponse(await service.start_changes(session, client, entity, data.changes_from))


@router.get("/{entity}/changes", response_class=OneCResponse, responses=onec_json(ChangesBatchOut))
async def changes(
    entity: Entity, client: ExchangeClient, session: SessionDep, settings: SettingsDep, limit: Limit = 1000
) -> OneCResponse:
    """The next batch this client has not acknowledged: `{"batch_id", "entity", "items", "has_more",
    "ack_token"}`. Until it is acknowledged, asking again returns the same batch."""
    return OneCResponse(await service.next_batch(session, client, entity, limit=limit, tz=settings.tz))


@router.post("/{entity}/ack", response_class=OneCResponse, responses=onec_json(AckOut))
async def acknowledge(
    entity: Entity, client: ExchangeClient, session: SessionDep, request: Request
) -> OneCResponse:
    """`{"ack_token": ...}` from the batch: its changes count as received. Idempotent."""
    data = _body(AckIn, await request.body())
    return OneCResponse(await service.acknowledge(session, client, entity, data.ack_token))


@router.put("/{entity}", response_class=OneCResponse, responses=onec_json(UpsertOut))
async def upsert(
    entity: Entity,
    client: ExchangeClient,
    session: SessionDep,
    settings: SettingsDep,
    today: BusinessToday,
    request: Request,
) -> OneCResponse:
    """`{"items": [...]}` keyed by `external_id` (1C's reference as a string, or any key), at most
    1000 per call; `"deleted": true` (1C's ПометкаУдаления) deletes; a client of all companies
    names each item's `company_id`. Answers `{"results": [{"index", "external_id", "status",
    "id", "errors", "notes"}]}`; status is `created`, `updated`, `unchanged`, `deleted` or `error`
    (then `errors` names the fields). 1C's empty date `0001-01-01T00:00:00` is no date; numbers
    are rounded half up like `Окр()` to the column's decimals, and `notes` says so."""
    data = _body(UpsertBody, await request.body())
    results = await upsert_items(
        session,
        client=client,
        entity=entity,
        items=data.items,
        ctx=Context(tz=settings.tz, today=today),
    )
    return OneCResponse({"results": results})
