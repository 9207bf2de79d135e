"""What 1C sends (upserts, acknowledgements) and what the batch log shows."""

import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, Field
from pydantic_core import PydanticCustomError

from sauda.sales.models import PaymentMethod, PointKind, ReceiptKind
from sauda.sales.receipts.schemas import MAX_LINES, MAX_PAYMENTS
from sauda.types import BusinessDate, BusinessDateTime, Id, Line, MoneyIn, QuantityIn

# --- what 1C sends ------------------------------------------------------------------------------
#
# The platform writes an empty `Дата` as 0001-01-01T00:00:00 and numbers as computed (1/3 is
# 0.333333333333333333333333333). Every date and number field of an item from 1C uses one of the
# types below, so these rules hold for each of them (tests/exchange walk the schemas to check).

EMPTY_DATES = frozenset({"0001-01-01T00:00:00", "0001-01-01"})


def _is_empty_date(value: Any) -> bool:
    return isinstance(value, str) and value.strip() in EMPTY_DATES


def _empty_date_refused(value: Any) -> Any:
    if _is_empty_date(value) or value is None:
        raise PydanticCustomError("empty_date", "required: 0001-01-01T00:00:00 is 1C's empty date, no date")
    return value


def _empty_date_is_none(value: Any) -> Any:
    return None if _is_empty_date(value) else value


def _empty_is_none(value: Any) -> Any:
    """1C writes an empty string where a value is not set."""
    return None if isinstance(value, str) and not value.strip() else value


@dataclass(frozen=True)
class EmptyDate:
    """How a field reads 1C's empty date: `required` refuses it, otherwise it is null."""

    required: bool


OneCDate = Annotated[BusinessDate, BeforeValidator(_empty_date_refused), EmptyDate(required=True)]
OneCDateTime = Annotated[BusinessDateTime, BeforeValidator(_empty_date_refused), EmptyDate(required=True)]
OptionalOneCDate = Annotated[
    BusinessDate | None, BeforeValidator(_empty_date_is_none), EmptyDate(required=False)
]


@dataclass(frozen=True)
class Rounded:
    """Rounded half away from zero to `places` decimals, as 1C's `Окр(x, places)` does; the item's
    result says so in `notes`."""

    places: int

    def __call__(self, value: Any) -> Any:
        number = as_decimal(value)
        if number is None or not number.is_finite():
            return value  # the field's own validation names the problem
        try:
            return number.quantize(Decimal(1).scaleb(-self.places), ROUND_HALF_UP)
        except InvalidOperation:  # far too many digits for the column: refused below
            return value


def as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


_MONEY, _QUANTITY = Rounded(2), Rounded(3)
OneCMoney = Annotated[MoneyIn, BeforeValidator(_MONEY), _MONEY]
OneCQuantity = Annotated[QuantityIn, BeforeValidator(_QUANTITY), _QUANTITY]

# 1C's reference as a string (Строка(Ссылка.УникальныйИдентификатор())) or another system's key.
ExternalId = Annotated[Line, Field(min_length=1, max_length=100)]


