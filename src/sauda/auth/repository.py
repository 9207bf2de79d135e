from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.auth.models import Invite, RefreshToken, User


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
