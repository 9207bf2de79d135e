"""Preorders: days (0-30) until an offer reaches its pickup points. Set here (one by one or from
Kaspi's Excel price list), uploaded through the batch pricefeed (`preOrder` per point), then
confirmed by looking the product up on the storefront until our offer shows that `preorder`.
Pending → active, or failed after `preorder_timeout_seconds` with the reason. While a
preorder is pending the demper leaves the offer alone (see `demper.repository.due_offers_stmt`).
"""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda import clock
from sauda.clock import now
from sauda.db import transaction
from sauda.errors import InvalidInput
from sauda.kaspi.client import payloads
from sauda.kaspi.client.errors import KaspiError, KaspiNeedsLogin, KaspiStoreLocked
from sauda.kaspi.client.gateway import KaspiGateway
from sauda.kaspi.models import KaspiOffer, KaspiPreorder, KaspiStore, OfferState, PreorderStatus
from sauda.kaspi.offers.repository import OfferRepository
from sauda.kaspi.preorders import excel, repository
from sauda.kaspi.preorders.schemas import PreorderIn
from sauda.kaspi.proxies.pool import pool_for
from sauda.kaspi.stores.service import batch_call, with_cabinet
from sauda.tenancy import Scope

log = logging.getLogger(__name__)


# --- setting --------------------------------------------------------------------------------------


async def set_preorder(session: AsyncSession, scope: Scope, data: PreorderIn) -> KaspiPreorder:
    offer = await OfferRepository(session, scope).get(data.offer_id)
    if offer.state is OfferState.removed:
        raise InvalidInput.for_field("offer_id", "the offer is no longer in the cabinet")
    _check_points(offer, data.points, field="points")
    [preorder_id] = await repository.save(session, [(offer, data.days, data.points)])
    preorder = await session.get_one(KaspiPreorder, preorder_id, populate_existing=True)
    return preorder


def _offer_points(offer: KaspiOffer) -> list[str]:
    return [str(a.get("storeId", "")).rsplit("_", 1)[-1] for a in offer.availabilities or []]


def _check_points(offer: KaspiOffer, points: list[str], *, field: str) -> None:
    unknown = sorted(set(points) - set(_offer_points(offer) or ["PP1"]))
    if unknown:
        raise InvalidInput.for_field(field, f"the offer has no pickup point {', '.join(unknown)}")


# --- upload and confirmation ----------------------------------------------------------------------


@dataclass
class PreorderReport:
    uploaded: int = 0
    confirmed: int = 0
    failed: int = 0
    pending: int = 0  # the store's preorders still pending when the job ends, uploaded or not
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "uploaded": self.uploaded,
            "confirmed": self.confirmed,
            "failed": self.failed,
            "pending": self.pending,
            "errors": list(dict.fromkeys(self.errors)),  # a repeated look repeats its trouble
        }


async def upload(
    session: AsyncSession, gateway: KaspiGateway, store: KaspiStore, report: PreorderReport
) -> None:
    todo = [(p, o) for p, o in await repository.pending(session, store.id) if p.uploaded_at is None]
    uid = store.merchant_uid or ""
    size = max(gateway.kaspi.batch_size, 1)
    for start in range(0, len(todo), size):
        chunk = todo[start : start + size]
        items = [payloads.preorder_item(o, uid, p) for p, o in chunk]
        try:
            pricefeed_id = await with_cabinet(session, gateway, store, batch_call(items))
        except (KaspiNeedsLogin, KaspiStoreLocked) as exc:
            for preorder, _ in chunk:
                preorder.reason = f"not uploaded yet: {exc.message}"
            report.errors.append(exc.message)
            return
        for (preorder, offer), item in zip(chunk, items, strict=True):
            preorder.uploaded_at, preorder.pricefeed_id, preorder.reason = now(), pricefeed_id, None
            # Later price pushes resend the points: they must carry the new preorder days.
            offer.availabilities = [
                {**a, "preOrder": s["preOrder"]}
                for a, s in zip(payloads.points(offer, uid), item["availabilities"], strict=True)
            ]
            report.uploaded += 1
        await session.flush()


