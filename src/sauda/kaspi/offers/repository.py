from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects.postgresql import insert

from sauda.kaspi.models import KaspiOffer, OfferState
from sauda.kaspi.offers.schemas import OfferOrdering
from sauda.network.models import Product
from sauda.repository import Repository, escape_like


@dataclass(frozen=True)
class OfferFilters:
    store_id: int | None = None
    state: OfferState | None = None
    search: str | None = None
    master_sku: str | None = None
    product_id: int | None = None
    linked: bool | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None


class OfferRepository(Repository[KaspiOffer]):
    model = KaspiOffer
    tenant_column = KaspiOffer.company_id
    label = "Kaspi offer"

    def filtered(self, filters: OfferFilters, ordering: OfferOrdering) -> Select[KaspiOffer]:
        stmt = self.select()
        for column, value in (
            (KaspiOffer.store_id, filters.store_id),
            (KaspiOffer.state, filters.state),
            (KaspiOffer.master_sku, filters.master_sku),
            (KaspiOffer.product_id, filters.product_id),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if filters.linked is not None:
            linked = KaspiOffer.product_id.is_not(None)
            stmt = stmt.where(linked if filters.linked else ~linked)
        if filters.min_price is not None:
            stmt = stmt.where(KaspiOffer.price >= filters.min_price)
        if filters.max_price is not None:
            stmt = stmt.where(KaspiOffer.price <= filters.max_price)
        if filters.search:
            pattern = f"%{escape_like(filters.search)}%"
            stmt = stmt.where(KaspiOffer.title.ilike(pattern) | KaspiOffer.sku.ilike(pattern))
        column = getattr(KaspiOffer, ordering.value.lstrip("-"))
        first = column.desc().nulls_last() if ordering.value.startswith("-") else column.asc().nulls_last()
        return stmt.order_by(first, KaspiOffer.id)

    async def by_ids(self, ids: Sequence[int]) -> list[KaspiOffer]:
        return list(await self.all(self.select().where(KaspiOffer.id.in_(ids)).order_by(KaspiOffer.id)))

    async def product_ids_by_sku(self, company_id: int, skus: Sequence[str]) -> dict[str, int]:
        stmt = select(Product.sku, Product.id).where(Product.company_id == company_id, Product.sku.in_(skus))
        return {str(sku): int(id_) for sku, id_ in (await self.session.execute(stmt)).all()}

    async def upsert(self, rows: list[dict[str, Any]]) -> None:
        """Insert or refresh offers by (store, SKU); what we pushed stays until the next push."""
        if not rows:
            return
        stmt = insert(KaspiOffer).values(rows)
        refreshed = {
            name: stmt.excluded[name]
            for name in rows[0]
            if name not in ("company_id", "store_id", "sku", "pushed_price", "pushed_available")
        }
        await self.session.execute(
            stmt.on_conflict_do_update(index_elements=["store_id", "sku"], set_=refreshed)
        )

    async def mark_removed(self, store_id: int, seen_before: datetime) -> int:
        result = await self.session.execute(
            update(KaspiOffer)
            .where(
                KaspiOffer.store_id == store_id,
                KaspiOffer.synced_at < seen_before,
                KaspiOffer.state != OfferState.removed,
            )
            .values(state=OfferState.removed)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def count_by_state(self, store_id: int) -> dict[str, int]:
        stmt = (
            select(KaspiOffer.state, func.count())
            .where(KaspiOffer.store_id == store_id)
            .group_by(KaspiOffer.state)
        )
        return {state.value: n for state, n in (await self.session.execute(stmt)).all()}
