"""The proxy pool for storefront lookups: round-robin over a company's proxies (else the global
ones, else direct). A route rests while it is benched (the proxy does not answer) or while its
IP cools down after Kaspi refused it (the storefront client's one cool-down per IP, which every
caller — demper, preorders, manual lookups — honours).

Benching, cool-downs and the round-robin counter live in Redis, so every worker sees them at
once; the counters shown as health (successes, failures, last error, benched until) are written
back to `kaspi_proxies` after each demper run.
"""

import logging
import math
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar
from urllib.parse import urlsplit

from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.clock import now
from sauda.config import KaspiSettings
from sauda.kaspi.client.errors import KaspiBlocked, KaspiCoolingDown
from sauda.kaspi.client.ratelimit import cooldown_key
from sauda.kaspi.models import KaspiProxy
from sauda.kaspi.proxies.repository import ProxyRepository
from sauda.tenancy import Scope

log = logging.getLogger(__name__)
T = TypeVar("T")
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
        """The next route neither benched nor cooling down, round-robin across every worker;
        None if all rest."""
        start = int(await self.redis.incr(f"{_PREFIX}:rr:{self.name}"))
        for n in range(len(self.routes)):
            route = self.routes[(start + n) % len(self.routes)]
            if not await self.redis.exists(self._bench_key(route), cooldown_key(route.key)):
                self.used[route.key] += 1
                return route
        return None

    async def through_free_route(self, lookup: Callable[[Route], Awaitable[T]]) -> T:
        """`lookup` through a route that may send now, and after a refusal through the next free
        one. None left: Kaspi's refusal just met (503), else KaspiCoolingDown (429, Retry-After)."""
        refused: KaspiBlocked | None = None
        for _ in self.routes:
            route = await self.pick()
            if route is None:
                break
            try:
                return await lookup(route)
            except KaspiBlocked as exc:
                refused = exc
            except KaspiCoolingDown:
                continue  # another caller met a ban on it meanwhile
        if refused is not None:
            raise refused
        wait = max(math.ceil(await self.rest_seconds()), 1)
        raise KaspiCoolingDown(
            f"Kaspi's storefront refused every outgoing IP a moment ago; try again in {wait} s",
            retry_after=wait,
        )

    async def _rest_ms(self, route: Route) -> int:
        keys = (self._bench_key(route), cooldown_key(route.key))
        return max([int(await self.redis.pttl(k)) for k in keys])

    async def rest_seconds(self) -> float:
        """How long until the first resting route is back."""
        waits = [await self._rest_ms(r) for r in self.routes]
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
        self.failed(route, reason, seconds)
        return seconds

    def failed(self, route: Route, reason: str, seconds: int) -> None:
        """Count a failure in the route's health; after a storefront refusal the client has
        already started the IP's cool-down, so nothing more is needed to rest it."""
        if route.id is not None:
            health = self.health.setdefault(route.id, Health())
            health.failed += 1
            health.last_error = reason[:500]
            health.last_failed_at = now()
            health.benched_until = health.last_failed_at + timedelta(seconds=seconds)

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


def _rest_keys(proxy_id: int) -> tuple[str, str]:
    return f"{_PREFIX}:bench:proxy-{proxy_id}", cooldown_key(f"proxy-{proxy_id}")


async def bench_seconds(redis: Redis, proxy_id: int) -> int:
    """How long the proxy still rests: benched, or its IP cooling down after a refusal."""
    return max([int(await redis.ttl(k)) for k in _rest_keys(proxy_id)] + [0])


async def unbench(redis: Redis, proxy_id: int) -> None:
    await redis.delete(*_rest_keys(proxy_id))


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
