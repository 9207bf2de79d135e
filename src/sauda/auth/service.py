"""Registration by invite, login, refresh-token rotation, logout, invites."""

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.auth.models import Invite, RefreshToken, Role, User
from sauda.auth.repository import InviteRepository, RefreshTokenRepository, UserRepository
from sauda.auth.schemas import RegisterIn, TokenPair
from sauda.config import Settings
from sauda.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, TokenReuse
from sauda.network.models import Company
from sauda.security import (
    decode_token,
    encode_token,
    hash_password,
    password_problem,
    verify_password,
)


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
    try:
        async with session.begin_nested():
            await users.add(user)
    except IntegrityError as exc:  # a concurrent registration took the email first
        raise _email_taken() from exc
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
