import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, PlainSerializer

from sauda.money import Money
from sauda.sales.models import ImportFormat, ImportStatus, PointKind, ReceiptKind
from sauda.schemas import WriteModel
from sauda.types import BusinessDateTime, Id, Line, MoneyIn, QuantityIn

# Quantities may be fractional (kilograms, metres): three decimals, a plain JSON number.
Quantity = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]

# The business range of days: a sale, a filter or an imported row outside it is refused, which
# also keeps every moment far inside what PostgreSQL and Python can hold after a zone shift.

Code = Field(min_length=1, max_length=64, pattern=r"^[\w.\-/]+$")
SERVER_SET = {"id": "it is assigned by the server", "created_at": "it is set on creation"}
OWNED_READ_ONLY = SERVER_SET | {"company_id": "it stays with its company"}


class PointCreate(WriteModel):
    read_only = SERVER_SET

    code: str = Code
    name: Line = Field(min_length=1, max_length=200)
    city: Line = Field(default="", max_length=100)
    address: Line = Field(default="", max_length=300)
    kind: PointKind = PointKind.store
    is_active: bool = True
    company_id: Id | None = Field(default=None, description="required for admins")


class PointUpdate(WriteModel):
    read_only = OWNED_READ_ONLY
    nullable = frozenset()

    code: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[\w.\-/]+$")
    name: Line | None = Field(default=None, min_length=1, max_length=200)
    city: Line | None = Field(default=None, max_length=100)
    address: Line | None = Field(default=None, max_length=300)
    kind: PointKind | None = None
    is_active: bool | None = None


class PointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    code: str
    name: str
    city: str
    address: str
    kind: PointKind
    is_active: bool
    created_at: datetime


class CustomerCreate(WriteModel):
    read_only = SERVER_SET

    name: Line = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[\d\s()\-]{5,32}$")
    email: EmailStr | None = None
    external_id: Line | None = Field(default=None, min_length=1, max_length=100)
    company_id: Id | None = Field(default=None, description="required for admins")


class CustomerUpdate(WriteModel):
    read_only = OWNED_READ_ONLY
    nullable = frozenset({"phone", "email", "external_id"})

    name: Line | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[\d\s()\-]{5,32}$")
    email: EmailStr | None = None
    external_id: Line | None = Field(default=None, min_length=1, max_length=100)


class CustomerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    name: str
    phone: str | None
    email: str | None
    external_id: str | None
    created_at: datetime


class SaleCreate(WriteModel):
    read_only = SERVER_SET | {"company_id": "it is the company of the point"}

    point_id: Id
    product_id: Id
    customer_id: Id | None = None
    quantity: QuantityIn
    unit_price: MoneyIn
    discount: MoneyIn = Decimal("0.00")
    total: MoneyIn | None = Field(
        default=None, description="optional; computed by the server, a different value is a 422"
    )
    sold_at: BusinessDateTime = Field(description="without an offset it is business time (Asia/Almaty)")
    external_id: Line | None = Field(default=None, min_length=1, max_length=100)


class SaleUpdate(WriteModel):
    read_only = SaleCreate.read_only
    nullable = frozenset({"customer_id", "external_id", "total"})

    point_id: Id | None = None
    product_id: Id | None = None
    customer_id: Id | None = None
    quantity: QuantityIn | None = None
    unit_price: MoneyIn | None = None
    discount: MoneyIn | None = None
    total: MoneyIn | None = None
    sold_at: BusinessDateTime | None = None
    external_id: Line | None = Field(default=None, min_length=1, max_length=100)


class SaleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    receipt_id: int = Field(description="the receipt this sale is a line of (/api/v1/receipts)")
    kind: ReceiptKind = Field(description="`return`: a line of a return, its amounts subtract")
    point_id: int
    product_id: int
    customer_id: int | None
    quantity: Quantity
    unit_price: Money
    discount: Money
    total: Money
    sold_at: datetime
    external_id: str | None
    created_at: datetime


class SaleOrdering(StrEnum):
    sold_at = "sold_at"
    sold_at_desc = "-sold_at"
    total = "total"
    total_desc = "-total"
    quantity = "quantity"
    quantity_desc = "-quantity"


class PointOrdering(StrEnum):
    name = "name"
    name_desc = "-name"
    code = "code"
    city = "city"
    created_at = "created_at"
    created_at_desc = "-created_at"


class CustomerOrdering(StrEnum):
    name = "name"
    name_desc = "-name"
    created_at = "created_at"
    created_at_desc = "-created_at"


class ImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    company_id: int | None = Field(description="none: each row went into the company its company_id names")
    filename: str
    format: ImportFormat
    status: ImportStatus
    all_or_nothing: bool
    create_missing: bool
    size_bytes: int
    rows_read: int
    rows_inserted: int
    rows_duplicate: int
    rows_failed: int
    error: str | None
    errors: list[dict[str, Any]]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ImportStarted(BaseModel):
    id: uuid.UUID
    status: ImportStatus
