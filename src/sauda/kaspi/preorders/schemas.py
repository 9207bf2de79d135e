"""Requests and answers of preorders: one preorder, and the outcome of an Excel import."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sauda.kaspi.models import PreorderStatus
from sauda.types import Id


class PreorderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offer_id: Id
    days: int = Field(ge=0, le=30, description="days until the item reaches the point; 0 = in stock")
    points: list[Annotated[str, Field(max_length=8)]] = Field(
        default_factory=list, max_length=20, description='pickup points ("PP1"); empty = every point'
    )

    @field_validator("points")
    @classmethod
    def _points(cls, value: list[str]) -> list[str]:
        import re

        for point in value:
            if not re.fullmatch(r"PP\d{1,3}", point):
                raise ValueError(f"{point!r} is not a pickup point like PP1")
        return sorted(set(value))


class PreorderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    store_id: int
    offer_id: int
    days: int
    points: list[str]
    status: PreorderStatus
    reason: str | None
    requested_at: datetime
    uploaded_at: datetime | None
    checked_at: datetime | None
    confirmed_at: datetime | None


class PreorderImportOut(BaseModel):
    rows: int
    saved: int
    skipped: int = Field(description="rows with an empty preorder cell: in stock, nothing to change")
    errors: list[dict[str, Any]] = Field(description="row, column, message; nothing is saved if any")
