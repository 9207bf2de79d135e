"""What the metrics answer. Every amount is net of returns unless its name says otherwise
(`gross_sales`, `returns`); the definitions are in the README (Sales, metrics)."""

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field

from sauda.money import Money
from sauda.sales.models import PaymentMethod
from sauda.sales.schemas import Quantity  # quantities and ratios: plain JSON numbers


class Granularity(StrEnum):
    day = "day"
    week = "week"
    month = "month"


class GroupBy(StrEnum):
    point = "point"
    product = "product"


class TopBy(StrEnum):
    revenue = "revenue"
    sales = "sales"
    quantity = "quantity"


class Figures(BaseModel):
    revenue: Money = Field(description="net sales (gross sales − returns); the same as `net_sales`")
    sales: int = Field(description="lines of sale receipts")
    quantity: Quantity = Field(description="units sold − units returned")
    average_ticket: Money = Field(description="the average receipt; the same as `average_receipt`")
    receipts: int = Field(description="sale receipts (by product: its sale lines)")
    return_receipts: int = Field(description="return receipts (by product: its return lines)")
    gross_sales: Money = Field(description="sum of the lines of sale receipts")
    returns: Money = Field(description="sum of the lines of return receipts, a positive amount")
    net_sales: Money = Field(description="gross sales − returns")
    average_receipt: Money = Field(description="net sales / sale receipts (средний чек); 0 without receipts")
    units_per_receipt: Quantity = Field(description="(units sold − units returned) / sale receipts")
    returned_quantity: Quantity = Field(description="units returned")
    return_rate: float | None = Field(description="returns / gross sales, in percent; null without sales")


class Bucket(Figures):
    start: date = Field(description="first day of the bucket (weeks start on Monday)")


class GroupSeries(BaseModel):
    id: int
    name: str
    totals: Figures
    buckets: list[Bucket]


class Change(BaseModel):
    """Relative change against the previous period, in percent (null when that was zero)."""

    revenue: float | None
    sales: float | None
    quantity: float | None
    average_ticket: float | None
    receipts: float | None
    gross_sales: float | None
    returns: float | None
    net_sales: float | None
    average_receipt: float | None
    units_per_receipt: float | None
    return_rate: float | None = Field(description="in percentage points, not percent")


class Period(BaseModel):
    date_from: date
    date_to: date
    totals: Figures


class MetricsOut(BaseModel):
    granularity: Granularity
    timezone: str
    date_from: date
    date_to: date
    group_by: GroupBy | None
    totals: Figures
    buckets: list[Bucket]
    groups: list[GroupSeries] | None = None
    previous: Period = Field(description="the period of equal length just before date_from")
    change: Change


class TopProduct(BaseModel):
    product_id: int
    sku: str
    name: str
    revenue: Money = Field(description="net sales of the product: gross sales − returns")
    sales: int = Field(description="lines of sale receipts")
    quantity: Quantity = Field(description="units sold − units returned")
    gross_sales: Money
    returns: Money
    returned_quantity: Quantity
    previous_revenue: Money = Field(description="net sales in the previous period of equal length")


class TopProductsOut(BaseModel):
    date_from: date
    date_to: date
    by: TopBy
    items: list[TopProduct]


class MethodFigures(BaseModel):
    method: PaymentMethod
    paid: Money = Field(description="paid on sale receipts")
    payments: int = Field(description="payments on sale receipts")
    refunded: Money = Field(description="paid back on return receipts, a positive amount")
    refunds: int = Field(description="payments of return receipts")
    net: Money = Field(description="paid − refunded")
    share: float | None = Field(description="of the amount paid by every method, in percent; null if none")
    previous_net: Money = Field(description="net in the previous period of equal length")


class PeriodBounds(BaseModel):
    date_from: date
    date_to: date


class PaymentsOut(BaseModel):
    timezone: str
    date_from: date
    date_to: date
    paid: Money
    refunded: Money
    net: Money
    methods: list[MethodFigures] = Field(description="methods used in either period, most paid first")
    previous: PeriodBounds = Field(description="the period of equal length just before date_from")


class HourFigures(BaseModel):
    hour: int = Field(description="hour of the day in the business timezone, 0–23")
    receipts: int
    return_receipts: int
    gross_sales: Money
    returns: Money
    net_sales: Money
    average_receipt: Money
    receipts_per_day: Quantity = Field(description="receipts / days of the period")


class HoursOut(BaseModel):
    timezone: str
    date_from: date
    date_to: date
    days: int
    peak_hour: int | None = Field(description="the hour with most sale receipts; null without any")
    hours: list[HourFigures] = Field(description="all 24 hours, zero-filled")
