"""Proxy routes: the pool with its health; add, change, unbench, delete."""

from collections.abc import Callable

from fastapi import APIRouter, Response, status

from sauda.auth.deps import CurrentUser, ScopeDep
from sauda.db import SessionDep
from sauda.kaspi.client.gateway import KaspiGateway
from sauda.kaspi.deps import GatewayDep, ScopedProxy
from sauda.kaspi.proxies import service
from sauda.kaspi.proxies.pool import unbench
from sauda.kaspi.proxies.repository import ProxyRepository
from sauda.kaspi.proxies.schemas import ProxyIn, ProxyOut, ProxyUpdate
from sauda.types import Id

router = APIRouter()


def _encrypt(gateway: KaspiGateway) -> Callable[[str], str]:
    return lambda url: gateway.encrypt(url)


@router.get("/proxies", response_model=list[ProxyOut])
async def list_proxies(
    session: SessionDep, scope: ScopeDep, gateway: GatewayDep, company_id: Id | None = None
) -> list[ProxyOut]:
    """Proxies for storefront lookups with their health: successes, failures, the last error and
    how long a benched one still rests. Global proxies (no company) are shown to admins."""
    proxies = ProxyRepository(session, scope)
    return [await service.proxy_out(gateway.redis, p) for p in await proxies.all(proxies.listed(company_id))]


@router.post("/proxies", response_model=ProxyOut, status_code=status.HTTP_201_CREATED)
async def create_proxy(
    data: ProxyIn, session: SessionDep, scope: ScopeDep, user: CurrentUser, gateway: GatewayDep
) -> ProxyOut:
    """Add a proxy (`http://user:pass@host:port`, stored encrypted). Employees add to their company;
    admins may add global ones (`company_id: null`), used by companies without their own."""
    proxy = await service.create_proxy(session, scope, user, data, _encrypt(gateway))
    return await service.proxy_out(gateway.redis, proxy)


@router.patch("/proxies/{proxy_id}", response_model=ProxyOut)
async def update_proxy(
    proxy: ScopedProxy, data: ProxyUpdate, session: SessionDep, gateway: GatewayDep
) -> ProxyOut:
    await service.update_proxy(session, proxy, data, _encrypt(gateway))
    return await service.proxy_out(gateway.redis, proxy)


@router.post("/proxies/{proxy_id}/unbench", response_model=ProxyOut)
async def unbench_proxy(proxy: ScopedProxy, gateway: GatewayDep) -> ProxyOut:
    """Put a benched proxy back into the rotation now."""
    await unbench(gateway.redis, proxy.id)
    return await service.proxy_out(gateway.redis, proxy)


@router.delete("/proxies/{proxy_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_proxy(proxy: ScopedProxy, session: SessionDep) -> Response:
    await session.delete(proxy)
    await session.flush()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
