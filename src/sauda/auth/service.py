"""Registration by invite, login, refresh-token rotation, logout, invites, integration clients."""

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sauda.auth.models import ClientScope, IntegrationClient, Invite, RefreshToken, Role, User
from sauda.auth.repository import (
    IntegrationClientRepository,
    InviteRepository,
    RefreshTokenRepository,
    UserRepository,
)
from sauda.auth.schemas import RegisterIn, TokenPair
from sauda.config import Settings
from sauda.db import conflict_on
from sauda.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, TokenReuse
from sauda.network.models import Company
from sauda.security import (
    decode_token,
    encode_token,
    hash_password,
    password_problem,
    verify_password,
)
from sauda.tenancy import Scope


def _invite_problem(invite: Invite | None, now: datetime) -> str | None:
    if invite is None:
        return "unknown invite code"
    if invite.used_at is not None:
        return "this invite code has already been used"
    if invite.expires_at <= now:
        return "this invite code has expired"
    return None


async def register(session: AsyncSession, settings: Settings, data: RegisterIn) -> User:
    problem = password_problem(data.password, min_length=settings.auth.min_password_length, email=data.email)
    if problem:
        raise InvalidInput.for_field("password", problem)
    now = datetime.now(UTC)
    invite = await InviteRepository(session).by_code_for_update(data.invite_code)
    if problem := _invite_problem(invite, now):
        raise InvalidInput.for_field("invite_code", problem)
    assert invite is not None
    users = UserRepository(session)
    if await users.by_email(data.email):
        raise _email_taken()
    user = User(
        email=data.email,
        password_hash=hash_password(data.password),
        full_name=data.full_name,
        role=Role.employee,
        company_id=invite.company_id,
    )
    async with conflict_on(session, _email_taken()):  # a concurrent registration took it first
        await users.add(user)
    invite.used_at = now
    invite.used_by_id = user.id
    await session.flush()
    return user


def _email_taken() -> Conflict:
    return Conflict(
        "A user with this email already exists",
        fields=[{"field": "email", "message": "already registered"}],
    )


async def authenticate(session: AsyncSession, email: str, password: str) -> User | None:
    user = await UserRepository(session).by_email(email)
    valid = verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        return None
    return user


async def issue_tokens(
    session: AsyncSession, settings: Settings, user: User, family_id: uuid.UUID | None = None
) -> TokenPair:
    secret = settings.auth.secret_key.get_secret_value()
    access_ttl = timedelta(minutes=settings.auth.access_token_minutes)
    access, _, _ = encode_token(
        secret=secret,
        subject=str(user.id),
        token_type="access",
        ttl=access_ttl,
        role=user.role.value,
    )
    refresh, jti, expires_at = encode_token(
        secret=secret,
        subject=str(user.id),
        token_type="refresh",
        ttl=timedelta(days=settings.auth.refresh_token_days),
    )
    session.add(
        RefreshToken(jti=jti, family_id=family_id or uuid.uuid4(), user_id=user.id, expires_at=expires_at)
    )
    await session.flush()
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=int(access_ttl.total_seconds()))


async def _live_refresh_token(session: AsyncSession, settings: Settings, token: str) -> RefreshToken:
    payload = decode_token(token, secret=settings.auth.secret_key.get_secret_value(), token_type="refresh")
    stored = await RefreshTokenRepository(session).by_jti_for_update(payload["jti"])
    if stored is None:
        raise NotAuthenticated("Unknown refresh token")
    return stored


async def rotate_refresh_token(session: AsyncSession, settings: Settings, token: str) -> TokenPair:
    stored = await _live_refresh_token(session, settings, token)
    now = datetime.now(UTC)
    if stored.revoked_at is not None:
        # A rotated token used again means it leaked: end the whole login session.
        await RefreshTokenRepository(session).revoke_family(stored.family_id, now)
        raise TokenReuse("Refresh token was already used or revoked")
    user = await UserRepository(session).by_id(stored.user_id)
    if user is None or not user.is_active:
        raise NotAuthenticated("Account is disabled")
    stored.revoked_at = now
    return await issue_tokens(session, settings, user, family_id=stored.family_id)


async def revoke_refresh_token(session: AsyncSession, settings: Settings, token: str) -> None:
    stored = await _live_refresh_token(session, settings, token)
    await RefreshTokenRepository(session).revoke_family(stored.family_id, datetime.now(UTC))


