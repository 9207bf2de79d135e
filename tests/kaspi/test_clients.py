"""The clients on their own: limits shared by separate processes (separate Redis connections),
defensive parsing of whatever Kaspi answers, error mapping, encryption of secrets."""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from redis.asyncio import Redis

from sauda.config import AuthSettings, KaspiSettings, Settings
from sauda.kaspi.client.cabinet import CabinetClient
from sauda.kaspi.client.errors import (
    KaspiAccessDenied,
    KaspiBlocked,
    KaspiCodeInvalid,
    KaspiFlood,
    KaspiLoginFailed,
    KaspiStoreLocked,
    KaspiWrongCredentials,
)
from sauda.kaspi.client.http import load_cookies
from sauda.kaspi.client.login import JsonLogin, login_error, phone_mask
from sauda.kaspi.client.payloads import offer_row
from sauda.kaspi.client.ratelimit import KaspiLimiter
from sauda.kaspi.client.storefront import parse_offer
from sauda.kaspi.models import KaspiStore, OfferState
from sauda.sandboxes.kaspi import SandboxState
from sauda.security import UndecryptableField, decrypt_field, encrypt_field
from tests.kaspi.conftest import EMAIL, PASSWORD, UID


async def _session_cookies(kaspi_settings: KaspiSettings) -> list[dict[str, str]]:
    async with JsonLogin(kaspi_settings) as login:
        step = await login.password(EMAIL, PASSWORD)
    assert step.done
    return step.cookies


async def _push_from_processes(
    kaspi_settings: KaspiSettings, settings: Settings, per_second: float, pushes: int
) -> list[BaseException | str]:
    """`pushes` price uploads, each from its own "process" (own Redis connection, own client)."""
    cookies = await _session_cookies(kaspi_settings)
    limited = kaspi_settings.model_copy(update={"pricefeed_per_second": per_second})
    sku = next(iter(SandboxState().merchant().offers))

    async def one(price: int) -> str:
        redis = Redis.from_url(settings.redis.url)
        try:
            limiter = KaspiLimiter(redis, limited)
            client = CabinetClient(limited, cookies=load_cookies(cookies), limiter=limiter, merchant_uid=UID)
            async with client:
                return await client.push({"merchantUid": UID, "sku": sku, "model": "x", "price": price})
        finally:
            await redis.aclose()

    return await asyncio.gather(*(one(1000 + n) for n in range(pushes)), return_exceptions=True)


async def test_processes_share_the_pricefeed_rate(
    kaspi_settings: KaspiSettings, settings: Settings, sandbox: SandboxState
) -> None:
    results = await _push_from_processes(kaspi_settings, settings, per_second=2, pushes=6)
    assert all(isinstance(r, str) for r in results), results
    assert len(sandbox.pricefeed) == 6


async def test_without_the_shared_limit_kaspi_locks_the_account(
    kaspi_settings: KaspiSettings, settings: Settings, sandbox: SandboxState, redis: Redis
) -> None:
    """The control experiment: the same pushes unpaced earn the 429 and the lock."""
    sandbox.limits.pricefeed_per_second = 1
    results = await _push_from_processes(kaspi_settings, settings, per_second=1000, pushes=6)
    assert any(isinstance(r, KaspiStoreLocked) for r in results), results
    assert UID in sandbox.locked_until
    assert await redis.ttl(f"sauda:kaspi:lock:{UID}") > 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+7 701 234 56 78", "+7 (701) 234-56-78"),
        ("87012345678", "+7 (701) 234-56-78"),
        ("7012345678", "+7 (701) 234-56-78"),
        ("+7 (701) 234-56-78", "+7 (701) 234-56-78"),
    ],
)
def test_phone_mask(raw: str, expected: str) -> None:
    assert phone_mask(raw) == expected