async def confirm(
    session: AsyncSession,
    gateway: KaspiGateway,
    store: KaspiStore,
    report: PreorderReport,
    *,
    every: bool = False,
) -> int:
    """Look the uploaded ones up on the storefront: does our offer show the preorder yet? Only
    those due a look, or `every` one. Returns how many still wait for Kaspi."""
    kaspi = gateway.kaspi
    checked_before = now() - timedelta(seconds=kaspi.preorder_check_seconds)
    todo = [
        (p, o)
        for p, o in await repository.pending(session, store.id)
        if p.uploaded_at is not None and (every or p.checked_at is None or p.checked_at <= checked_before)
    ]
    if not todo:
        return 0
    waiting = 0
    pool = await pool_for(session, gateway.redis, kaspi, store.company_id, gateway.decrypt)
    for n, (preorder, offer) in enumerate(todo):
        route = await pool.pick()
        if route is None:
            report.errors.append("every proxy is resting; confirmation waits")
            return waiting + len(todo) - n
        try:
            found = await gateway.storefront(proxy=route.url, ip_key=route.key).offers(
                offer.master_sku or "", store.city_id
            )
        except KaspiError as exc:
            await pool.bench(route, exc.message)
            report.errors.append(exc.message)
            waiting += 1
            continue
        pool.succeeded(route)
        ours = next((o for o in found if o.merchant_id == store.merchant_uid), None)
        shown = (ours.preorder or 0) if ours is not None else None
        preorder.checked_at = now()
        if shown == preorder.days:
            preorder.status, preorder.confirmed_at, preorder.reason = PreorderStatus.active, now(), None
            report.confirmed += 1
        elif preorder.uploaded_at and now() - preorder.uploaded_at > timedelta(
            seconds=kaspi.preorder_timeout_seconds
        ):
            seen = "the offer is not on the storefront" if ours is None else f"it shows {shown} days"
            preorder.status = PreorderStatus.failed
            preorder.reason = (
                f"Kaspi did not show the preorder of {preorder.days} days within "
                f"{kaspi.preorder_timeout_seconds} s of the upload; {seen}"
            )
            report.failed += 1
        else:
            waiting += 1
    await pool.save_health(session)
    await session.flush()
    return waiting


async def sync_preorders(
    sessionmaker: async_sessionmaker[AsyncSession],
    gateway: KaspiGateway,
    store_id: int,
    *,
    confirm_now: bool = False,
) -> dict[str, Any]:
    """Upload the store's new preorders, then look whether Kaspi shows the uploaded ones: those
    due a look (the cron), or, to `confirm_now`, every one, again every
    `preorder_confirm_poll_seconds` for up to `preorder_confirm_wait_seconds`, since Kaspi
    applies an upload a little later. The counts say what is confirmed and what still waits."""
    report = PreorderReport()
    async with transaction(sessionmaker) as session:
        store = await session.get(KaspiStore, store_id)
        if store is None:
            return {"skipped": "the store no longer exists"}
        try:
            await upload(session, gateway, store, report)
        except KaspiError as exc:  # anything else: the rows stay pending, tried at the next tick
            report.errors.append(exc.message)
    kaspi = gateway.kaspi
    give_up_at = clock.monotonic() + kaspi.preorder_confirm_wait_seconds
    while True:
        async with transaction(sessionmaker) as session:
            store = await session.get_one(KaspiStore, store_id)
            waiting = await confirm(session, gateway, store, report, every=confirm_now)
        left = give_up_at - clock.monotonic()
        if not confirm_now or not waiting or left <= 0:
            break
        await asyncio.sleep(min(kaspi.preorder_confirm_poll_seconds, left))
    async with sessionmaker() as session:
        report.pending = await repository.count_pending(session, store_id)
    return report.as_dict()


# --- Excel (Kaspi's price-list template) ----------------------------------------------------------


async def export_xlsx(session: AsyncSession, scope: Scope, store_id: int) -> bytes:
    return excel.write_xlsx(await repository.with_offers(session, scope, store_id))


async def import_xlsx(session: AsyncSession, scope: Scope, store_id: int, content: bytes) -> dict[str, Any]:
    """Set the preorders of a filled-in template: all rows or none (errors by row and column).
    A row with an empty preorder cell is in stock: nothing to change, nothing uploaded, none of
    the store's pricefeed budget spent."""
    rows, errors = excel.parse_xlsx(content)
    parsed = [r for r in rows if r["days"] is not None]
    skipped = len(rows) - len(parsed)
    skus = [r["sku"] for r in parsed]
    offers = {
        o.sku: o
        for o in await OfferRepository(session, scope).all(
            OfferRepository(session, scope)
            .select()
            .where(KaspiOffer.store_id == store_id, KaspiOffer.sku.in_(skus))
        )
    }
    chosen: list[tuple[KaspiOffer, int, list[str]]] = []
    seen: set[str] = set()
    for row in parsed:
        offer = offers.get(row["sku"])
        if offer is None or offer.state is OfferState.removed:
            errors.append({"row": row["row"], "column": "SKU", "message": "no such offer in this store"})
            continue
        if row["sku"] in seen:
            errors.append(
                {"row": row["row"], "column": "SKU", "message": "this SKU is on an earlier row too"}
            )
            continue
        seen.add(row["sku"])
        known = set(_offer_points(offer) or ["PP1"])
        points = [p for p in row["points"] if p in known] if set(row["points"]) - known else row["points"]
        chosen.append((offer, row["days"], points))
    errors.sort(key=lambda e: e["row"])
    if errors:
        return {"rows": len(rows), "saved": 0, "skipped": skipped, "errors": errors}
    await repository.save(session, chosen)
    return {"rows": len(rows), "saved": len(chosen), "skipped": skipped, "errors": []}
