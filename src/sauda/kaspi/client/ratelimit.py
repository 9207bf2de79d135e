"""Kaspi's limits, kept by every API and worker process together through Redis.

- pricefeed, per merchant account: requests spaced to `pricefeed_per_second` and at most
  `pricefeed_changes_per_window` changes per window; after a 429 the account is locked for
  `lock_seconds` (Kaspi's own 30-minute lock: touching it earlier only prolongs it);
- storefront, per outgoing IP (per proxy): spaced to `storefront_per_second`, and after a 403 a
  cool-down of `storefront_cooldown_seconds`.

Spacing reserves the next free slot atomically (a Lua script on Redis' clock), so N processes
together still send at the configured rate.
"""

import asyncio
import math
import secrets

from redis.asyncio import Redis

from sauda.config import KaspiSettings
from sauda.kaspi.client.errors import KaspiBlocked, KaspiRateLimited, KaspiStoreLocked

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(nxt, now)
local wait = slot - now
if wait > tonumber(ARGV[2]) then return -wait end
redis.call('SET', KEYS[1], slot + tonumber(ARGV[1]), 'PX', wait + tonumber(ARGV[1]) + 1000)
return wait
"""

# At most ARGV[2] sends in any window of ARGV[1] ms (a sorted set of send times): spacing alone
# lets a process that stalled (GC, a busy CPU) send the slots it overslept in one burst.
_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + window - now + 1
"""

_PREFIX = "sauda:kaspi"


class KaspiLimiter:
    def __init__(self, redis: Redis, settings: KaspiSettings) -> None:
        self.redis = redis
        self.settings = settings

    async def _space(self, key: str, per_second: float) -> None:
        interval_ms = max(int(1000 / per_second), 1)
        max_wait_ms = int(self.settings.max_rate_wait_seconds * 1000)
        wait_ms = int(await self.redis.eval(_RESERVE, 1, key, str(interval_ms), str(max_wait_ms)))  # type: ignore[misc]
        if wait_ms < 0:
            raise KaspiRateLimited(
                "Too many Kaspi requests queued; try again shortly", retry_after=math.ceil(-wait_ms / 1000)
            )
        if wait_ms:
            await asyncio.sleep(wait_ms / 1000)

    # --- pricefeed (per merchant account) ------------------------------------------------------
    async def merchant_lock_seconds(self, merchant_uid: str) -> int:
        ttl = int(await self.redis.ttl(f"{_PREFIX}:lock:{merchant_uid}"))
        return max(ttl, 0)

    async def ensure_unlocked(self, merchant_uid: str) -> None:
        if remaining := await self.merchant_lock_seconds(merchant_uid):
            raise KaspiStoreLocked(
                f"Kaspi locked this store after too many requests; it is left alone for {remaining} s",
                retry_after=remaining,
            )

    async def lock_merchant(self, merchant_uid: str) -> int:
        await self.redis.set(f"{_PREFIX}:lock:{merchant_uid}", 1, ex=self.settings.lock_seconds)
        return self.settings.lock_seconds

    async def pricefeed_slot(self, merchant_uid: str, changes: int) -> None:
        await self.ensure_unlocked(merchant_uid)
        await self._take_quota(merchant_uid, changes)
        await self._space(f"{_PREFIX}:pricefeed:{merchant_uid}", self.settings.pricefeed_per_second)

    async def _take_quota(self, merchant_uid: str, changes: int) -> None:
        window = self.settings.pricefeed_window_seconds
        key = f"{_PREFIX}:changes:{merchant_uid}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, changes)
            pipe.expire(key, window, nx=True)
            pipe.ttl(key)
            used, _, ttl = await pipe.execute()
        if int(used) > self.settings.pricefeed_changes_per_window:
            await self.redis.decrby(key, changes)
            raise KaspiRateLimited(
                f"At most {self.settings.pricefeed_changes_per_window} Kaspi changes per "
                f"{window // 60} minutes per store",
                retry_after=max(int(ttl), 1),
            )

    async def cabinet_slot(self, merchant_uid: str) -> None:
        """Reads of the cabinet: paced too, and never while the account is locked."""
        await self.ensure_unlocked(merchant_uid)
        await self._space(f"{_PREFIX}:cabinet:{merchant_uid}", self.settings.cabinet_per_second)

    # --- storefront (per outgoing IP) ----------------------------------------------------------
    async def storefront_slot(self, ip_key: str) -> None:
        cooldown = int(await self.redis.pttl(f"{_PREFIX}:storefront-cooldown:{ip_key}"))
        if cooldown > 0:
            raise KaspiBlocked(
                "Kaspi's storefront refused this IP for a while; try again shortly",
                retry_after=math.ceil(cooldown / 1000),
            )
        per_second = self.settings.storefront_per_second
        await self._space(f"{_PREFIX}:storefront:{ip_key}", per_second)
        await self._window(f"{_PREFIX}:storefront-window:{ip_key}", per_second)

    async def _window(self, key: str, per_second: float) -> None:
        # ceil(rate) sends per (1 s + margin): Kaspi counts arrivals, which jitter after we send.
        cap = max(math.ceil(per_second), 1)
        window_ms = int(1000 + self.settings.storefront_window_margin_seconds * 1000)
        deadline = asyncio.get_running_loop().time() + self.settings.max_rate_wait_seconds
        while True:
            args = (str(window_ms), str(cap), secrets.token_hex(6))
            wait_ms = int(await self.redis.eval(_WINDOW, 1, key, *args))  # type: ignore[misc]
            if not wait_ms:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise KaspiRateLimited("Too many Kaspi requests queued; try again shortly", retry_after=1)
            await asyncio.sleep(wait_ms / 1000)

    async def cool_down_storefront(self, ip_key: str) -> int:
        seconds = self.settings.storefront_cooldown_seconds
        await self.redis.set(f"{_PREFIX}:storefront-cooldown:{ip_key}", 1, ex=seconds)
        return seconds


class LoginLock:
    """One login per store at a time, across processes (parallel logins trigger MFA_SEND_FLOOD)."""

    _RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"

    kind = "login"

    def __init__(self, redis: Redis, store_id: int, seconds: int) -> None:
        self.redis = redis
        self.key = f"{_PREFIX}:{self.kind}:{store_id}"
        self.seconds = seconds
        self.token = ""

    async def acquire(self) -> bool:
        self.token = secrets.token_hex(8)
        return bool(await self.redis.set(self.key, self.token, nx=True, ex=self.seconds))

    async def release(self) -> None:
        released = await self.redis.eval(self._RELEASE, 1, self.key, self.token)  # type: ignore[misc]
        if released:
            await self.redis.publish(self._released, "1")

    async def held(self) -> bool:
        return bool(await self.redis.exists(self.key))

    @property
    def _released(self) -> str:
        return f"{self.key}:released"

    async def wait_released(self, seconds: float) -> bool:
        """Wait up to `seconds` until nobody holds the lock; True when it is free. Woken by the
        holder's release, or when the lock's time runs out (a holder that died never releases)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        async with self.redis.pubsub() as pubsub:
            await pubsub.subscribe(self._released)  # before looking: a release in between wakes us
            while (left_ms := int(await self.redis.pttl(self.key))) != -2:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                wait = min(remaining, left_ms / 1000) if left_ms > 0 else remaining
                await pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
        return True


class DemperLock(LoginLock):
    """One demper run per store at a time, across workers (a second job for it skips)."""

    kind = "demper-run"
