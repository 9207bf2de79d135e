"""Kaspi's limits, kept by every API and worker process together through Redis.

- pricefeed, per merchant account: requests spaced to `pricefeed_per_second` and at most
  `pricefeed_changes_per_window` changes in any rolling `pricefeed_window_seconds`; after a 429
  the pricefeed of the account is locked for `lock_seconds` (Kaspi's own 30-minute lock: every
  request during it starts it again). The session probe and the login are not part of it;
- storefront, per outgoing IP (per proxy, or "direct"): spaced to `storefront_per_second`, and
  after a 403/405/429 or a bot wall a cool-down of `storefront_cooldown_seconds` (a request
  during Kaspi's ban prolongs it too);
- logins, per store: the break of an `MFA_SEND_FLOOD` (asking for a code during it starts it
  again).

A ban is checked right before each send — after the wait for the pacing slot, which is when
another caller may have met it — so requests already queued are not sent into it. Spacing
reserves the next free slot atomically (a Lua script on Redis' clock), so N processes together
still send at the configured rate.
"""

import asyncio
import math
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from sauda import clock
from sauda.config import KaspiSettings
from sauda.kaspi.client.errors import KaspiCoolingDown, KaspiFlood, KaspiRateLimited, KaspiStoreLocked

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

# Right before a pricefeed send: is the account locked, and do ARGV[4] more changes fit in the
# rolling window? If so they are reserved (one member "token:N" scored with the send time),
# all or nothing. Returns {0, 0} sent, {1, ms} locked for ms, {2, ms} the changes fit in ms.
# The time comes from the caller (`sauda.clock`), so tests move it with the rest of the service.
_CHANGES = """
local lock = redis.call('PTTL', KEYS[1])
if lock ~= -2 then return {1, math.max(lock, 1000)} end
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local limit, n = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local taken = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local used = 0
for i = 1, #taken, 2 do used = used + tonumber(string.match(taken[i], '(%d+)$')) end
if used + n <= limit then
  redis.call('ZADD', KEYS[2], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[2], window)
  return {0, 0}
end
local free = limit - used
for i = 1, #taken, 2 do
  free = free + tonumber(string.match(taken[i], '(%d+)$'))
  if free >= n then return {2, tonumber(taken[i + 1]) + window - now} end
end
return {2, window}
"""

_PREFIX = "sauda:kaspi"


@dataclass(frozen=True)
class Reservation:
    """Changes reserved in a merchant's budget for one send; released if Kaspi refuses it."""

    merchant_uid: str
    member: str


