"""What 1C sends (upserts, acknowledgements) and what the batch log shows."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from sauda.sales.models import PointKind
from sauda.sales.schemas import PriceIn, QuantityIn


class FromOneC(BaseModel):
    """An item from 1C, keyed by its reference UUID. Unknown keys (1C sends whole objects) are
    ignored; missing optional ones keep their current value on update."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    external_id: uuid.UUID = Field(description="the 1C reference (УникальныйИдентификатор)")


class ProductIn(FromOneC):
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    model: str = Field(default="", max_length=200)
    release_date: date


class CustomerIn(FromOneC):
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    email: EmailStr | None = None


class PointIn(FromOneC):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[\w.\-/]+$")
    name: str = Field(min_length=1, max_length=200)
    city: str = Field(default="", max_length=100)
    address: str = Field(default="", max_length=300)
    kind: PointKind = PointKind.store
    is_active: bool = True


class SaleIn(FromOneC):
    point_external_id: uuid.UUID | None = None
    point_code: str | None = None
    product_external_id: uuid.UUID | None = None
    product_sku: str | None = None
    customer_external_id: uuid.UUID | None = None
    quantity: Decimal = QuantityIn
    unit_price: Decimal = PriceIn
    discount: Decimal = Field(default=Decimal("0.00"), ge=0, max_digits=14, decimal_places=2)
    sold_at: datetime = Field(description="YYYY-MM-DDThh:mm:ss in business time")


class UpsertBody(BaseModel):
    items: list[Any] = Field(max_length=1000)


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ack_token: str = Field(min_length=1, max_length=64)


class ExchangeClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    login: str = Field(pattern=r"^[a-z0-9._-]{3,64}$", description="the HTTP Basic user name (ASCII)")
    company_id: int | None = Field(default=None, description="admins: the client's company")
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
