"""What a till, a person or 1C sends to write receipts and returns, and what the API answers."""

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from sauda.money import Money
from sauda.sales.models import Payment, PaymentMethod, Receipt, ReceiptKind, Sale
from sauda.sales.schemas import Quantity
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


# --- answers ---------------------------------------------------------------------------------


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    method: PaymentMethod
    amount: Money


class LineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="the line's id: a return names it, and so does /api/v1/sales")
    line_no: int
    product_id: int
    quantity: Quantity
    unit_price: Money
    discount: Money
    total: Money
    external_id: str | None
    returned_line_id: int | None = Field(description="of a return's line: the original's line it returns")
    returned_quantity: Quantity | None = Field(
        default=None, description="of a sale's line: how much of it is returned so far; null on returns"
    )


class ReceiptSummary(BaseModel):
    """A receipt in a list: its payments, not its lines (a receipt may have hundreds); the
    receipt itself (`GET /receipts/{id}`) has them."""

    id: int
    company_id: int
    point_id: int
    customer_id: int | None
    kind: ReceiptKind
    number: str | None
    original_id: int | None = Field(
        description="a return's original receipt; null for a sale, or a return without one"
    )
    sold_at: datetime
    total: Money = Field(description="the sum of the lines' totals, and of the payments")
    external_id: str | None
    created_at: datetime
    payments: list[PaymentOut]

    @classmethod
    def of(cls, receipt: Receipt, payments: Sequence[Payment]) -> "ReceiptSummary":
        values = {name: getattr(receipt, name) for name in ReceiptSummary.model_fields if name != "payments"}
        return cls(**values, payments=[PaymentOut.model_validate(p) for p in payments])


class ReceiptOut(ReceiptSummary):
    lines: list[LineOut]

    @classmethod
    def full(
        cls,
        receipt: Receipt,
        lines: Sequence[Sale],
        payments: Sequence[Payment],
        returned: Mapping[int, Decimal],
    ) -> "ReceiptOut":
        """`returned`: how much of each sale line is returned so far (lines without returns
        may be missing)."""
        summary = ReceiptSummary.of(receipt, payments)
        return cls(**dict(summary), lines=[_line_out(line, returned) for line in lines])


def _line_out(line: Sale, returned: Mapping[int, Decimal]) -> LineOut:
    out = LineOut.model_validate(line)
    if line.kind is ReceiptKind.sale:
        out.returned_quantity = returned.get(line.id, Decimal("0.000"))
    return out


class ReceiptOrdering(StrEnum):
    sold_at = "sold_at"
    sold_at_desc = "-sold_at"
    total = "total"
    total_desc = "-total"
