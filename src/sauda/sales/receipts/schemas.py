"""What a till, a person or 1C sends to write receipts and returns (the answers live beside)."""

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from sauda.sales.models import PaymentMethod, ReceiptKind
from sauda.schemas import WriteModel
from sauda.types import BigId, BusinessDateTime, Id, Line, MoneyIn, QuantityIn

SERVER_SET = {"id": "it is assigned by the server", "created_at": "it is set on creation"}
MAX_LINES = 500
MAX_PAYMENTS = 20


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: PaymentMethod
    amount: MoneyIn = Field(description="greater than zero; a return's payments are refunds")


class LineIn(WriteModel):
    product_id: Id
    quantity: QuantityIn
    unit_price: MoneyIn
    discount: MoneyIn = Decimal("0.00")
    total: MoneyIn | None = Field(
        default=None, description="optional; computed by the server, a different value is a 422"
    )
    external_id: Line | None = Field(default=None, min_length=1, max_length=100)


class ReceiptCreate(WriteModel):
    """A sale receipt, or a return made without its original receipt (`kind` return)."""

    read_only = SERVER_SET | {"company_id": "it is the company of the point", "total": "it is computed"}

    point_id: Id
    customer_id: Id | None = None
    kind: ReceiptKind = ReceiptKind.sale
    number: Line | None = Field(default=None, min_length=1, max_length=64, description="the till's number")
    sold_at: BusinessDateTime = Field(description="without an offset it is business time")
    external_id: Line | None = Field(default=None, min_length=1, max_length=100)
    lines: list[LineIn] = Field(min_length=1, max_length=MAX_LINES)
    payments: list[PaymentIn] = Field(
        default_factory=list,
        max_length=MAX_PAYMENTS,
        description="adding up to the total; none: one payment of method `unknown`",
    )


class ReturnLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_id: BigId = Field(description="the line of the original receipt")
    quantity: QuantityIn = Field(description="at most what is left of that line to return")
    external_id: Line | None = Field(default=None, min_length=1, max_length=100)


class ReturnCreate(WriteModel):
    """A return against a receipt: lines name the original's lines; prices and discounts are
    the original's, in proportion to the quantity returned."""

    read_only = SERVER_SET | {"total": "it is computed"}

    point_id: Id | None = Field(
        default=None, description="where it was returned; the original's point if none"
    )
    number: Line | None = Field(default=None, min_length=1, max_length=64)
    sold_at: BusinessDateTime
    external_id: Line | None = Field(default=None, min_length=1, max_length=100)
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=MAX_LINES)
    payments: list[PaymentIn] = Field(default_factory=list, max_length=MAX_PAYMENTS)