async def create_invite(
    session: AsyncSession, settings: Settings, *, company_id: int, admin: User, days: int | None
) -> Invite:
    if await session.get(Company, company_id) is None:
        raise NotFound(f"Company {company_id} not found")
    invite = Invite(
        code=secrets.token_urlsafe(16),
        company_id=company_id,
        created_by_id=admin.id,
        expires_at=datetime.now(UTC) + timedelta(days=days or settings.auth.invite_days),
    )
    session.add(invite)
    await session.flush()
    return invite


async def create_admin(session: AsyncSession, *, email: str, password: str, full_name: str = "") -> User:
    users = UserRepository(session)
    if await users.by_email(email):
        raise _email_taken()
    admin = User(
        email=email.lower(),
        password_hash=hash_password(password),
        full_name=full_name,
        role=Role.admin,
    )
    return await users.add(admin)


# --- integration clients (1C exchange, Telegram bot) ---------------------------------------

CLIENT_TOUCH_EVERY = timedelta(minutes=1)


def client_secret_digest(secret: str) -> str:
    """SHA-256 of a client secret. Secrets are 256-bit random tokens made by the server, so a
    fast digest cannot be brute-forced; Argon2 would cost its full run on every API call."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


async def create_client(
    session: AsyncSession,
    scope: Scope,
    *,
    company_id: int,
    name: str,
    login: str,
    scopes: Iterable[ClientScope],
    all_companies: bool = False,
    created_by: User | None = None,
) -> tuple[IntegrationClient, str]:
    """A new client and its secret; the secret exists only in this return value. `scope` is the
    creator's: nobody creates a client with powers beyond their own (see the repository)."""
    scopes = sorted({ClientScope(s) for s in scopes})
    clients = IntegrationClientRepository(session, scope)
    clients.ensure_may_create(company_id=company_id, scopes=scopes, all_companies=all_companies)
    if await session.get(Company, company_id) is None:
        raise InvalidInput.for_field("company_id", f"company {company_id} does not exist")
    if await clients.login_taken(login):
        raise _login_taken()
    secret = _new_secret()
    client = IntegrationClient(
        company_id=company_id,
        name=name,
        login=login,
        secret_hash=client_secret_digest(secret),
        scopes=[s.value for s in scopes],
        all_companies=all_companies,
        created_by_id=created_by.id if created_by else None,
    )
    async with conflict_on(session, _login_taken()):  # a concurrent create took the login first
        await clients.add(client)
    return client, secret


def _login_taken() -> Conflict:
    return Conflict(
        "An integration client with this login already exists",
        fields=[{"field": "login", "message": "already taken"}],
    )


async def rotate_client_secret(session: AsyncSession, client: IntegrationClient) -> str:
    """A new secret; the old one stops working when this transaction commits."""
    if not client.is_active:
        raise Conflict(f"Integration client {client.login} is revoked; create a new one")
    secret = _new_secret()
    client.secret_hash = client_secret_digest(secret)
    await session.flush()
    return secret


async def revoke_client(session: AsyncSession, client: IntegrationClient) -> IntegrationClient:
    """Revoke for good (idempotent: a second revoke keeps the first date)."""
    if client.revoked_at is None:
        client.revoked_at = datetime.now(UTC)
        await session.flush()
    return client


async def authenticate_client(
    session: AsyncSession, *, secret: str, login: str | None = None
) -> IntegrationClient | None:
    """The active client with this secret (and login, for HTTP Basic), or None."""
    digest = client_secret_digest(secret)
    clients = IntegrationClientRepository(session, Scope.everything())
    if login is None:
        client = await clients.by_secret_hash(digest)
    else:
        client = await clients.by_login(login)
        if client is not None and not hmac.compare_digest(client.secret_hash, digest):
            client = None
    if client is None or not client.is_active:
        return None
    return client


def client_needs_touch(client: IntegrationClient, now: datetime) -> bool:
    return client.last_used_at is None or client.last_used_at < now - CLIENT_TOUCH_EVERY


async def touch_client(session: AsyncSession, client_id: int, now: datetime) -> None:
    await IntegrationClientRepository(session, Scope.everything()).touch(
        client_id, now, every=CLIENT_TOUCH_EVERY
    )
