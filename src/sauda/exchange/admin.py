"""sqladmin view of the batches delivered to 1C (read-only: they are the exchange's record)."""

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import defer
from starlette.requests import Request

from sauda.admin import SaudaView
from sauda.exchange.models import Batch


class ExchangeBatchAdmin(SaudaView, model=Batch):
    """Batches of changes delivered to 1C clients and whether 1C acknowledged them."""

    name_plural = "1C batches"
    can_create = False
    can_edit = False
    can_delete = False
    column_list = [
        Batch.id,
        Batch.client_id,
        Batch.entity,
        Batch.item_count,
        Batch.has_more,
        Batch.delivered_at,
        Batch.redelivered,
        Batch.acknowledged_at,
    ]
    column_details_exclude_list = [Batch.payload, Batch.ack_token]
    column_sortable_list = [Batch.entity, Batch.delivered_at, Batch.acknowledged_at]
    column_default_sort = (Batch.delivered_at, True)
    column_searchable_list = [Batch.entity]

    def list_query(self, request: Request) -> Select[Any]:
        # The JSON files can be megabytes each; the list shows none of them.
        return select(Batch).options(defer(Batch.payload))


def views() -> list[type[SaudaView]]:
    return [ExchangeBatchAdmin]
