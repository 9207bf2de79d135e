"""Everything a Kaspi operation needs from outside the database, in one object: settings, the
shared Redis (limits, login locks, pending logins) and a browser. The API builds it from the
app state, a job from its context; tests hand it a shared browser."""

import json
import shutil
from dataclasses import dataclass, field
from typing import Any, Literal

from redis.asyncio import Redis

from sauda.config import KaspiSettings, Settings
from sauda.kaspi.client.browser import BrowserLogin, BrowserProvider, LaunchChromium
from sauda.kaspi.client.cabinet import CabinetClient
from sauda.kaspi.client.errors import KaspiNeedsLogin
from sauda.kaspi.client.http import StoredCookies, load_cookies
from sauda.kaspi.client.login import JsonLogin
from sauda.kaspi.client.ratelimit import KaspiLimiter, LoginLock
from sauda.kaspi.client.storefront import StorefrontClient
from sauda.kaspi.models import KaspiStore
from sauda.security import decrypt_field, encrypt_field

_PENDING = "sauda:kaspi:pending-login:{}"
_OUTCOME = "sauda:kaspi:login-outcome:{}"


@dataclass
class KaspiGateway:
    settings: Settings
    redis: Redis
    browser: BrowserProvider = field(default_factory=LaunchChromium)

    @property
    def kaspi(self) -> KaspiSettings:
        return self.settings.kaspi

    @property
    def limiter(self) -> KaspiLimiter:
        return KaspiLimiter(self.redis, self.kaspi)

    def login_mode(self, requested: str | None) -> Literal["browser", "json"]:
        mode = requested or self.kaspi.login_mode
        if mode == "auto":
            return "browser" if shutil.which(self.settings.browser.chromium_path) else "json"
        return "browser" if mode == "browser" else "json"

    # --- secrets --------------------------------------------------------------------------------
    def encrypt(self, value: Any) -> str:
        return encrypt_field(self.settings.auth, json.dumps(value))

    def decrypt(self, token: str) -> Any:
        return json.loads(decrypt_field(self.settings.auth, token))

    def session_cookies(self, store: KaspiStore) -> StoredCookies:
        if store.session_encrypted is None:
            raise KaspiNeedsLogin(store.status_reason or "The store is not logged in to Kaspi yet")
        cookies: StoredCookies = self.decrypt(store.session_encrypted)
        return cookies

    # --- clients --------------------------------------------------------------------------------
    def cabinet(
        self, store: KaspiStore, cookies: StoredCookies | None = None, *, proxy: str | None = None
    ) -> CabinetClient:
        return CabinetClient(
            self.kaspi,
            cookies=load_cookies(cookies if cookies is not None else self.session_cookies(store)),
            limiter=self.limiter,
            merchant_uid=store.merchant_uid,
            proxy=proxy,
        )

    def storefront(self, *, proxy: str | None = None, ip_key: str | None = None) -> StorefrontClient:
        return StorefrontClient(self.kaspi, limiter=self.limiter, proxy=proxy, ip_key=ip_key)

    def json_login(self, cookies: StoredCookies | None = None, *, proxy: str | None = None) -> JsonLogin:
        return JsonLogin(self.kaspi, cookies=cookies, proxy=proxy)

    def browser_login(self) -> BrowserLogin:
        return BrowserLogin(self.settings, self.browser)

    # --- login coordination -------------------------------------------------------------------
    def login_lock(self, store_id: int) -> LoginLock:
        return LoginLock(self.redis, store_id, self.kaspi.login_lock_seconds)

    async def save_pending(self, store_id: int, pending: dict[str, Any]) -> int:
        ttl = self.kaspi.pending_login_seconds
        await self.redis.set(_PENDING.format(store_id), self.encrypt(pending), ex=ttl)
        return ttl

    async def load_pending(self, store_id: int) -> dict[str, Any] | None:
        raw = await self.redis.get(_PENDING.format(store_id))
        if raw is None:
            return None
        pending: dict[str, Any] = self.decrypt(raw.decode() if isinstance(raw, bytes) else raw)
        return pending

    async def pending_ttl(self, store_id: int) -> int:
        return max(int(await self.redis.ttl(_PENDING.format(store_id))), 0)

    async def share_outcome(self, store_id: int, outcome: dict[str, Any]) -> None:
        """How the store's latest login ended (`{"cookies": ...}` or `{"needs_login": reason}`),
        for jobs that met the same expired session: they take it instead of logging in again.
        Redis, not the row: the login's transaction may commit long after (a sync goes on first)."""
        ttl = self.kaspi.login_lock_seconds
        await self.redis.set(_OUTCOME.format(store_id), self.encrypt(outcome), ex=ttl)

    async def login_outcome(self, store_id: int) -> dict[str, Any] | None:
        raw = await self.redis.get(_OUTCOME.format(store_id))
        if raw is None:
            return None
        outcome: dict[str, Any] = self.decrypt(raw.decode() if isinstance(raw, bytes) else raw)
        return outcome

    async def forget_outcome(self, store_id: int) -> None:
        await self.redis.delete(_OUTCOME.format(store_id))

    async def keep_pending(self, store_id: int, pending: dict[str, Any]) -> None:
        """Store the pending login's new state (a rotated cookie) without extending its time."""
        await self.redis.set(_PENDING.format(store_id), self.encrypt(pending), xx=True, keepttl=True)

    async def drop_pending(self, store_id: int) -> None:
        await self.redis.delete(_PENDING.format(store_id))
