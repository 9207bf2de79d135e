from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

from sauda.auth.models import ClientScope, Role
from sauda.types import Id, Line

LowerEmail = Annotated[EmailStr, AfterValidator(str.lower)]


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: LowerEmail
    password: str = Field(max_length=256)
    invite_code: str = Field(min_length=1, max_length=64)
    full_name: Line = Field(default="", max_length=200)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    role: Role
    company_id: int | None
    is_active: bool
    created_at: datetime


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="access token lifetime in seconds")


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company_id: Id
    expires_in_days: int | None = Field(default=None, ge=1, le=90)


class InviteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    company_id: int
    expires_at: datetime
    used_at: datetime | None
    created_at: datetime


LOGIN_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,63}$"


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    company_id: Id
    name: Line = Field(min_length=1, max_length=200)
    login: str = Field(
        pattern=LOGIN_PATTERN, description="3-64 of a-z, 0-9, `.`, `_`, `-` (the HTTP Basic user name)"
    )
    scopes: list[ClientScope] = Field(min_length=1, description="what the client may call")


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    name: str
    login: str
    scopes: list[ClientScope]
    all_companies: bool = Field(description="sees every company (set by an admin)")
    is_active: bool
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class ClientWithSecret(ClientOut):
    secret: str = Field(description="shown only now; store it, only its digest is kept")
