"""The application factory."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from arq import create_pool
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from sqlalchemy import text

from sauda.admin import mount_admin
from sauda.config import Settings, get_settings
from sauda.db import create_engine, create_sessionmaker
from sauda.domains import routers
from sauda.errors import error_body, install_error_handlers
from sauda.exchange.router import PREFIX as EXCHANGE_PREFIX
from sauda.exchange.router import NoTrailingSlash
from sauda.middleware import RejectNul
from sauda.openapi import install_openapi
from sauda.worker import redis_settings

log = logging.getLogger(__name__)

DESCRIPTION = """Back office for merchants in Kazakhstan and Russia.

Authenticate with **Authorize** (email and password), or `POST /api/v1/auth/token`.
Errors are `{"error": code, "detail": message, "fields": [...]}`."""


def api_router() -> APIRouter:
    api = APIRouter(prefix="/api/v1")
    for router in routers():
        api.include_router(router)
    return api


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.redis = Redis.from_url(settings.redis.url)
    app.state.arq = await create_pool(redis_settings(settings), default_queue_name=settings.worker.queue_name)
    # Everything built so far (routes, models, schemas) lives as long as the process: keep it out
    # of the garbage collector's full passes, which otherwise stall a request now and then.
    gc.freeze()
    try:
        yield
    finally:
        await app.state.arq.aclose()
        await app.state.redis.aclose()
        await app.state.engine.dispose()


async def _ready(app: FastAPI) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        async with app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        await app.state.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    return checks


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Sauda",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url="/redoc",
    )
    app.state.settings = settings
    # Engine and sessionmaker exist before the lifespan so the admin panel can bind to them.
    app.state.engine = create_engine(settings)
    app.state.sessionmaker = create_sessionmaker(app.state.engine)
    install_error_handlers(app)
    app.add_middleware(NoTrailingSlash, prefix=f"/api/v1{EXCHANGE_PREFIX}/")
    app.add_middleware(RejectNul)
    app.include_router(api_router())
    install_openapi(app)

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"], responses={503: {"description": "a dependency is down"}})
    async def ready() -> JSONResponse:
        """The database and Redis answer."""
        checks = await _ready(app)
        if all(v == "ok" for v in checks.values()):
            return JSONResponse({"status": "ok", **checks})
        body = error_body("service_unavailable", "A dependency is not reachable") | checks
        return JSONResponse(body, status_code=503)

    mount_admin(app, settings)
    return app
