from datetime import datetime, timedelta

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.auth.models import IntegrationClient, Invite, RefreshToken, User
from sauda.repository import Repository


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_id(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def by_email(self, email: str) -> User | None:
        # Emails are stored lower-cased, so the unique index serves this lookup.
        return await self.session.scalar(select(User).where(User.email == email.lower()))

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user


class InviteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_code_for_update(self, code: str) -> Invite | None:
        return await self.session.scalar(select(Invite).where(Invite.code == code).with_for_update())


class RefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_jti_for_update(self, jti: str) -> RefreshToken | None:
        stmt = select(RefreshToken).where(RefreshToken.jti == jti).with_for_update()
        return await self.session.scalar(stmt)

    async def revoke_family(self, family_id: object, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )


class IntegrationClientRepository(Repository[IntegrationClient]):
    model = IntegrationClient
    tenant_column = IntegrationClient.company_id
    label = "Integration client"

    def filtered(self, *, company_id: int | None, active: bool | None) -> Select[IntegrationClient]:
        stmt = self.select()
        if company_id is not None:
            stmt = stmt.where(IntegrationClient.company_id == company_id)
        if active is not None:
            revoked = IntegrationClient.revoked_at
            stmt = stmt.where(revoked.is_(None) if active else revoked.is_not(None))
        return stmt.order_by(IntegrationClient.id)

    async def login_taken(self, login: str) -> bool:
        stmt = select(IntegrationClient.id).where(IntegrationClient.login == login)
        return (await self.session.scalar(stmt)) is not None

    async def by_login(self, login: str) -> IntegrationClient | None:
        return await self.session.scalar(select(IntegrationClient).where(IntegrationClient.login == login))

    async def by_secret_hash(self, digest: str) -> IntegrationClient | None:
        stmt = select(IntegrationClient).where(IntegrationClient.secret_hash == digest)
        return await self.session.scalar(stmt)

    async def touch(self, client_id: int, now: datetime, *, every: timedelta) -> None:
        """Record use at most once per `every`. SKIP LOCKED: when a concurrent request of the same
        client is already recording it, this one neither waits nor writes."""
        idle = select(IntegrationClient.id).where(
            IntegrationClient.id == client_id,
            or_(IntegrationClient.last_used_at.is_(None), IntegrationClient.last_used_at < now - every),
        )
        await self.session.execute(
            update(IntegrationClient)
            .where(IntegrationClient.id.in_(idle.with_for_update(skip_locked=True)))
            .values(last_used_at=now)
        )
