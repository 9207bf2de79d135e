from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator
from pydantic_core import PydanticCustomError

from sauda.money import Money
from sauda.network.models import CompanyKind, DebtReason


class WriteModel(BaseModel):
    """Input model: unknown fields are refused, read-only ones with a message that says why."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    read_only: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _refuse_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for field, why in cls.read_only.items():
                if field in data:
                    raise PydanticCustomError(
                        "read_only", "{field} is read-only: {why}", {"field": field, "why": why}
                    )
        return data


COMPANY_READ_ONLY = {
    "debt": "it changes only through scheduled adjustments and clear-debt",
    "level": "it is computed from the supplier chain",
    "created_at": "it is set when the company is created",
    "id": "it is assigned by the server",
}

Name = Field(min_length=1, max_length=200)


class CompanyCreate(WriteModel):
    read_only = COMPANY_READ_ONLY

    name: str = Name
    kind: CompanyKind
    email: EmailStr
    country: str = Field(min_length=1, max_length=100)
    city: str = Field(min_length=1, max_length=100)
    street: str = Field(min_length=1, max_length=200)
    house_number: str = Field(min_length=1, max_length=20)
    supplier_id: int | None = None


class CompanyUpdate(WriteModel):
    read_only = COMPANY_READ_ONLY

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: CompanyKind | None = None
    email: EmailStr | None = None
    country: str | None = Field(default=None, min_length=1, max_length=100)
    city: str | None = Field(default=None, min_length=1, max_length=100)
    street: str | None = Field(default=None, min_length=1, max_length=200)
    house_number: str | None = Field(default=None, min_length=1, max_length=20)
    supplier_id: int | None = None


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


class ProductCreate(WriteModel):
    read_only = {"id": "it is assigned by the server", "created_at": "it is set on creation"}

    name: str = Name
    model: str = Field(min_length=1, max_length=200)
    release_date: date
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[\w.\-/]+$")
    company_id: int | None = Field(
        default=None, description="required for admins; employees always add to their own company"
    )


class ProductUpdate(WriteModel):
    read_only = {
        "id": "it is assigned by the server",
        "created_at": "it is set on creation",
        "company_id": "a product stays with its company",
    }

    name: str | None = Field(default=None, min_length=1, max_length=200)
    model: str | None = Field(default=None, min_length=1, max_length=200)
    release_date: date | None = None
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

    company_ids: list[int] = Field(min_length=1, max_length=10_000)


class ClearDebtOut(BaseModel):
    status: str = Field(description="done (cleared in the request) or queued (poll the job)")
    cleared: int | None = Field(default=None, description="companies whose debt was cleared")
    job_id: str | None = None


class JobStarted(BaseModel):
    job_id: str
    status: str = "queued"
