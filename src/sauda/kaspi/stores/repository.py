from sqlalchemy import Select, select

from sauda.kaspi.models import KaspiStore, StoreStatus
from sauda.repository import Repository


class StoreRepository(Repository[KaspiStore]):
    model = KaspiStore
    tenant_column = KaspiStore.company_id
    label = "Kaspi store"

    def filtered(self, *, company_id: int | None, status: StoreStatus | None) -> Select[KaspiStore]:
        stmt = self.select()
        if company_id is not None:
            stmt = stmt.where(KaspiStore.company_id == company_id)
        if status is not None:
            stmt = stmt.where(KaspiStore.status == status)
        return stmt.order_by(KaspiStore.name, KaspiStore.id)

    async def uid_taken(self, company_id: int, merchant_uid: str, exclude_id: int) -> bool:
        stmt = select(KaspiStore.id).where(
            KaspiStore.company_id == company_id,
            KaspiStore.merchant_uid == merchant_uid,
            KaspiStore.id != exclude_id,
        )
        return (await self.session.scalar(stmt)) is not None

    async def merchant_uids(self, company_id: int | None = None) -> set[str]:
        stmt = select(KaspiStore.merchant_uid).where(
            self.scope.where(KaspiStore.company_id), KaspiStore.merchant_uid.is_not(None)
        )
        if company_id is not None:
            stmt = stmt.where(KaspiStore.company_id == company_id)
        return {uid for uid in (await self.session.scalars(stmt)).all() if uid}

    async def syncable_ids(self) -> list[int]:
        stmt = self.select().where(KaspiStore.sync_enabled, KaspiStore.status == StoreStatus.active)
        return list((await self.session.scalars(stmt.with_only_columns(KaspiStore.id))).all())
