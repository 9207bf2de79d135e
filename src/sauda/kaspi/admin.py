"""sqladmin views of Kaspi: stores (status and why they need a login; secrets never shown), offers."""

from typing import Any

from sqladmin import Flash, action
from sqladmin.filters import OperationColumnFilter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sauda.admin import EnumFilter, SaudaView, current_admin, refuse_cross_site, validated
from sauda.kaspi.client.gateway import KaspiGateway
from sauda.kaspi.models import (
    KaspiOffer,
    KaspiPreorder,
    KaspiPriceHistory,
    KaspiProxy,
    KaspiStore,
    OfferState,
    PreorderStatus,
    PriceAction,
    StoreStatus,
)
from sauda.kaspi.stores import service
from sauda.kaspi.stores.repository import StoreRepository
from sauda.kaspi.stores.schemas import StoreUpdate
from sauda.tenancy import Scope
from sauda.worker import start_job

_SECRETS: list[Any] = [KaspiStore.session_encrypted, KaspiStore.credentials_encrypted]
_STORE_FIELDS = ("name", "city_id", "sync_enabled")


class KaspiStoreAdmin(SaudaView, model=KaspiStore):
    """Kaspi stores. Logins happen through the API (they need a code or a browser); here an admin
    sees which stores need one and why, and may rename or pause a store."""

    name = "Kaspi store"
    name_plural = "Kaspi stores"
    can_create = False
    column_list = [
        KaspiStore.id,
        KaspiStore.name,
        KaspiStore.company,
        KaspiStore.merchant_uid,
        KaspiStore.status,
        KaspiStore.status_reason,
        KaspiStore.locked_until,
        KaspiStore.last_synced_at,
        KaspiStore.last_sync_error,
    ]
    column_details_exclude_list = _SECRETS
    column_export_exclude_list = _SECRETS
    column_searchable_list = [KaspiStore.name, KaspiStore.merchant_uid]
    column_sortable_list = [KaspiStore.id, KaspiStore.name, KaspiStore.status, KaspiStore.last_synced_at]
    column_default_sort = (KaspiStore.name, False)
    column_filters = [EnumFilter(KaspiStore.status, StoreStatus)]
    form_columns = [KaspiStore.name, KaspiStore.city_id, KaspiStore.sync_enabled]

    def _gateway(self) -> KaspiGateway:
        state = self.sauda_app.state
        return KaspiGateway(self.sauda_settings(), state.redis)

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        async with self.unit_of_work() as session:
            store = await StoreRepository(session, Scope.everything()).get(int(pk))
            values = {f: data.get(f) for f in _STORE_FIELDS if getattr(store, f) != data.get(f)}
            return await service.update_store(session, store, validated(StoreUpdate, values))

    @action(name="sync", label="Sync now", confirmation_message="Sync the selected stores with Kaspi?")
    async def sync_now(self, request: Request) -> Response:
        """One sync job per selected store, as `POST /kaspi/stores/{id}/sync` starts."""
        refuse_cross_site(request)
        try:
            ids = [int(pk) for pk in request.query_params.get("pks", "").split(",") if pk.strip()]
        except ValueError as exc:
            raise HTTPException(400, detail="pks must be store ids separated by commas") from exc
        admin = current_admin(request)
        async with self.unit_of_work() as session:
            stores = StoreRepository(session, Scope.everything())
            for store_id in ids:
                await start_job(
                    session, "sync_kaspi_store", (await stores.get(store_id)).id, user_id=admin.id
                )
        Flash.success(request, f"Sync started for {len(ids)} store(s); see Jobs for the outcome")
        return RedirectResponse(str(request.url_for("admin:list", identity=self.identity)), status_code=302)

    async def delete_model(self, request: Request, pk: Any) -> None:
        async with self.unit_of_work() as session:
            store = await StoreRepository(session, Scope.everything()).get(int(pk))
            await service.delete_store(session, self._gateway(), store)


class KaspiOfferAdmin(SaudaView, model=KaspiOffer):
    """Offers as the last sync saw them (read-only; prices change through the API)."""

    name = "Kaspi offer"
    name_plural = "Kaspi offers"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = [
        KaspiOffer.id,
        KaspiOffer.store,
        KaspiOffer.sku,
        KaspiOffer.master_sku,
        KaspiOffer.title,
        KaspiOffer.state,
        KaspiOffer.price,
        KaspiOffer.pushed_price,
        KaspiOffer.synced_at,
    ]
    column_searchable_list = [KaspiOffer.title, KaspiOffer.sku, KaspiOffer.master_sku]
    column_sortable_list = [KaspiOffer.id, KaspiOffer.title, KaspiOffer.price, KaspiOffer.synced_at]
    column_default_sort = (KaspiOffer.title, False)
    column_filters = [EnumFilter(KaspiOffer.state, OfferState), OperationColumnFilter(KaspiOffer.store_id)]


class KaspiProxyAdmin(SaudaView, model=KaspiProxy):
    """The proxy pool and its health. Proxies are added through `POST /api/v1/kaspi/proxies`
    (the URL is encrypted there); here an admin sees failures and benching, and may switch one off."""

    name = "Kaspi proxy"
    name_plural = "Kaspi proxies"
    can_create = False
    column_list = [
        KaspiProxy.id,
        KaspiProxy.label,
        KaspiProxy.company,
        KaspiProxy.enabled,
        KaspiProxy.benched_until,
        KaspiProxy.successes,
        KaspiProxy.failures,
        KaspiProxy.last_error,
        KaspiProxy.last_ok_at,
    ]
    column_details_exclude_list = [KaspiProxy.url_encrypted]
    column_export_exclude_list = [KaspiProxy.url_encrypted]
    column_sortable_list = [KaspiProxy.id, KaspiProxy.failures, KaspiProxy.benched_until]
    form_columns = [KaspiProxy.enabled]


class KaspiPriceHistoryAdmin(SaudaView, model=KaspiPriceHistory):
    """Every demper decision (read-only)."""

    name = "Kaspi price change"
    name_plural = "Kaspi price history"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = [
        KaspiPriceHistory.id,
        KaspiPriceHistory.created_at,
        KaspiPriceHistory.offer,
        KaspiPriceHistory.old_price,
        KaspiPriceHistory.new_price,
        KaspiPriceHistory.leader_price,
        KaspiPriceHistory.reason,
        KaspiPriceHistory.action,
        KaspiPriceHistory.detail,
    ]
    column_default_sort = (KaspiPriceHistory.id, True)
    column_filters = [
        EnumFilter(KaspiPriceHistory.action, PriceAction),
        OperationColumnFilter(KaspiPriceHistory.store_id),
    ]


class KaspiPreorderAdmin(SaudaView, model=KaspiPreorder):
    """Preorders and whether Kaspi shows them (read-only; set them through the API or Excel)."""

    name = "Kaspi preorder"
    name_plural = "Kaspi preorders"
    can_create = False
    can_edit = False
    column_list = [
        KaspiPreorder.id,
        KaspiPreorder.offer,
        KaspiPreorder.days,
        KaspiPreorder.points,
        KaspiPreorder.status,
        KaspiPreorder.reason,
        KaspiPreorder.requested_at,
        KaspiPreorder.confirmed_at,
    ]
    column_filters = [EnumFilter(KaspiPreorder.status, PreorderStatus)]


def views() -> list[type[SaudaView]]:
    return [KaspiStoreAdmin, KaspiOfferAdmin, KaspiProxyAdmin, KaspiPriceHistoryAdmin, KaspiPreorderAdmin]
