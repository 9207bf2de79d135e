"""sqladmin views of Kaspi: stores (status and why they need a login; secrets never shown), offers."""

from sqladmin.filters import OperationColumnFilter

from sauda.admin import EnumFilter, SaudaView
from sauda.kaspi.models import KaspiOffer, KaspiStore, OfferState, StoreStatus


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
    column_details_exclude_list = [KaspiStore.session_encrypted, KaspiStore.credentials_encrypted]
    column_searchable_list = [KaspiStore.name, KaspiStore.merchant_uid]
    column_sortable_list = [KaspiStore.id, KaspiStore.name, KaspiStore.status, KaspiStore.last_synced_at]
    column_default_sort = (KaspiStore.name, False)
    column_filters = [EnumFilter(KaspiStore.status, StoreStatus)]
    form_columns = [KaspiStore.name, KaspiStore.city_id, KaspiStore.sync_enabled]


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


def views() -> list[type[SaudaView]]:
    return [KaspiStoreAdmin, KaspiOfferAdmin]
