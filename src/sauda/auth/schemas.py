from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

from sauda.auth.models import Role

LowerEmail = Annotated[EmailStr, AfterValidator(str.lower)]


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: LowerEmail
    password: str = Field(max_length=256)
    invite_code: str = Field(min_length=1, max_length=64)
    full_name: str = Field(default="", max_length=200)


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
    refresh_token: str = Field(min_length=1)


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company_id: int
    expires_in_days: int | None = Field(default=None, ge=1, le=90)


class InviteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    company_id: int
    expires_at: datetime
    used_at: datetime | None
    created_at: datetime