@pytest.mark.parametrize("raw", ["", "12345", "+7 301 234 56 78", "+1 701 234 56 78 9"])
def test_phone_mask_refuses(raw: str) -> None:
    with pytest.raises(ValueError, match="mobile"):
        phone_mask(raw)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"errorCode": "CREDENTIALS_INVALID"}, KaspiWrongCredentials),
        (401, {"errorCode": "SECURITY_CODE_INVALID"}, KaspiCodeInvalid),
        (401, {"errorCode": "MFA_CODE_ATTEMPT_LIMIT"}, KaspiCodeInvalid),
        (401, {"errorCode": "NO_MERCHANTS"}, KaspiAccessDenied),
        (401, {"errorCode": "INSUFFICIENT_PERMISSIONS"}, KaspiAccessDenied),
        (403, None, KaspiBlocked),
        (429, "<html>", KaspiBlocked),
        (400, {"unexpected": True}, KaspiLoginFailed),
        (401, [], KaspiLoginFailed),
    ],
)
def test_login_errors(status: int, body: object, error: type[Exception]) -> None:
    assert type(login_error(status, body)) is error


def test_flood_carries_the_break_time() -> None:
    flood = login_error(401, {"errorCode": "MFA_SEND_FLOOD", "errorData": {"breakTimeSeconds": 45}})
    assert isinstance(flood, KaspiFlood)
    assert flood.retry_after == 45
    assert flood.headers == {"Retry-After": "45"}
    odd = login_error(401, {"errorCode": "MFA_SEND_FLOOD", "errorData": {"breakTimeSeconds": "soon"}})
    assert isinstance(odd, KaspiFlood)
    assert odd.retry_after == 300


def test_offer_rows_tolerate_missing_and_odd_fields() -> None:
    store = KaspiStore(id=1, company_id=2, name="s")
    when = datetime(2026, 1, 1, tzinfo=UTC)
    minimal = offer_row({"sku": "A1"}, store=store, on_sale=False, product_id=None, synced_at=when)
    assert minimal["state"] is OfferState.archived
    assert (minimal["price"], minimal["title"], minimal["availabilities"]) == (None, "", [])
    odd = offer_row(
        {
            "sku": 42,
            "masterSku": 100,
            "price": "free",
            "minPrice": None,
            "allCityPrices": {"750000000": {"price": 990}, "710000000": "x", "bad": None},
            "availabilities": ["PP1", {"storeId": "1_PP1", "available": "yes", "junk": 1}],
            "images": "nope",
            "updatedAt": 1767225600000,
            "unknownField": {"deep": True},
        },
        store=store,
        on_sale=True,
        product_id=7,
        synced_at=when,
    )
    assert odd["sku"] == "42"
    assert odd["master_sku"] == "100"
    assert odd["price"] == Decimal(990)
    assert odd["city_prices"] == {"750000000": 990}
    assert odd["availabilities"] == [{"storeId": "1_PP1", "available": "yes"}]
    assert odd["image_url"] is None
    assert odd["kaspi_updated_at"] == datetime(2026, 1, 1, tzinfo=UTC)


def test_public_offers_tolerate_garbage() -> None:
    assert parse_offer({"merchantName": "no id", "price": 1}) is None
    assert parse_offer({"merchantId": "M1", "price": "n/a"}) is None
    assert parse_offer("text") is None
    offer = parse_offer({"merchantId": 5, "price": 990.0, "merchantRating": "x", "preorder": "3"})
    assert offer is not None
    assert (offer.merchant_id, offer.price, offer.merchant_rating, offer.preorder) == (
        "5",
        Decimal("990.0"),
        None,
        None,
    )


def test_secrets_need_the_same_key() -> None:
    first = AuthSettings(secret_key="one-secret-key-0123456789")  # type: ignore[arg-type]
    second = AuthSettings(secret_key="another-secret-key-0123456789")  # type: ignore[arg-type]
    token = encrypt_field(first, "password")
    assert "password" not in token
    assert decrypt_field(first, token) == "password"
    with pytest.raises(UndecryptableField):
        decrypt_field(second, token)
    from cryptography.fernet import Fernet

    dedicated = AuthSettings(encryption_key=Fernet.generate_key().decode())  # type: ignore[arg-type]
    assert decrypt_field(dedicated, encrypt_field(dedicated, "x")) == "x"
