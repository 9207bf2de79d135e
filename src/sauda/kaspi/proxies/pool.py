"""The proxy pool for storefront lookups: round-robin over a company's proxies (else the global
ones, else direct), a proxy that fails or gets 403/405 is benched for a cool-down.

Benching and the round-robin counter live in Redis, so every worker sees them at once; the
counters shown as health (successes, failures, last error, benched until) are written back to
`kaspi_proxies` after each demper run.
"""

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.clock import now
from sauda.config import KaspiSettings
from sauda.kaspi.models import KaspiProxy
from sauda.kaspi.proxies.repository import ProxyRepository
from sauda.tenancy import Scope

log = logging.getLogger(__name__)
_PREFIX = "sauda:kaspi:proxy"


@dataclass(frozen=True)
class Route:
    """One way out to the storefront: a proxy (id, decrypted url) or direct."""

    id: int | None
    url: str | None
    label: str

    @property
    def key(self) -> str:
        return f"proxy-{self.id}" if self.id is not None else "direct"


def label_of(url: str) -> str:
    """host:port of a proxy URL, without its credentials (safe to show and log)."""
    parts = urlsplit(url)
    return (
        f"{parts.scheme}://{parts.hostname}:{parts.port}"
        if parts.port
        else f"{parts.scheme}://{parts.hostname}"
    )


def without_credentials(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return urlunsplit((parts.scheme, f"{host}:{parts.port}" if parts.port else host, parts.path, "", ""))


@dataclass
class Health:
    ok: int = 0
    failed: int = 0
    last_error: str | None = None
    benched_until: datetime | None = None
    last_ok_at: datetime | None = None
    last_failed_at: datetime | None = None


@dataclass
class ProxyPool:
    redis: Redis
    settings: KaspiSettings
    routes: list[Route]
    name: str = "global"
    health: dict[int, Health] = field(default_factory=dict)
    used: Counter[str] = field(default_factory=Counter)

    @classmethod
    def direct(cls, redis: Redis, settings: KaspiSettings) -> "ProxyPool":
        url = settings.proxy_url
        return cls(redis, settings, [Route(None, url, label_of(url) if url else "direct")])

    def _bench_key(self, route: Route) -> str:
        return f"{_PREFIX}:bench:{route.key}"

    async def pick(self) -> Route | None:
        """The next route not on the bench, round-robin across every worker; None if all rest."""
        start = int(await self.redis.incr(f"{_PREFIX}:rr:{self.name}"))
        for n in range(len(self.routes)):
            route = self.routes[(start + n) % len(self.routes)]
            if not await self.redis.exists(self._bench_key(route)):
                self.used[route.key] += 1
                return route
        return None

    async def rest_seconds(self) -> float:
        """How long until the first benched route is back."""
        waits = [int(await self.redis.pttl(self._bench_key(r))) for r in self.routes]
        return max(min(waits), 0) / 1000 if waits else 0.0

    async def bench(self, route: Route, reason: str, *, seconds: int | None = None) -> int:
        """Rest a route: `seconds` when we know how long Kaspi's ban lasts (a 403), else a proxy
        rests `proxy_bench_seconds` and direct, which has nowhere else to go, only waits out the
        storefront's cool-down."""
        if seconds is None:
            kaspi = self.settings
            seconds = kaspi.proxy_bench_seconds if route.id is not None else kaspi.storefront_cooldown_seconds
        await self.redis.set(self._bench_key(route), reason[:200], ex=seconds)
        log.warning("kaspi proxy %s benched for %s s: %s", route.label, seconds, reason)
        if route.id is not None:
            health = self.health.setdefault(route.id, Health())
            health.failed += 1
            health.last_error = reason[:500]
            health.last_failed_at = now()
            health.benched_until = health.last_failed_at + timedelta(seconds=seconds)
        return seconds

    def succeeded(self, route: Route) -> None:
        if route.id is not None:
            health = self.health.setdefault(route.id, Health())
            health.ok += 1
            health.last_ok_at = now()

    async def save_health(self, session: AsyncSession) -> None:
        for proxy_id, h in self.health.items():
            values: dict[str, object] = {
                "successes": KaspiProxy.successes + h.ok,
                "failures": KaspiProxy.failures + h.failed,
            }
            if h.last_ok_at:
                values["last_ok_at"] = h.last_ok_at
            if h.last_failed_at:
                values |= {"last_failed_at": h.last_failed_at, "last_error": h.last_error}
                values["benched_until"] = h.benched_until
            await session.execute(update(KaspiProxy).where(KaspiProxy.id == proxy_id).values(**values))
        self.health.clear()
        await session.flush()


async def bench_seconds(redis: Redis, proxy_id: int) -> int:
    return max(int(await redis.ttl(f"{_PREFIX}:bench:proxy-{proxy_id}")), 0)


async def unbench(redis: Redis, proxy_id: int) -> None:
    await redis.delete(f"{_PREFIX}:bench:proxy-{proxy_id}")


async def pool_for(
    session: AsyncSession,
    redis: Redis,
    settings: KaspiSettings,
    company_id: int,
    decrypt: Callable[[str], str],
) -> ProxyPool:
    """The company's enabled proxies; none: the global ones; none either: direct."""
    proxies = await ProxyRepository(session, Scope.everything()).enabled_for(company_id)
    own = [p for p in proxies if p.company_id == company_id]
    chosen, name = (own, f"company-{company_id}") if own else (proxies, "global")
    if not chosen:
        return ProxyPool.direct(redis, settings)
    routes = [Route(p.id, decrypt(p.url_encrypted), p.label) for p in chosen]
    return ProxyPool(redis, settings, routes, name=name)
