"""One demper run of one store: look up the competitors of every due offer on the storefront
(through the proxy pool, within the per-IP rate), decide (`rules.decide`), push the changes in
batches through the pricefeed (within the per-merchant rate) and record every decision.

A run holds a per-store lock in Redis, so a store never has two demper runs at once. Each
batch of decisions is its own unit of work (push + history + the offers' next check), so a run
cut short keeps what it did, and running it again only takes offers still due. A run stops
after `demper_run_seconds`; offers it did not reach stay due for the next tick.
"""

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.clock import now
from sauda.db import transaction
from sauda.kaspi.client.errors import (
    KaspiBlocked,
    KaspiCoolingDown,
    KaspiError,
    KaspiNeedsLogin,
    KaspiRateLimited,
    KaspiStoreLocked,
    KaspiUnavailable,
)
from sauda.kaspi.client.gateway import KaspiGateway
from sauda.kaspi.client.payloads import price_item
from sauda.kaspi.client.ratelimit import DemperLock
from sauda.kaspi.client.storefront import PublicOffer, StorefrontClient
from sauda.kaspi.demper import repository
from sauda.kaspi.demper.rules import Decision, Rival, Rules, decide
from sauda.kaspi.models import (
    KaspiOffer,
    KaspiStore,
    PriceAction,
    StoreStatus,
)
from sauda.kaspi.offers.service import current_price
from sauda.kaspi.proxies.pool import ProxyPool, pool_for
from sauda.kaspi.stores.repository import StoreRepository
from sauda.kaspi.stores.service import with_cabinet
from sauda.tenancy import Scope

log = logging.getLogger(__name__)
CHUNK = 200  # offers loaded at a time during a run


def within_hours(store: KaspiStore, at: datetime, tz: ZoneInfo) -> bool:
    """The store's working hours in the business timezone; none set = all day; may span midnight."""
    start, end = store.demper_hours_from, store.demper_hours_to
    if start is None or end is None or start == end:
        return True
    local = at.astimezone(tz).time().replace(tzinfo=None)
    return start <= local < end if start < end else local >= start or local < end


@dataclass
class Outcome:
    offer: KaspiOffer
    decision: Decision | None = None
    error: str | None = None


