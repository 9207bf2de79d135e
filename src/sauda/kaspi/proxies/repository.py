from collections.abc import Sequence

from sqlalchemy import Select, or_

from sauda.kaspi.models import KaspiProxy
from sauda.repository import Repository


class ProxyRepository(Repository[KaspiProxy]):
    """Employees see their company's proxies; admins see those and the global ones."""

    model = KaspiProxy
    tenant_column = KaspiProxy.company_id
    label = "Proxy"

    def listed(self, company_id: int | None) -> Select[KaspiProxy]:
        stmt = self.select()
        if company_id is not None:
            stmt = stmt.where(KaspiProxy.company_id == company_id)
        return stmt.order_by(KaspiProxy.company_id.nulls_first(), KaspiProxy.id)

    async def enabled_for(self, company_id: int) -> Sequence[KaspiProxy]:
        """The enabled proxies of the company and the global ones (a pool takes one kind)."""
        stmt = self.select().where(
            KaspiProxy.enabled, or_(KaspiProxy.company_id == company_id, KaspiProxy.company_id.is_(None))
        )
        return await self.all(stmt.order_by(KaspiProxy.id))
