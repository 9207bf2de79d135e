"""Failed-login limits per account and per client IP, counted in Redis fixed windows."""

import hashlib

from redis.asyncio import Redis

from sauda.config import AuthSettings
from sauda.errors import TooManyRequests


class LoginLimiter:
    def __init__(self, redis: Redis, settings: AuthSettings) -> None:
        self.redis = redis
        self.settings = settings

    def _keys(self, email: str, ip: str) -> list[tuple[str, int]]:
        account = hashlib.sha256(email.lower().encode()).hexdigest()[:32]
        return [
            (f"sauda:login:account:{account}", self.settings.login_max_failures_per_account),
            (f"sauda:login:ip:{ip}", self.settings.login_max_failures_per_ip),
        ]

    async def check(self, email: str, ip: str) -> None:
        for key, limit in self._keys(email, ip):
            failures = int(await self.redis.get(key) or 0)
            if failures >= limit:
                retry_after = max(int(await self.redis.ttl(key)), 1)
                raise TooManyRequests(
                    "Too many failed login attempts; try again later", retry_after=retry_after
                )

    async def record_failure(self, email: str, ip: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key, _ in self._keys(email, ip):
                pipe.incr(key)
                pipe.expire(key, self.settings.login_window_seconds, nx=True)
            await pipe.execute()

    async def reset_account(self, email: str) -> None:
        key, _ = self._keys(email, "-")[0]
        await self.redis.delete(key)
