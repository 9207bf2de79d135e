"""Requests and answers of Kaspi stores: the store, its logins and its session."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from sauda.kaspi.client.login import phone_mask
from sauda.kaspi.models import StoreStatus
from sauda.schemas import WriteModel
from sauda.types import Id, Line

LoginMode = Literal["auto", "browser", "json"]
STORE_READ_ONLY = {
    "id": "it is assigned by the server",
    "merchant_uid": "it is read from the cabinet at login",
    "status": "it follows the session: log in to change it",
    "created_at": "it is set on creation",
}


def _phone(value: str | None) -> str | None:
    return None if value is None else phone_mask(value)


class StoreCreate(WriteModel):
    read_only = STORE_READ_ONLY

    name: Line = Field(min_length=1, max_length=200)
    company_id: Id | None = Field(
        default=None, description="required for admins; employees always add to their own company"
    )
    login_email: EmailStr | None = None
    login_phone: str | None = Field(default=None, max_length=32, description="+7 7NN NNN NN NN, any spacing")
    city_id: str = Field(default="750000000", pattern=r"^\d{9}$")
    sync_enabled: bool = True

    _check_phone = field_validator("login_phone")(_phone)


class StoreUpdate(WriteModel):
    read_only = STORE_READ_ONLY | {"company_id": "a store stays with its company"}
    nullable = frozenset({"login_email", "login_phone"})

    name: Line | None = Field(default=None, min_length=1, max_length=200)
    login_email: EmailStr | None = None
    login_phone: str | None = Field(default=None, max_length=32)
    city_id: str | None = Field(default=None, pattern=r"^\d{9}$")
    sync_enabled: bool | None = None

    _check_phone = field_validator("login_phone")(_phone)


class StoreOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    name: str
    merchant_uid: str | None
    merchant_name: str | None
    login_email: str | None
    login_phone: str | None
    city_id: str
    sync_enabled: bool
    status: StoreStatus
    status_reason: str | None = Field(description="why the store needs a login, in words")
    has_session: bool
    has_credentials: bool = Field(description="the password is stored (encrypted) for automatic re-login")
    logged_in_at: datetime | None
    session_checked_at: datetime | None
    locked_until: datetime | None = Field(description="Kaspi limited the store: no calls before this")
    last_synced_at: datetime | None
    last_sync_error: str | None
    created_at: datetime


class PasswordLoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: EmailStr | None = Field(default=None, description="defaults to the store's login_email")
    password: str = Field(min_length=1, max_length=200)
    remember_credentials: bool = Field(
        default=False, description="store the password encrypted so an expired session renews itself"
    )
    mode: LoginMode | None = Field(
        default=None, description="browser (Chromium), json, or the configured default"
    )


class SmsStartIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    phone: str | None = Field(default=None, max_length=32, description="defaults to the store's login_phone")
    mode: LoginMode | None = None

    _check_phone = field_validator("phone")(_phone)


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(pattern=r"^\d{4,8}$")


class LoginOut(BaseModel):
    status: Literal["logged_in", "code_required"]
    channel: Literal["email", "phone"] | None = Field(default=None, description="where the code was sent")
    expires_in: int | None = Field(default=None, description="seconds the pending login waits for the code")
    store: StoreOut


class PendingLoginOut(BaseModel):
    pending: Literal["email", "phone"] | None = Field(description="a login waits for a code sent there")
    expires_in: int | None = Field(default=None, description="seconds it keeps waiting")


class SessionCheckOut(BaseModel):
    valid: bool
    store: StoreOut