class FromOneC(BaseModel):
    """What every item from 1C has: its key, its company, its deletion mark. Unknown keys (1C
    sends whole objects) are ignored; on update, keys left out keep their current value."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    external_id: ExternalId = Field(
        description="the record's key: 1C's reference as a string, or any other system's key "
        "(free text); a record that came from Sauda is also found by its `ref`"
    )
    company_id: Id | None = Field(
        default=None, description="required from a client of all companies; otherwise the client's own"
    )
    deleted: bool = Field(
        default=False,
        description="1C's ПометкаУдаления: true deletes the record in Sauda (other keys ignored)",
    )


class ProductIn(FromOneC):
    sku: str = Field(min_length=1, max_length=64)
    name: Line = Field(min_length=1, max_length=200)
    model: Line = Field(default="", max_length=200)
    release_date: OptionalOneCDate = Field(
        default=None,
        description="typical configurations have none: empty or left out, a new product gets "
        "today's business date (the result's notes say so) and an existing one keeps its own",
    )


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
    point_external_id: ExternalId | None = Field(default=None, description="or point_code")
    point_code: str | None = Field(default=None, max_length=64)
    product_external_id: ExternalId | None = Field(default=None, description="or product_sku")
    product_sku: str | None = Field(default=None, max_length=64)
    customer_external_id: ExternalId | None = None
    quantity: OneCQuantity
    unit_price: OneCMoney
    discount: OneCMoney = Decimal("0.00")
    sold_at: OneCDateTime = Field(description="YYYY-MM-DDThh:mm:ss in business time")


class PaymentFromOneC(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    method: PaymentMethod
    amount: OneCMoney = Field(description="greater than zero; a return's payments are refunds")


class ReceiptLineIn(BaseModel):
    """A line of a receipt from 1C. A return's line that names the line it returns (by that line's
    key or its number in the original receipt) takes that line's price and a share of its discount."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    external_id: ExternalId | None = Field(default=None, description="the line's own key, if it has one")
    product_external_id: ExternalId | None = Field(default=None, description="or product_sku")
    product_sku: str | None = Field(default=None, max_length=64)
    quantity: OneCQuantity
    unit_price: OneCMoney
    discount: OneCMoney = Decimal("0.00")
    returned_line_external_id: ExternalId | None = Field(
        default=None, description="a return's line: the returned line's external_id (or ref)"
    )
    returned_line_no: int | None = Field(
        default=None, ge=1, le=32767, description="or the returned line's line_no in the original receipt"
    )


class ReceiptIn(FromOneC):
    """A whole receipt: an update replaces its lines and payments."""

    point_external_id: ExternalId | None = Field(default=None, description="or point_code")
    point_code: str | None = Field(default=None, max_length=64)
    customer_external_id: ExternalId | None = None
    kind: ReceiptKind = ReceiptKind.sale
    number: Annotated[Line | None, BeforeValidator(_empty_is_none)] = Field(
        default=None, max_length=64, description="the till's or the document's number"
    )
    sold_at: OneCDateTime = Field(description="YYYY-MM-DDThh:mm:ss in business time")
    original_external_id: ExternalId | None = Field(
        default=None,
        description="a return's original receipt (its external_id or ref); none: a return without it",
    )
    lines: list[ReceiptLineIn] = Field(min_length=1, max_length=MAX_LINES)
    payments: list[PaymentFromOneC] = Field(
        default_factory=list,
        max_length=MAX_PAYMENTS,
        description="adding up to the total; none: one payment of method `unknown`",
    )


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


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    changes_from: str = Field(
        min_length=1, max_length=19, description="from the first page of the full load, or the snapshot"
    )


class StartOut(BaseModel):
    entity: str
    changes_from: str
    superseded_batch_id: uuid.UUID | None = Field(description="the unacknowledged batch closed unread")


ONEC_MOMENT = "YYYY-MM-DDThh:mm:ss in business time, no offset"


class BatchOut(BaseModel):
    id: uuid.UUID
    client_id: int
    entity: str
    item_count: int
    has_more: bool
    delivered_at: str = Field(description=ONEC_MOMENT)
    redelivered: int
    acknowledged_at: str | None = Field(description=ONEC_MOMENT)
    superseded: bool = Field(description="closed unacknowledged when the client started its changes afresh")
    file_url: str


# --- what 1C receives (documented shapes; the bodies are rendered by `OneCResponse`) -----------


class FeedPageOut(BaseModel):
    entity: str
    changes_from: str = Field(
        description="after a full load, POST the first page's value to /{entity}/changes/start"
    )
    has_more: bool
    next_cursor: str | None = Field(description="pass as `after` for the next page")
    items: list[dict[str, Any]]


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
    status: str = Field(description="created, updated, unchanged, deleted or error")
    id: int | None
    errors: list[dict[str, str]] = Field(description="why the item was refused: field and message")
    notes: list[dict[str, str]] = Field(description="what was adjusted, e.g. a number rounded like Окр()")


class UpsertOut(BaseModel):
    results: list[UpsertResultOut]
