from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, String, and_, cast, or_, select, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.auth.models import ClientScope, IntegrationClient, Invite, RefreshToken, User
from sauda.errors import PermissionDenied
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


# The most an employee may hand to an integration client: what an employee may do themselves,
# i.e. the 1C exchange of their own company. `calendar` and `all_companies` are admins' to give.
EMPLOYEE_CLIENT_SCOPES = frozenset({ClientScope.exchange})


class IntegrationClientRepository(Repository[IntegrationClient]):
    """Integration clients as the caller may see them, and the one rule of who manages which.

    A caller sees (lists, reads, rotates, revokes) only clients whose powers do not exceed its
    own. Admins (a global scope): every client. Anyone else: clients of a company in their scope,
    with no scope beyond EMPLOYEE_CLIENT_SCOPES and without `all_companies`. Any other client does
    not exist for them: 404, and absent from lists. `ensure_may_create` applies the same rule to
    a client about to be made, so nobody can create a client they could not then manage.
    """

    model = IntegrationClient
    tenant_column = IntegrationClient.company_id
    label = "Integration client"

    def select(self) -> Select[IntegrationClient]:
        return super().select().where(self._within_powers())

    def _within_powers(self) -> ColumnElement[bool]:
        if self.scope.is_global:
            return true()
        allowed = cast(sorted(s.value for s in EMPLOYEE_CLIENT_SCOPES), ARRAY(String(32)))
        return and_(
            IntegrationClient.scopes.op("<@", is_comparison=True)(allowed),
            IntegrationClient.all_companies.is_(False),
        )

    def ensure_may_create(
        self, *, company_id: int, scopes: Iterable[ClientScope], all_companies: bool
    ) -> None:
        """The rule of `select()` for a new client: 404 for a company outside the caller's scope
        (as for any tenant-owned row), 403 naming the field for powers beyond the caller's."""
        if self.scope.is_global:
            return
        self.scope.ensure(company_id)
        if beyond := sorted(set(map(ClientScope, scopes)) - EMPLOYEE_CLIENT_SCOPES):
            message = f"only administrators give the {', '.join(beyond)} scope"
            raise PermissionDenied(message, fields=[{"field": "scopes", "message": message}])
        if all_companies:
            message = "only administrators create clients that see every company"
            raise PermissionDenied(message, fields=[{"field": "all_companies", "message": message}])

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
