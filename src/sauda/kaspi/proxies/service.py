"""Managing the proxies: add (the URL stored encrypted), change, and show with their health."""

from collections.abc import Callable

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.auth.models import User
from sauda.kaspi.models import KaspiProxy
from sauda.kaspi.proxies.pool import bench_seconds, label_of
from sauda.kaspi.proxies.repository import ProxyRepository
from sauda.kaspi.proxies.schemas import ProxyIn, ProxyOut, ProxyUpdate
from sauda.network.repository import CompanyRepository
from sauda.tenancy import Scope


async def create_proxy(
    session: AsyncSession, scope: Scope, actor: User, data: ProxyIn, encrypt: Callable[[str], str]
) -> KaspiProxy:
    company_id = data.company_id
    if company_id is None and not scope.is_global:
        company_id = actor.company_id  # employees add to their own company; only admins go global
    if company_id is not None:
        scope.ensure(company_id)
        await CompanyRepository(session, scope).get(company_id)
    proxy = KaspiProxy(
        company_id=company_id, label=label_of(data.url), url_encrypted=encrypt(data.url), enabled=data.enabled
    )
    return await ProxyRepository(session, scope).add(proxy)


async def update_proxy(
    session: AsyncSession, proxy: KaspiProxy, data: ProxyUpdate, encrypt: Callable[[str], str]
) -> KaspiProxy:
    if data.url is not None:
        proxy.url_encrypted, proxy.label = encrypt(data.url), label_of(data.url)
    if data.enabled is not None:
        proxy.enabled = data.enabled
    await session.flush()
    return proxy


async def proxy_out(redis: Redis, proxy: KaspiProxy) -> ProxyOut:
    out = ProxyOut.model_validate(proxy)
    out.benched_for = await bench_seconds(redis, proxy.id)
    return out