class KaspiLimiter:
    def __init__(self, redis: Redis, settings: KaspiSettings) -> None:
        self.redis = redis
        self.settings = settings

    def _now_ms(self) -> int:
        return int(clock.now().timestamp() * 1000)

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
    def _lock_key(self, merchant_uid: str) -> str:
        return f"{_PREFIX}:lock:{merchant_uid}"

    def _changes_key(self, merchant_uid: str) -> str:
        return f"{_PREFIX}:changes-window:{merchant_uid}"

    async def merchant_lock_seconds(self, merchant_uid: str) -> int:
        ttl = int(await self.redis.ttl(self._lock_key(merchant_uid)))
        return max(ttl, 0)

    async def ensure_unlocked(self, merchant_uid: str) -> None:
        if remaining := await self.merchant_lock_seconds(merchant_uid):
            raise _locked(remaining)

    async def lock_merchant(self, merchant_uid: str) -> int:
        await self.redis.set(self._lock_key(merchant_uid), 1, ex=self.settings.lock_seconds)
        return self.settings.lock_seconds

    async def pricefeed_slot(self, merchant_uid: str, changes: int) -> Reservation:
        """Wait for the merchant's next pricefeed slot, then — right before the send — check the
        lock and reserve `changes` in the rolling budget (all or nothing)."""
        await self.ensure_unlocked(merchant_uid)  # no point queueing for a locked account
        await self._space(f"{_PREFIX}:pricefeed:{merchant_uid}", self.settings.pricefeed_per_second)
        reservation = Reservation(merchant_uid, f"{secrets.token_hex(6)}:{changes}")
        keys = (self._lock_key(merchant_uid), self._changes_key(merchant_uid))
        limit, window_ms = (
            self.settings.pricefeed_changes_per_window,
            self.settings.pricefeed_window_seconds * 1000,
        )
        args = (str(self._now_ms()), str(window_ms), str(limit), str(changes), reservation.member)
        verdict, wait_ms = await self.redis.eval(_CHANGES, 2, *keys, *args)  # type: ignore[misc]
        if int(verdict) == 1:
            raise _locked(math.ceil(int(wait_ms) / 1000))
        if int(verdict) == 2:
            raise self.over_budget(math.ceil(int(wait_ms) / 1000))
        return reservation

    async def release(self, reservation: Reservation) -> None:
        """Kaspi refused the send: its changes were not made, so they use no budget."""
        await self.redis.zrem(self._changes_key(reservation.merchant_uid), reservation.member)

    async def _taken(self, merchant_uid: str) -> list[tuple[float, int]]:
        """(send time in ms, changes) still in the rolling window, oldest first."""
        since = self._now_ms() - self.settings.pricefeed_window_seconds * 1000
        rows = await self.redis.zrangebyscore(self._changes_key(merchant_uid), since, "+inf", withscores=True)
        return [(score, int(member.rsplit(b":", 1)[-1])) for member, score in rows]

    async def changes_left(self, merchant_uid: str) -> int:
        """How many changes fit in the budget now (a batch checks before sending anything)."""
        used = sum(n for _, n in await self._taken(merchant_uid))
        return max(self.settings.pricefeed_changes_per_window - used, 0)

    async def changes_wait(self, merchant_uid: str, changes: int) -> int:
        """Seconds until `changes` more fit in the budget (as the window rolls on)."""
        taken = await self._taken(merchant_uid)
        free = self.settings.pricefeed_changes_per_window - sum(n for _, n in taken)
        if free >= changes:
            return 0
        window_ms = self.settings.pricefeed_window_seconds * 1000
        for at, n in taken:
            free += n
            if free >= changes:
                return max(math.ceil((at + window_ms - self._now_ms()) / 1000), 1)
        return self.settings.pricefeed_window_seconds  # more than the whole budget

    def over_budget(self, retry_after: int) -> KaspiRateLimited:
        limit, window = self.settings.pricefeed_changes_per_window, self.settings.pricefeed_window_seconds
        return KaspiRateLimited(
            f"At most {limit} Kaspi changes per {window // 60} minutes per store", retry_after=retry_after
        )

    async def cabinet_slot(self, merchant_uid: str, *, during_lock: bool = False) -> None:
        """Reads of the cabinet: paced too, and not while the account is locked — except the
        session probe (`during_lock`), which Kaspi's pricefeed lock does not cover."""
        if not during_lock:
            await self.ensure_unlocked(merchant_uid)
        await self._space(f"{_PREFIX}:cabinet:{merchant_uid}", self.settings.cabinet_per_second)
        if not during_lock:
            await self.ensure_unlocked(merchant_uid)

    # --- storefront (per outgoing IP) ----------------------------------------------------------
    async def storefront_slot(self, ip_key: str) -> None:
        """Wait for the IP's next slot; its cool-down is checked before and right after the wait."""
        await self.ensure_not_cooling(ip_key)
        per_second = self.settings.storefront_per_second
        await self._space(f"{_PREFIX}:storefront:{ip_key}", per_second)
        await self._window(f"{_PREFIX}:storefront-window:{ip_key}", per_second)
        await self.ensure_not_cooling(ip_key)

    async def ensure_not_cooling(self, ip_key: str) -> None:
        cooldown = int(await self.redis.pttl(cooldown_key(ip_key)))
        if cooldown > 0:
            raise KaspiCoolingDown(
                "Kaspi's storefront refused this IP a moment ago; try again shortly",
                retry_after=math.ceil(cooldown / 1000),
            )

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
        """Kaspi refused this IP: every caller leaves it alone (a request now would prolong the ban)."""
        seconds = self.settings.storefront_cooldown_seconds
        await self.redis.set(cooldown_key(ip_key), 1, ex=seconds)
        return seconds


def cooldown_key(ip_key: str) -> str:
    """The one storefront cool-down of an outgoing IP ("proxy-{id}" or "direct")."""
    return f"{_PREFIX}:storefront-cooldown:{ip_key}"


def _locked(seconds: int) -> KaspiStoreLocked:
    return KaspiStoreLocked(
        f"Kaspi locked this store after too many requests; it is left alone for {seconds} s",
        retry_after=seconds,
    )


class CodeFlood:
    """A store's `MFA_SEND_FLOOD` break: asking Kaspi for a code during it only earns a fresh
    break, so it is remembered here and the wait answered locally."""

    def __init__(self, redis: Redis, store_id: int) -> None:
        self.redis = redis
        self.key = f"{_PREFIX}:code-flood:{store_id}"

    async def ensure_over(self) -> None:
        if (left := int(await self.redis.ttl(self.key))) > 0:
            raise KaspiFlood(
                f"Kaspi sent too many codes; wait {left} s before asking again", retry_after=left
            )

    async def remember(self, seconds: int) -> None:
        await self.redis.set(self.key, 1, ex=max(seconds, 1))


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
