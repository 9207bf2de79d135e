"""Preorders: days (0-30) until an offer reaches its pickup points. Set here (one by one or from
Kaspi's Excel price list), uploaded through the batch pricefeed (`preOrder` per point), then
confirmed by looking the product up on the storefront until our offer shows that `preorder`.
Pending → active, or failed after `preorder_timeout_seconds` with the reason. While a
preorder is pending the demper leaves the offer alone (see `demper.repository.due_offers_stmt`).
"""

import io
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlalchemy import Select, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.clock import now
from sauda.db import transaction
from sauda.errors import InvalidInput
from sauda.kaspi import service
from sauda.kaspi.client import payloads
from sauda.kaspi.client.errors import KaspiError, KaspiNeedsLogin, KaspiStoreLocked
from sauda.kaspi.client.gateway import KaspiGateway
from sauda.kaspi.models import KaspiOffer, KaspiPreorder, KaspiStore, OfferState, PreorderStatus
from sauda.kaspi.proxies import pool_for
from sauda.kaspi.repository import OfferRepository
from sauda.kaspi.schemas import PreorderIn
from sauda.repository import Repository
from sauda.tenancy import Scope

log = logging.getLogger(__name__)
HEADER = ["SKU", "model", "brand", "price", "PP1", "PP2", "PP3", "PP4", "PP5", "preorder"]
POINTS = HEADER[4:9]


class PreorderRepository(Repository[KaspiPreorder]):
    model = KaspiPreorder
    tenant_column = KaspiPreorder.company_id
    label = "Preorder"

    def filtered(self, *, store_id: int | None, status: PreorderStatus | None) -> Select[KaspiPreorder]:
        stmt = self.select()
        if store_id is not None:
            stmt = stmt.where(KaspiPreorder.store_id == store_id)
        if status is not None:
            stmt = stmt.where(KaspiPreorder.status == status)
        return stmt.order_by(KaspiPreorder.requested_at.desc(), KaspiPreorder.id.desc())


# --- setting --------------------------------------------------------------------------------------


async def save(session: AsyncSession, offers: list[tuple[KaspiOffer, int, list[str]]]) -> list[int]:
    """Upsert (offer, days, points): each becomes pending again until Kaspi shows it."""
    if not offers:
        return []
    rows = [
        {
            "company_id": o.company_id,
            "store_id": o.store_id,
            "offer_id": o.id,
            "days": days,
            "points": points,
            "status": PreorderStatus.pending,
            "reason": None,
            "requested_at": now(),
            "uploaded_at": None,
            "pricefeed_id": None,
            "checked_at": None,
            "confirmed_at": None,
        }
        for o, days, points in offers
    ]
    stmt = insert(KaspiPreorder).values(rows)
    keep = ("company_id", "store_id", "offer_id")
    stmt = stmt.on_conflict_do_update(
        index_elements=["offer_id"], set_={k: stmt.excluded[k] for k in rows[0] if k not in keep}
    )
    ids = (await session.scalars(stmt.returning(KaspiPreorder.id))).all()
    await session.flush()
    return list(ids)


async def set_preorder(session: AsyncSession, scope: Scope, data: PreorderIn) -> KaspiPreorder:
    offer = await OfferRepository(session, scope).get(data.offer_id)
    if offer.state is OfferState.removed:
        raise InvalidInput.for_field("offer_id", "the offer is no longer in the cabinet")
    _check_points(offer, data.points, field="points")
    [preorder_id] = await save(session, [(offer, data.days, data.points)])
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
    waiting: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "uploaded": self.uploaded,
            "confirmed": self.confirmed,
            "failed": self.failed,
            "waiting": self.waiting,
            "errors": self.errors,
        }


async def _pending(session: AsyncSession, store_id: int) -> list[tuple[KaspiPreorder, KaspiOffer]]:
    stmt = (
        select(KaspiPreorder, KaspiOffer)
        .join(KaspiOffer, KaspiOffer.id == KaspiPreorder.offer_id)
        .where(KaspiPreorder.store_id == store_id, KaspiPreorder.status == PreorderStatus.pending)
        .order_by(KaspiPreorder.id)
    )
    return [(p, o) for p, o in (await session.execute(stmt)).all()]


