"""The Kaspi API: one router per capability, mounted under `/kaspi`."""

from fastapi import APIRouter, Depends

from sauda.kaspi.client.errors import KASPI_ERRORS
from sauda.kaspi.demper.router import router as demper_router
from sauda.kaspi.deps import kaspi_budget
from sauda.kaspi.offers.router import router as offers_router
from sauda.kaspi.preorders.router import router as preorders_router
from sauda.kaspi.proxies.router import router as proxies_router
from sauda.kaspi.stores.router import router as stores_router

# Any Kaspi route may meet Kaspi itself failing or slow, a ban or a login the store needs first.
router = APIRouter(
    prefix="/kaspi", tags=["kaspi"], responses=KASPI_ERRORS, dependencies=[Depends(kaspi_budget)]
)
for part in (stores_router, offers_router, demper_router, proxies_router, preorders_router):
    router.include_router(part)
