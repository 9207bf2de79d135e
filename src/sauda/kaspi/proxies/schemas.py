"""Requests and answers of the proxy pool."""

from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from sauda.types import Id, Line

# The shown label (scheme://host:port) lives in a String(200) column.
MAX_PROXY_HOST = 150


def _proxy_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        port = parts.port  # a non-numeric or out-of-range port raises here
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be http(s)://[user:pass@]host[:port]")
    if len(parts.hostname) > MAX_PROXY_HOST:
        raise ValueError(f"host name is longer than {MAX_PROXY_HOST} characters")
    if port == 0:
        raise ValueError("port must be between 1 and 65535")
    return value


ProxyUrl = Annotated[
    Line,
    Field(max_length=500, description="http://user:pass@host:port"),
    AfterValidator(_proxy_url),
]


class ProxyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: ProxyUrl
    company_id: Id | None = Field(default=None, description="null = global (admins only)")
    enabled: bool = True


class ProxyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: ProxyUrl | None = None
    enabled: bool | None = None


class ProxyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int | None
    label: str = Field(description="scheme://host:port; the credentials are stored encrypted, never shown")
    enabled: bool
    benched_for: int = Field(default=0, description="seconds the proxy still rests after a failure")
    successes: int
    failures: int
    last_error: str | None
    last_ok_at: datetime | None
    last_failed_at: datetime | None
    created_at: datetime
