"""The demper's queries: which offers and stores are due, the run's bulk writes (history rows,
the offers' next check, the store's last run), the status counts and the price history."""

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, and_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.clock import now
from sauda.kaspi.models import (
    KaspiOffer,
    KaspiPreorder,
    KaspiPriceHistory,
    KaspiStore,
    OfferState,
    PreorderStatus,
    StoreStatus,
)

_HISTORY = cast(Table, KaspiPriceHistory.__table__)
_OFFERS = cast(Table, KaspiOffer.__table__)


def due_offers_stmt(store_id: int, at: datetime | None) -> Any:
    """Offers the demper should check now (`at` None: every enabled one). Offers whose preorder
    is still pending wait: demping them could fight the preorder upload."""
    pending = exists().where(
        KaspiPreorder.offer_id == KaspiOffer.id, KaspiPreorder.status == PreorderStatus.pending
    )
    stmt = select(KaspiOffer).where(
        KaspiOffer.store_id == store_id,
        KaspiOffer.demper_enabled,
        KaspiOffer.demper_floor.is_not(None),
        KaspiOffer.state == OfferState.on_sale,
        KaspiOffer.master_sku.is_not(None),
        ~pending,
    )
    if at is not None:
        stmt = stmt.where(or_(KaspiOffer.demper_next_at.is_(None), KaspiOffer.demper_next_at <= at))
    return stmt.order_by(
        KaspiOffer.demper_priority.desc(), KaspiOffer.demper_next_at.asc().nulls_first(), KaspiOffer.id
    )


async def stores_with_due_offers(session: AsyncSession, at: datetime) -> list[KaspiStore]:
    due = exists().where(
        KaspiOffer.store_id == KaspiStore.id,
        KaspiOffer.demper_enabled,
        KaspiOffer.state == OfferState.on_sale,
        or_(KaspiOffer.demper_next_at.is_(None), KaspiOffer.demper_next_at <= at),
    )
    stmt = select(KaspiStore).where(
        KaspiStore.status == StoreStatus.active,
        or_(KaspiStore.locked_until.is_(None), KaspiStore.locked_until <= at),
        due,
    )
    return list((await session.scalars(stmt.order_by(KaspiStore.id))).all())


async def record_decisions(
    session: AsyncSession, history: list[dict[str, Any]], offers: list[dict[str, Any]]
) -> None:
    """One history row per decision and each offer's new values (`id` plus the changed columns).

    Core executemany (not the ORM's bulk paths): less CPU per row, so the event loop keeps
    sending lookups on time while a batch is written."""
    await session.execute(insert(_HISTORY), history)
    for keys in {tuple(sorted(v)) for v in offers}:
        rows = [{f"b_{k}": v[k] for k in keys} for v in offers if tuple(sorted(v)) == keys]
        table = _OFFERS
        stmt = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({k: bindparam(f"b_{k}") for k in keys if k != "id"})
        )
        await session.execute(stmt, rows)


async def save_last_run(
    session: AsyncSession, store_id: int, result: dict[str, Any], error: str | None
) -> None:
    await session.execute(
        update(KaspiStore)
        .where(KaspiStore.id == store_id)
        .values(demper_last_run_at=now(), demper_last_result=result, demper_last_error=error)
    )


async def demper_counts(session: AsyncSession, store_id: int) -> dict[str, Any]:
    """Enabled and due offers, the next due check and the pending preorders of a store."""
    enabled = and_(KaspiOffer.store_id == store_id, KaspiOffer.demper_enabled)
    total, next_due = (
        await session.execute(select(func.count(), func.min(KaspiOffer.demper_next_at)).where(enabled))
    ).one()
    due = await session.scalar(
        select(func.count()).where(
            enabled, or_(KaspiOffer.demper_next_at.is_(None), KaspiOffer.demper_next_at <= now())
        )
    )
    pending = await session.scalar(
        select(func.count()).where(
            KaspiPreorder.store_id == store_id, KaspiPreorder.status == PreorderStatus.pending
        )
    )
    return {
        "enabled_offers": int(total or 0),
        "due_offers": int(due or 0),
        "next_due_at": next_due,
        "pending_preorders": int(pending or 0),
    }


def history_stmt(offer_id: int) -> Select[KaspiPriceHistory]:
    return (
        select(KaspiPriceHistory)
        .where(KaspiPriceHistory.offer_id == offer_id)
        .order_by(KaspiPriceHistory.created_at.desc(), KaspiPriceHistory.id.desc())
    )
