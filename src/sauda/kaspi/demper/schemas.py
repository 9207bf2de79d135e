"""Requests and answers of the demper: an offer's and a store's settings, the status, the history."""

from datetime import datetime, time
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sauda.kaspi.models import DemperStrategy, PriceAction, StoreStatus
from sauda.money import Money
from sauda.schemas import WriteModel
from sauda.types import Id, Line, LocalTime


class OfferDemperIn(WriteModel):
    """Demper settings of an offer (whole tenge). Enabling needs a floor."""

    nullable = frozenset({"floor", "ceiling", "step"})

    enabled: bool | None = None
    floor: int | None = Field(default=None, gt=0, le=100_000_000, description="never go below")
    ceiling: int | None = Field(default=None, gt=0, le=100_000_000, description="never go above")
    step: int | None = Field(default=None, ge=1, le=1_000_000, description="null: the store's step")
    strategy: DemperStrategy | None = None
    position: int | None = Field(default=None, ge=1, le=64, description="for strategy=position")
    priority: bool | None = Field(default=None, description="checked more often, and first")

    @model_validator(mode="after")
    def _floor_below_ceiling(self) -> "OfferDemperIn":
        if self.floor is not None and self.ceiling is not None and self.floor > self.ceiling:
            raise ValueError("floor must not be above ceiling")
        return self


class BulkDemperIn(OfferDemperIn):
    offer_ids: list[Id] = Field(min_length=1, max_length=10_000)
    enabled: bool | None = Field(default=None, description="true: enable, false: disable demping")


class BulkDemperOut(BaseModel):
    offers: int
    enabled: bool | None


class StoreDemperIn(WriteModel):
    nullable = frozenset({"hours_from", "hours_to"})

    interval_minutes: int | None = Field(default=None, ge=1, le=1440)
    step: int | None = Field(default=None, ge=1, le=1_000_000)
    hours_from: LocalTime | None = Field(default=None, description="working hours, business timezone")
    hours_to: LocalTime | None = None
    excluded_merchants: list[Annotated[Line, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=500
    )
    raise_when_alone: bool | None = None
    dry_run: bool | None = Field(default=None, description="record decisions without pushing them")


class StoreDemperOut(BaseModel):
    store_id: int
    interval_minutes: int
    step: int
    hours_from: time | None
    hours_to: time | None
    excluded_merchants: list[str]
    raise_when_alone: bool
    dry_run: bool
    last_run_at: datetime | None
    last_result: dict[str, Any] | None
    last_error: str | None
    locked_until: datetime | None
    store_status: StoreStatus
    enabled_offers: int
    due_offers: int
    next_due_at: datetime | None
    running: bool
    pending_preorders: int


class PriceHistoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    offer_id: int
    created_at: datetime
    old_price: Money | None
    new_price: Money | None = Field(description="what the demper set (or would have, in dry-run)")
    leader_price: Money | None
    leader_merchant_id: str | None
    competitors: int
    reason: str
    action: PriceAction
    detail: str | None
    pricefeed_id: str | None
