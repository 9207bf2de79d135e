from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from sauda.money import Money
from sauda.network.models import CompanyKind, DebtReason
from sauda.schemas import WriteModel
from sauda.types import BusinessDate, Id, Line

COMPANY_READ_ONLY = {
    "debt": "it changes only through scheduled adjustments and clear-debt",
    "level": "it is computed from the supplier chain",
    "created_at": "it is set when the company is created",
    "id": "it is assigned by the server",
}

Name = Field(min_length=1, max_length=200)


class CompanyCreate(WriteModel):
    read_only = COMPANY_READ_ONLY

    name: Line = Name
    kind: CompanyKind
    email: EmailStr
    country: Line = Field(min_length=1, max_length=100)
    city: Line = Field(min_length=1, max_length=100)
    street: Line = Field(min_length=1, max_length=200)
    house_number: Line = Field(min_length=1, max_length=20)
    supplier_id: Id | None = None


class CompanyUpdate(WriteModel):
    read_only = COMPANY_READ_ONLY
    nullable = frozenset({"supplier_id"})

    name: Line | None = Field(default=None, min_length=1, max_length=200)
    kind: CompanyKind | None = None
    email: EmailStr | None = None
    country: Line | None = Field(default=None, min_length=1, max_length=100)
    city: Line | None = Field(default=None, min_length=1, max_length=100)
    street: Line | None = Field(default=None, min_length=1, max_length=200)
    house_number: Line | None = Field(default=None, min_length=1, max_length=20)
    supplier_id: Id | None = None


class CompanyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: CompanyKind
    email: str
    country: str
    city: str
    street: str
    house_number: str
    supplier_id: int | None
    level: int
    debt: Money
    created_at: datetime


class CompanyOrdering(StrEnum):
    name = "name"
    name_desc = "-name"
    created_at = "created_at"
    created_at_desc = "-created_at"
    debt = "debt"
    debt_desc = "-debt"
    level = "level"
    level_desc = "-level"
    city = "city"
    city_desc = "-city"


PRODUCT_SERVER_SET = {"id": "it is assigned by the server", "created_at": "it is set on creation"}


class ProductCreate(WriteModel):
    read_only = PRODUCT_SERVER_SET

    name: Line = Name
    model: Line = Field(min_length=1, max_length=200)
    release_date: BusinessDate
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[\w.\-/]+$")
    company_id: Id | None = Field(
        default=None, description="required for admins; employees always add to their own company"
    )


class ProductUpdate(WriteModel):
    read_only = PRODUCT_SERVER_SET | {"company_id": "a product stays with its company"}
    nullable = frozenset()

    name: Line | None = Field(default=None, min_length=1, max_length=200)
    model: Line | None = Field(default=None, min_length=1, max_length=200)
    release_date: BusinessDate | None = None
    sku: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[\w.\-/]+$")


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    name: str
    model: str
    release_date: date
    sku: str
    created_at: datetime


class DebtEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    amount: Money
    balance_after: Money
    reason: DebtReason
    run_key: str
    created_at: datetime


class ClearDebtIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company_ids: list[Id] = Field(min_length=1, max_length=10_000)


class ClearDebtOut(BaseModel):
    status: str = Field(description="done (cleared in the request) or queued (poll the job)")
    cleared: int | None = Field(default=None, description="companies whose debt was cleared")
    job_id: str | None = None
