"""Preorder queries: the API's scoped list, the upsert that (re)starts a preorder, and what the
worker and the Excel export read."""

from sqlalchemy import Select, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.clock import now
from sauda.kaspi.models import KaspiOffer, KaspiPreorder, KaspiStore, PreorderStatus
from sauda.repository import Repository
from sauda.tenancy import Scope


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


async def pending(session: AsyncSession, store_id: int) -> list[tuple[KaspiPreorder, KaspiOffer]]:
    stmt = (
        select(KaspiPreorder, KaspiOffer)
        .join(KaspiOffer, KaspiOffer.id == KaspiPreorder.offer_id)
        .where(KaspiPreorder.store_id == store_id, KaspiPreorder.status == PreorderStatus.pending)
        .order_by(KaspiPreorder.id)
    )
    return [(p, o) for p, o in (await session.execute(stmt)).all()]


async def count_pending(session: AsyncSession, store_id: int) -> int:
    stmt = select(func.count()).where(
        KaspiPreorder.store_id == store_id, KaspiPreorder.status == PreorderStatus.pending
    )
    return int(await session.scalar(stmt) or 0)


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


async def with_offers(
    session: AsyncSession, scope: Scope, store_id: int
) -> list[tuple[KaspiPreorder, KaspiOffer]]:
    """Every preorder of the store with its offer, by SKU (the Excel export)."""
    stmt = (
        select(KaspiPreorder, KaspiOffer)
        .join(KaspiOffer, KaspiOffer.id == KaspiPreorder.offer_id)
        .where(KaspiPreorder.store_id == store_id, scope.where(KaspiPreorder.company_id))
        .order_by(KaspiOffer.sku)
    )
    return [(p, o) for p, o in (await session.execute(stmt)).all()]
