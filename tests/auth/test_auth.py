from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.auth.models import Invite, User
from sauda.db import transaction
from tests.factories import PASSWORD, Factory

STRONG = "Strong-pass-2026"


async def _invite(client: httpx.AsyncClient, factory: Factory, company_id: int) -> str:
    admin = await factory.admin()
    response = await client.post(
        "/api/v1/auth/invites", json={"company_id": company_id}, headers=await factory.headers(admin)
    )
    assert response.status_code == 201, response.text
    code: str = response.json()["code"]
    return code


async def _login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/auth/token", data={"username": email, "password": password})


async def test_register_with_invite_creates_employee_of_that_company(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    company = await factory.company()
    code = await _invite(client, factory, company.id)
    response = await client.post(
        "/api/v1/auth/register",
        json={
            "email": "New.Person@Example.kz",
            "password": STRONG,
            "invite_code": code,
            "full_name": "Айгуль",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == "new.person@example.kz"
    assert body["company_id"] == company.id
    assert body["role"] == "employee"
    tokens = (await _login(client, "new.person@example.kz", STRONG)).json()
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.json()["id"] == body["id"]


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short1!", "at least"), ("onlyletterslong", "mix letters"), ("aaaa1111aaaa", "distinct")],
)
async def test_register_refuses_weak_passwords(
    client: httpx.AsyncClient, factory: Factory, password: str, problem: str
) -> None:
    company = await factory.company()
    code = await _invite(client, factory, company.id)
    response = await client.post(
        "/api/v1/auth/register", json={"email": "a@example.kz", "password": password, "invite_code": code}
    )
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "password"
    assert problem in response.json()["fields"][0]["message"]


async def test_invite_cannot_be_reused(client: httpx.AsyncClient, factory: Factory) -> None:
    company = await factory.company()
    code = await _invite(client, factory, company.id)
    first = await client.post(
        "/api/v1/auth/register", json={"email": "one@example.kz", "password": STRONG, "invite_code": code}
    )
    assert first.status_code == 201
    second = await client.post(
        "/api/v1/auth/register", json={"email": "two@example.kz", "password": STRONG, "invite_code": code}
    )
    assert second.status_code == 422
    assert second.json()["fields"] == [
        {"field": "invite_code", "message": "this invite code has already been used"}
    ]


async def test_expired_and_unknown_invites_are_refused(
    client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    company = await factory.company()
    code = await _invite(client, factory, company.id)
    async with transaction(sessionmaker) as session:
        past = datetime.now(UTC) - timedelta(minutes=1)
        await session.execute(update(Invite).where(Invite.code == code).values(expires_at=past))
    for invite_code, message in ((code, "this invite code has expired"), ("nope", "unknown invite code")):
        response = await client.post(
            "/api/v1/auth/register",
            json={"email": "late@example.kz", "password": STRONG, "invite_code": invite_code},
        )
        assert response.status_code == 422
        assert response.json()["fields"][0] == {"field": "invite_code", "message": message}


async def test_duplicate_email_is_a_conflict(client: httpx.AsyncClient, factory: Factory) -> None:
    company = await factory.company()
    await factory.user(company, email="taken@example.kz")
    code = await _invite(client, factory, company.id)
    response = await client.post(
        "/api/v1/auth/register", json={"email": "TAKEN@example.kz", "password": STRONG, "invite_code": code}
    )
    assert response.status_code == 409
    assert response.json()["fields"][0]["field"] == "email"


async def test_register_refuses_unknown_fields(client: httpx.AsyncClient, factory: Factory) -> None:
    company = await factory.company()
    code = await _invite(client, factory, company.id)
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "x@example.kz", "password": STRONG, "invite_code": code, "role": "admin"},
    )
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "role"


async def test_wrong_password_is_401_and_disabled_account_cannot_log_in(
    client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await factory.user(await factory.company())
    assert (await _login(client, user.email, "Wrong-pass-1")).status_code == 401
    assert (await _login(client, user.email)).status_code == 200
    async with transaction(sessionmaker) as session:
        await session.execute(update(User).where(User.id == user.id).values(is_active=False))
    assert (await _login(client, user.email)).status_code == 401


async def test_disabled_user_loses_access_with_a_live_token(
    client: httpx.AsyncClient, factory: Factory, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    user = await factory.user(await factory.company())
    headers = await factory.headers(user)
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    async with transaction(sessionmaker) as session:
        await session.execute(update(User).where(User.id == user.id).values(is_active=False))
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401


async def test_refresh_rotates_and_reuse_revokes_the_whole_login(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    user = await factory.user(await factory.company())
    first = (await _login(client, user.email)).json()
    rotated = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    # the reuse looked like theft, so the token rotated from it is dead too
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401


async def test_logout_revokes_the_refresh_token(client: httpx.AsyncClient, factory: Factory) -> None:
    user = await factory.user(await factory.company())
    tokens = (await _login(client, user.email)).json()
    response = await client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 204
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401


async def test_tokens_are_not_interchangeable(client: httpx.AsyncClient, factory: Factory) -> None:
    user = await factory.user(await factory.company())
    tokens = (await _login(client, user.email)).json()
    as_refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert as_refresh.status_code == 401
    as_access = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    assert as_access.status_code == 401
    assert (await client.get("/api/v1/auth/me")).status_code == 401


async def test_failed_logins_are_limited_per_account(client: httpx.AsyncClient, factory: Factory) -> None:
    user = await factory.user(await factory.company())
    for _ in range(5):
        assert (await _login(client, user.email, "Wrong-pass-1")).status_code == 401
    blocked = await _login(client, user.email)  # even the right password waits out the window
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 900
    other = await factory.user(await factory.company())
    assert (await _login(client, other.email)).status_code == 200


async def test_failed_logins_are_limited_per_ip(client: httpx.AsyncClient, factory: Factory) -> None:
    for n in range(30):
        await _login(client, f"nobody{n}@example.kz", "Wrong-pass-1")
    user = await factory.user(await factory.company())
    response = await _login(client, user.email)
    assert response.status_code == 429
    assert response.json()["error"] == "too_many_requests"


async def test_only_admins_issue_invites(client: httpx.AsyncClient, factory: Factory) -> None:
    company = await factory.company()
    employee = await factory.user(company)
    response = await client.post(
        "/api/v1/auth/invites", json={"company_id": company.id}, headers=await factory.headers(employee)
    )
    assert response.status_code == 403
    admin = await factory.admin()
    missing = await client.post(
        "/api/v1/auth/invites", json={"company_id": 999_999}, headers=await factory.headers(admin)
    )
    assert missing.status_code == 404
