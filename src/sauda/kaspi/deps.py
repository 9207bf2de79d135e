from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from sauda.auth.deps import ScopeDep
from sauda.db import SessionDep
from sauda.deps import RedisDep, SettingsDep
from sauda.kaspi.client.browser import BrowserProvider, LaunchChromium
from sauda.kaspi.client.deadline import interactive
from sauda.kaspi.client.gateway import KaspiGateway
from sauda.kaspi.models import KaspiOffer, KaspiPreorder, KaspiProxy, KaspiStore
from sauda.kaspi.offers.repository import OfferRepository
from sauda.kaspi.preorders.repository import PreorderRepository
from sauda.kaspi.proxies.repository import ProxyRepository
from sauda.kaspi.stores.repository import StoreRepository
from sauda.types import Id


def get_gateway(request: Request, settings: SettingsDep, redis: RedisDep) -> KaspiGateway:
    # An app may hold a running browser (`app.state.kaspi_browser`); otherwise one per login.
    browser: BrowserProvider = getattr(request.app.state, "kaspi_browser", None) or LaunchChromium()
    return KaspiGateway(settings, redis, browser)


async def kaspi_budget(settings: SettingsDep) -> AsyncIterator[None]:
    """Whatever this request asks of Kaspi ends within one budget (504 after it)."""
    with interactive(settings.kaspi.interactive_timeout_seconds):
        yield


async def store_in_scope(store_id: Id, session: SessionDep, scope: ScopeDep) -> KaspiStore:
    return await StoreRepository(session, scope).get(store_id)


async def offer_in_scope(offer_id: Id, session: SessionDep, scope: ScopeDep) -> KaspiOffer:
    return await OfferRepository(session, scope).get(offer_id)


async def preorder_in_scope(preorder_id: Id, session: SessionDep, scope: ScopeDep) -> KaspiPreorder:
    return await PreorderRepository(session, scope).get(preorder_id)


async def proxy_in_scope(proxy_id: Id, session: SessionDep, scope: ScopeDep) -> KaspiProxy:
    return await ProxyRepository(session, scope).get(proxy_id)


GatewayDep = Annotated[KaspiGateway, Depends(get_gateway)]
ScopedStore = Annotated[KaspiStore, Depends(store_in_scope)]
ScopedOffer = Annotated[KaspiOffer, Depends(offer_in_scope)]
ScopedPreorder = Annotated[KaspiPreorder, Depends(preorder_in_scope)]
ScopedProxy = Annotated[KaspiProxy, Depends(proxy_in_scope)]