@dataclass
class RunReport:
    due: int = 0
    checked: int = 0
    changed: int = 0
    pushed: int = 0
    dry_run: int = 0
    held: int = 0
    failed: int = 0
    lookups: int = 0
    refused: int = 0  # 403/405/429 or bot walls from the storefront (the proxy was switched)
    uploads: int = 0
    stopped: str | None = None
    seconds: float = 0.0
    routes: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Run:
    sessionmaker: async_sessionmaker[AsyncSession]
    gateway: KaspiGateway
    store: KaspiStore  # detached: read-only settings of this run
    rules: Rules
    pool: ProxyPool
    dry_run: bool
    tz: ZoneInfo
    report: RunReport = field(default_factory=RunReport)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    deadline: float = 0.0
    fed: int = 0

    @property
    def kaspi(self) -> Any:
        return self.gateway.kaspi

    # --- lookups ------------------------------------------------------------------------------
    async def lookup(self, offer: KaspiOffer, clients: dict[str, StorefrontClient]) -> Outcome:
        for _ in range(max(self.kaspi.demper_max_attempts, 1)):
            route = await self.pool.pick()
            if route is None:
                wait = await self.pool.rest_seconds()
                # Wait out a short cool-down; a long bench means: try this offer a bit later.
                too_long = wait > self.kaspi.storefront_cooldown_seconds
                if too_long or time.monotonic() + wait > self.deadline or self.stop.is_set():
                    # Every way out rests: stop here, the offers not reached stay due.
                    if not self.stop.is_set():
                        self.report.stopped = f"every proxy is benched for {wait:.0f} s more"
                        self.stop.set()
                    return Outcome(offer, error="the storefront refuses every proxy for now")
                await asyncio.sleep(wait + 0.05)
                continue
            try:
                self.report.lookups += 1
                found = await clients[route.key].offers(offer.master_sku or "", self.store.city_id)
            except KaspiBlocked as exc:  # 403/405/429 or a bot wall: the client cools the IP down
                self.report.refused += 1
                self.pool.failed(
                    route, exc.message, exc.retry_after or self.kaspi.storefront_cooldown_seconds
                )
                continue
            except KaspiCoolingDown:  # another caller met a ban on this IP while we waited for it
                continue
            except KaspiUnavailable as exc:  # the proxy (or Kaspi) does not answer
                await self.pool.bench(route, exc.message)
                continue
            except KaspiError as exc:  # our own limiter's queue is full, or a 4xx we do not expect
                return Outcome(offer, error=exc.message)
            self.pool.succeeded(route)
            return Outcome(offer, decision=self.decide(offer, found))
        return Outcome(offer, error="the storefront refused every attempt")

    def decide(self, offer: KaspiOffer, found: Sequence[PublicOffer]) -> Decision:
        ours = next((o.price for o in found if o.merchant_id == self.store.merchant_uid), None)
        current = ours if ours is not None else self.known_price(offer)
        rules = Rules(
            floor=offer.demper_floor or 0,
            ceiling=offer.demper_ceiling,
            step=offer.demper_step or self.store.demper_step,
            strategy=offer.demper_strategy,
            position=offer.demper_position,
            raise_when_alone=self.rules.raise_when_alone,
            own_merchants=self.rules.own_merchants,
            excluded_merchants=self.rules.excluded_merchants,
        )
        return decide(current, [Rival(o.merchant_id, o.price) for o in found], rules)

    def known_price(self, offer: KaspiOffer) -> Decimal | None:
        """Our price when the storefront did not show it: the last push Kaspi took (the synced
        price is older than that until the next sync), else the synced one."""
        return current_price(offer, self.store.city_id)

    def running(self) -> bool:
        return not self.stop.is_set() and time.monotonic() < self.deadline

    async def feed(self, ids: list[int], queue: asyncio.Queue[KaspiOffer], fed: asyncio.Event) -> None:
        """Load the due offers a chunk at a time, just ahead of the lookups: a big store's offers
        are never all in memory (less for the garbage collector to walk, fewer pauses), and an
        offer disabled meanwhile is skipped."""
        chunk = CHUNK
        try:
            for start in range(0, len(ids), chunk):
                # Polled, not awaited on a bounded queue: lookups that stop early must not leave
                # the feeder blocked on a full queue.
                while queue.qsize() > chunk and self.running():  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                if not self.running():
                    return
                wanted = ids[start : start + chunk]
                stmt = repository.due_offers_stmt(self.store.id, None).where(KaspiOffer.id.in_(wanted))
                async with self.sessionmaker() as session:
                    found = {o.id: o for o in (await session.scalars(stmt)).all()}
                for offer_id in wanted:
                    if offer_id in found:
                        queue.put_nowait(found[offer_id])
                self.fed += len(wanted)
        finally:
            fed.set()

    async def look_up_all(self, ids: list[int], out: asyncio.Queue[Outcome | None]) -> None:
        queue: asyncio.Queue[KaspiOffer] = asyncio.Queue()
        fed = asyncio.Event()
        clients = {r.key: self.gateway.storefront(proxy=r.url, ip_key=r.key) for r in self.pool.routes}

        async def lookups() -> None:
            while self.running():
                try:
                    offer = queue.get_nowait()
                except asyncio.QueueEmpty:
                    if fed.is_set():
                        return
                    await asyncio.sleep(0.01)
                    continue
                await out.put(await self.lookup(offer, clients))

        try:
            for client in clients.values():
                await client.__aenter__()
            width = max(self.kaspi.demper_concurrency, 1) * len(self.pool.routes)
            await asyncio.gather(
                self.feed(ids, queue, fed), *(lookups() for _ in range(min(width, len(ids)) or 1))
            )
        finally:
            for client in clients.values():
                await client.__aexit__(None, None, None)
            left = queue.qsize() + len(ids) - self.fed
            if left and self.report.stopped is None:
                self.report.stopped = f"time is up: {left} offers stay due for the next run"
            await out.put(None)

    # --- pushes and records -------------------------------------------------------------------
    async def write_all(self, out: asyncio.Queue[Outcome | None]) -> None:
        batch: list[Outcome] = []
        size = max(self.kaspi.batch_size, 1)
        last = time.monotonic()
        while (item := await out.get()) is not None:
            batch.append(item)
            if len(batch) >= size or time.monotonic() - last >= 2.0:
                await self.write(batch)
                batch, last = [], time.monotonic()
        if batch:
            await self.write(batch)

    async def write(self, batch: list[Outcome]) -> None:
        at = now()
        changes = [o for o in batch if o.decision is not None and o.decision.changes]
        upload: str | None = None
        failure: str | None = None
        async with transaction(self.sessionmaker) as session:
            store = await session.get_one(KaspiStore, self.store.id)
            if changes and not self.dry_run:
                if self.stop.is_set():
                    failure = self.report.stopped or "the run stopped"
                else:
                    upload, failure = await self.push(session, store, changes)
            history, offers = [], []
            for outcome in batch:
                row, values = self.record(outcome, at, upload=upload, failure=failure)
                history.append(row)
                offers.append(values)
            await repository.record_decisions(session, history, offers)

    async def push(
        self, session: AsyncSession, store: KaspiStore, changes: list[Outcome]
    ) -> tuple[str | None, str | None]:
        uid = store.merchant_uid or ""
        items = [
            price_item(
                o.offer,
                uid,
                o.decision.new_price or 0 if o.decision else 0,
                store.city_id if o.offer.city_prices else None,
            )
            for o in changes
        ]
        try:
            upload = await with_cabinet(session, self.gateway, store, lambda c: c.push_batch(items))
        except (KaspiNeedsLogin, KaspiStoreLocked) as exc:
            # The store row already says why (needs_login / locked_until): stop touching it.
            self.report.stopped = exc.message
            self.stop.set()
            return None, exc.message
        except KaspiRateLimited as exc:  # our own per-window change quota
            self.report.stopped = exc.message
            self.stop.set()
            return None, exc.message
        except KaspiError as exc:
            return None, exc.message
        self.report.uploads += 1
        return upload, None

    def record(
        self, outcome: Outcome, at: datetime, *, upload: str | None, failure: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        offer, decision = outcome.offer, outcome.decision
        interval = (
            self.kaspi.demper_priority_minutes
            if offer.demper_priority
            else self.store.demper_interval_minutes
        )
        values: dict[str, Any] = {"id": offer.id, "demper_checked_at": at}
        row: dict[str, Any] = {
            "company_id": offer.company_id,
            "store_id": offer.store_id,
            "offer_id": offer.id,
            "created_at": at,
            "old_price": self.known_price(offer),
            "new_price": None,
            "leader_price": None,
            "leader_merchant_id": None,
            "competitors": 0,
            "detail": None,
            "pricefeed_id": None,
        }
        if decision is None:
            self.report.failed += 1
            values["demper_next_at"] = at + timedelta(minutes=self.kaspi.demper_retry_minutes)
            return row | {
                "reason": "lookup_failed",
                "action": PriceAction.failed,
                "detail": outcome.error,
            }, values
        self.report.checked += 1
        leader = decision.leader
        row |= {
            # What the decision started from, failed push or not: never the stale synced price.
            "old_price": Decimal(decision.old_price) if decision.old_price is not None else row["old_price"],
            "new_price": Decimal(decision.new_price) if decision.new_price is not None else None,
            "leader_price": leader.price if leader else None,
            "leader_merchant_id": leader.merchant_id if leader else None,
            "competitors": decision.competitors,
            "reason": decision.reason.value,
        }
        values["demper_next_at"] = at + timedelta(minutes=interval)
        if not decision.changes:
            self.report.held += 1
            return row | {"action": PriceAction.held}, values
        self.report.changed += 1
        if self.dry_run:
            self.report.dry_run += 1
            return row | {"action": PriceAction.dry_run}, values
        if failure is not None:
            self.report.failed += 1
            values["demper_next_at"] = at + timedelta(minutes=self.kaspi.demper_retry_minutes)
            return row | {"action": PriceAction.failed, "detail": failure}, values
        self.report.pushed += 1
        values |= {"pushed_price": row["new_price"], "pushed_at": at, "pricefeed_id": upload}
        return row | {"action": PriceAction.pushed, "pricefeed_id": upload}, values


async def _prepare(
    session: AsyncSession, gateway: KaspiGateway, store: KaspiStore, *, force: bool
) -> tuple[list[int], Rules, ProxyPool] | str:
    if store.status is not StoreStatus.active or store.session_encrypted is None or not store.merchant_uid:
        return store.status_reason or "the store is not logged in to Kaspi"
    if store.locked_until is not None and store.locked_until > now():
        return f"Kaspi locked the store until {store.locked_until.isoformat()}"
    if not force and not within_hours(store, now(), gateway.settings.tz):
        return "outside the store's working hours"
    due = repository.due_offers_stmt(store.id, None if force else now()).with_only_columns(KaspiOffer.id)
    offers = list((await session.scalars(due)).all())
    own = await StoreRepository(session, Scope.everything()).merchant_uids(store.company_id)
    rules = Rules(
        floor=1,
        raise_when_alone=store.demper_raise_when_alone,
        own_merchants=frozenset(own | {store.merchant_uid}),
        excluded_merchants=frozenset(map(str, store.demper_excluded_merchants or [])),
    )
    pool = await pool_for(session, gateway.redis, gateway.kaspi, store.company_id, gateway.decrypt)
    return offers, rules, pool


async def run_demper(
    sessionmaker: async_sessionmaker[AsyncSession],
    gateway: KaspiGateway,
    store_id: int,
    *,
    force: bool = False,
) -> dict[str, Any]:
    """Run the demper for one store; `force` checks every enabled offer now, any hour."""
    lock = DemperLock(gateway.redis, store_id, gateway.kaspi.demper_run_seconds + 120)
    if not await lock.acquire():
        return {"skipped": "another demper run of this store is in progress"}
    started = time.monotonic()
    try:
        async with transaction(sessionmaker) as session:
            store = await session.get(KaspiStore, store_id)
            if store is None:
                return {"skipped": "the store no longer exists"}
            prepared = await _prepare(session, gateway, store, force=force)
            if isinstance(prepared, str):
                store.demper_last_error = prepared
                return {"skipped": prepared}
            offers, rules, pool = prepared
        run = Run(sessionmaker, gateway, store, rules, pool, store.demper_dry_run, gateway.settings.tz)
        run.deadline = started + gateway.kaspi.demper_run_seconds
        run.report.due = len(offers)
        if offers:
            out: asyncio.Queue[Outcome | None] = asyncio.Queue(maxsize=1000)
            await asyncio.gather(run.look_up_all(offers, out), run.write_all(out))
        run.report.seconds = round(time.monotonic() - started, 3)
        run.report.routes = dict(pool.used)
        result = run.report.as_dict()
        async with transaction(sessionmaker) as session:
            await pool.save_health(session)
            await repository.save_last_run(session, store_id, result, run.report.stopped)
        log.info("kaspi demper store %s: %s", store_id, result)
        return result
    finally:
        await lock.release()
