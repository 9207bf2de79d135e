"""What 1C sends (upserts, acknowledgements) and what the batch log shows."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from sauda.sales.models import PointKind
from sauda.types import BusinessDate, BusinessDateTime, Id, Line, MoneyIn, QuantityIn


class FromOneC(BaseModel):
    """An item from 1C, keyed by its reference UUID. Unknown keys (1C sends whole objects) are
    ignored; missing optional ones keep their current value on update."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    external_id: uuid.UUID = Field(description="the 1C reference (УникальныйИдентификатор)")


class ProductIn(FromOneC):
    sku: str = Field(min_length=1, max_length=64)
    name: Line = Field(min_length=1, max_length=200)
    model: Line = Field(default="", max_length=200)
    release_date: BusinessDate


class CustomerIn(FromOneC):
    name: Line = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    email: EmailStr | None = None


class PointIn(FromOneC):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[\w.\-/]+$")
    name: Line = Field(min_length=1, max_length=200)
    city: Line = Field(default="", max_length=100)
    address: Line = Field(default="", max_length=300)
    kind: PointKind = PointKind.store
    is_active: bool = True


class SaleIn(FromOneC):
    point_external_id: uuid.UUID | None = None
    point_code: str | None = Field(default=None, max_length=64)
    product_external_id: uuid.UUID | None = None
    product_sku: str | None = Field(default=None, max_length=64)
    customer_external_id: uuid.UUID | None = None
    quantity: QuantityIn
    unit_price: MoneyIn
    discount: MoneyIn = Decimal("0.00")
    sold_at: BusinessDateTime = Field(description="YYYY-MM-DDThh:mm:ss in business time")


class UpsertBody(BaseModel):
    items: list[Any] = Field(max_length=1000)


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ack_token: str = Field(min_length=1, max_length=64)


class ExchangeClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Line = Field(min_length=1, max_length=200)
    login: str = Field(pattern=r"^[a-z0-9._-]{3,64}$", description="the HTTP Basic user name (ASCII)")
    company_id: Id | None = Field(default=None, description="admins: the client's company")
    all_companies: bool = Field(default=False, description="admins only: the client sees every company")


class BatchOut(BaseModel):
    id: uuid.UUID
    client_id: int
    entity: str
    item_count: int
    has_more: bool
    delivered_at: datetime
    redelivered: int
    acknowledged_at: datetime | None
    file_url: str


# --- what 1C receives (documented shapes; the bodies are rendered by `OneCResponse`) -----------


class FeedPageOut(BaseModel):
    entity: str
    items: list[dict[str, Any]]
    has_more: bool
    next_cursor: str | None = Field(description="pass as `after` for the next page")


class ChangesBatchOut(BaseModel):
    batch_id: uuid.UUID | None = Field(description="null when there is nothing new")
    entity: str
    items: list[dict[str, Any]]
    has_more: bool
    ack_token: str | None


class AckOut(BaseModel):
    batch_id: uuid.UUID
    entity: str
    acknowledged: bool
    items: int = Field(description="records in the acknowledged batch")


class UpsertResultOut(BaseModel):
    index: int
    external_id: str | None
    status: str = Field(description="created, updated, unchanged or error")
    id: int | None
    errors: list[dict[str, str]] | None = None


class UpsertOut(BaseModel):
    results: list[UpsertResultOut]