async def upload(
    session: AsyncSession, gateway: KaspiGateway, store: KaspiStore, report: PreorderReport
) -> None:
    todo = [(p, o) for p, o in await _pending(session, store.id) if p.uploaded_at is None]
    uid = store.merchant_uid or ""
    size = max(gateway.kaspi.batch_size, 1)
    for start in range(0, len(todo), size):
        chunk = todo[start : start + size]
        items = [payloads.preorder_item(o, uid, p) for p, o in chunk]
        try:
            pricefeed_id = await service.with_cabinet(session, gateway, store, service.batch_call(items))
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
    session: AsyncSession, gateway: KaspiGateway, store: KaspiStore, report: PreorderReport
) -> None:
    """Look the uploaded ones up on the storefront: does our offer show the preorder yet?"""
    kaspi = gateway.kaspi
    checked_before = now() - timedelta(seconds=kaspi.preorder_check_seconds)
    todo = [
        (p, o)
        for p, o in await _pending(session, store.id)
        if p.uploaded_at is not None and (p.checked_at is None or p.checked_at <= checked_before)
    ]
    if not todo:
        return
    pool = await pool_for(session, gateway.redis, kaspi, store.company_id, gateway.decrypt)
    for preorder, offer in todo:
        route = await pool.pick()
        if route is None:
            report.errors.append("every proxy is resting; confirmation waits")
            return
        try:
            found = await gateway.storefront(proxy=route.url, ip_key=route.key).offers(
                offer.master_sku or "", store.city_id
            )
        except KaspiError as exc:
            await pool.bench(route, exc.message)
            report.errors.append(exc.message)
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
            report.waiting += 1
    await pool.save_health(session)
    await session.flush()


async def sync_preorders(
    sessionmaker: async_sessionmaker[AsyncSession], gateway: KaspiGateway, store_id: int
) -> dict[str, Any]:
    report = PreorderReport()
    async with transaction(sessionmaker) as session:
        store = await session.get(KaspiStore, store_id)
        if store is None:
            return {"skipped": "the store no longer exists"}
        try:
            await upload(session, gateway, store, report)
        except KaspiError as exc:  # anything else: the rows stay pending, tried at the next tick
            report.errors.append(exc.message)
    async with transaction(sessionmaker) as session:
        store = await session.get_one(KaspiStore, store_id)
        await confirm(session, gateway, store, report)
    return report.as_dict()


async def stores_with_pending(session: AsyncSession) -> list[int]:
    stmt = (
        select(KaspiPreorder.store_id)
        .join(KaspiStore, KaspiStore.id == KaspiPreorder.store_id)
        .where(
            KaspiPreorder.status == PreorderStatus.pending,
            KaspiStore.status == "active",
            or_(KaspiStore.locked_until.is_(None), KaspiStore.locked_until <= now()),
        )
        .distinct()
        .order_by(KaspiPreorder.store_id)
    )
    return list((await session.scalars(stmt)).all())


# --- Excel (Kaspi's price-list template) ----------------------------------------------------------


def _point_value(offer: KaspiOffer, point: str) -> Any:
    for a in offer.availabilities or []:
        if str(a.get("storeId", "")).endswith(f"_{point}"):
            if a.get("stockSpecified") and "stockCount" in a:
                return a["stockCount"]
            return a.get("available") or None
    return None


async def export_xlsx(session: AsyncSession, scope: Scope, store_id: int) -> bytes:
    stmt = (
        select(KaspiPreorder, KaspiOffer)
        .join(KaspiOffer, KaspiOffer.id == KaspiPreorder.offer_id)
        .where(KaspiPreorder.store_id == store_id, scope.where(KaspiPreorder.company_id))
        .order_by(KaspiOffer.sku)
    )
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Прайс-лист"
    sheet.append(HEADER)
    for preorder, offer in (await session.execute(stmt)).all():
        known = offer.pushed_price or offer.price
        price = int(known) if known else None
        points = [_point_value(offer, p) for p in POINTS]
        sheet.append([offer.sku, offer.title, offer.brand, price, *points, preorder.days or None])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def parse_xlsx(content: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of the template as {row, sku, days, points}, and the errors (row, column, message)."""
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a file that is not xlsx
        raise InvalidInput.for_field("file", f"not an Excel (.xlsx) file: {type(exc).__name__}") from exc
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = [_cell(v) for v in next(rows, ())]
    if header[: len(HEADER)] != HEADER:
        raise InvalidInput.for_field("file", f"the first row must be {' | '.join(HEADER)}")
    parsed, errors = [], []
    for number, values in enumerate(rows, start=2):
        cells = [_cell(v) for v in (*values, *[None] * len(HEADER))][: len(HEADER)]
        if not any(cells):
            continue
        sku, days_raw = cells[0], cells[9]
        if not sku:
            errors.append({"row": number, "column": "SKU", "message": "required"})
            continue
        if days_raw == "":
            days = 0
        elif not days_raw.isdigit() or not 0 <= int(days_raw) <= 30:
            errors.append({"row": number, "column": "preorder", "message": "days 0-30, or empty if in stock"})
            continue
        else:
            days = int(days_raw)
        points = [p for p, v in zip(POINTS, cells[4:9], strict=True) if v and v.lower() not in ("no", "0")]
        parsed.append({"row": number, "sku": sku, "days": days, "points": points})
    book.close()
    return parsed, errors


async def import_xlsx(session: AsyncSession, scope: Scope, store_id: int, content: bytes) -> dict[str, Any]:
    """Set the preorders of a filled-in template: all rows or none (errors by row and column)."""
    parsed, errors = parse_xlsx(content)
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
        return {"rows": len(parsed), "saved": 0, "errors": errors}
    await save(session, chosen)
    return {"rows": len(parsed), "saved": len(chosen), "errors": []}
