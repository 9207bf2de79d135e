"""The merchant cabinet (mc.shop.kaspi.kz): session probe, offers, pricefeed.

One client per store and call site, built with the store's cookies. It keeps Kaspi's limits
through `KaspiLimiter` (shared in Redis) and takes an optional proxy, so the pool of part 2 can
plug in. 401 → `KaspiSessionExpired` (the caller re-logs in), 429 → the account's pricefeed is
locked for the lock period and `KaspiStoreLocked`, HTML → `KaspiBlocked`, timeouts and 5xx are
retried. A pricefeed send that Kaspi refuses gives its changes back to the budget.
"""

from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from sauda.config import KaspiSettings
from sauda.kaspi.client.deadline import bounded
from sauda.kaspi.client.errors import (
    KaspiAccessDenied,
    KaspiError,
    KaspiNotFound,
    KaspiSessionExpired,
    KaspiStoreLocked,
    KaspiUnavailable,
)
from sauda.kaspi.client.http import (
    StoredCookies,
    call_with_retries,
    check_transient,
    dump_cookies,
    json_body,
    new_http,
)
from sauda.kaspi.client.ratelimit import KaspiLimiter


@dataclass(frozen=True)
class OffersPage:
    items: list[dict[str, Any]]
    total: int


class CabinetClient:
    def __init__(
        self,
        settings: KaspiSettings,
        *,
        cookies: httpx.Cookies,
        limiter: KaspiLimiter,
        merchant_uid: str | None = None,
        proxy: str | None = None,
    ) -> None:
        self.settings = settings
        self.base = settings.cabinet_url.rstrip("/")
        self.limiter = limiter
        self.merchant_uid = merchant_uid
        self.http = new_http(settings, proxy=proxy, cookies=cookies, headers={"x-auth-version": "3"})

    async def __aenter__(self) -> "CabinetClient":
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.http.aclose()

    def cookies(self) -> StoredCookies:
        return dump_cookies(self.http.cookies)

    @property
    def uid(self) -> str:
        if not self.merchant_uid:
            raise KaspiError("The store has no merchant id yet: log in first")
        return self.merchant_uid

    async def _request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        paced: bool = True,
        during_lock: bool = False,
        **kwargs: Any,
    ) -> Any:
        async def send() -> httpx.Response:
            response = await self.http.request(method, f"{self.base}{path}", **kwargs)
            check_transient(response, what)
            return response

        async with bounded():  # the wait for the slot counts against an API request's budget
            if self.merchant_uid and paced:
                await self.limiter.cabinet_slot(self.merchant_uid, during_lock=during_lock)
            response = await call_with_retries(self.settings, send, what)
        return await self._body(response, what)

    async def _body(self, response: httpx.Response, what: str) -> Any:
        status = response.status_code
        if status == 401:
            raise KaspiSessionExpired("The Kaspi session expired: log in again")
        if status == 429:
            seconds = await self.limiter.lock_merchant(self.uid) if self.merchant_uid else 60
            raise KaspiStoreLocked(
                f"Kaspi limited this store ({what}); it is left alone for {seconds} s", retry_after=seconds
            )
        if status == 403:
            raise KaspiAccessDenied(f"Kaspi refused {what} for this account")
        if status == 404:
            raise KaspiNotFound(f"Kaspi {what}: not found")
        if status >= 400:
            raise KaspiError(f"Kaspi {what}: unexpected answer {status}")
        return json_body(response, what)

    # --- session ------------------------------------------------------------------------------
    async def merchants(self) -> list[dict[str, Any]]:
        """`GET /s/m`: the merchants this session may act for; 401 when it is not valid. Not part
        of Kaspi's pricefeed lock: a login finished during the lock must still be probed."""
        body = await self._request("GET", "/s/m", "session check", during_lock=True)
        merchants = body.get("merchants") if isinstance(body, dict) else None
        found = [m for m in merchants or [] if isinstance(m, dict) and m.get("uid")]
        if not found:
            raise KaspiAccessDenied("The Kaspi account has no merchant cabinet (NO_MERCHANTS)")
        return found

    # --- offers -------------------------------------------------------------------------------
    async def offers_page(self, *, on_sale: bool, page: int, limit: int) -> OffersPage:
        params = {"m": self.uid, "p": page, "l": min(limit, 100), "a": "true" if on_sale else "false"}
        body = await self._request("GET", "/bff/offer-view/list", "offer list", params=params)
        if not isinstance(body, dict):
            raise KaspiError("Kaspi offer list: unexpected answer")
        items = [i for i in body.get("data") or [] if isinstance(i, dict) and i.get("sku")]
        total = body.get("total")
        return OffersPage(items, int(total) if isinstance(total, int | str) and str(total).isdigit() else 0)

    async def offer(self, sku: str) -> dict[str, Any] | None:
        """One offer as the cabinet shows it now; None when the cabinet no longer has it."""
        try:
            body = await self._request(
                "GET", "/bff/offer-view/details", "offer details", params={"m": self.uid, "s": sku}
            )
        except KaspiNotFound:
            return None
        return body if isinstance(body, dict) and body.get("sku") else None

    async def offer_count(self) -> dict[str, Any]:
        body = await self._request("GET", "/offers/api/v1/offer/count", "offer count", params={"m": self.uid})
        return body if isinstance(body, dict) else {}

    # --- pricefeed ----------------------------------------------------------------------------
    async def push(self, item: dict[str, Any]) -> str:
        """One offer's price/availability; Kaspi applies it a little later. Returns the upload id."""
        body = await self._upload("/pricefeed/upload/merchant/process", "price update", item, changes=1)
        if isinstance(body, dict) and body.get("id"):
            return str(body["id"])
        raise KaspiError("Kaspi accepted the price update without an upload id")

    async def push_batch(self, items: list[dict[str, Any]]) -> str | None:
        """Many offers at once. Kaspi's 200 without an `id` still took the batch (it has been seen
        to): None, and the next sync shows what was applied."""
        body = await self._upload(
            "/pricefeed/upload/merchant/process/process/batch", "batch update", items, changes=len(items)
        )
        return str(body["id"]) if isinstance(body, dict) and body.get("id") else None

    async def _upload(self, path: str, what: str, payload: Any, *, changes: int) -> Any:
        reservation = await self.limiter.pricefeed_slot(self.uid, changes)
        try:
            return await self._request("POST", path, what, paced=False, json=payload)
        except KaspiUnavailable:
            raise  # no answer: Kaspi may have taken it, so its changes stay counted
        except KaspiError:
            await self.limiter.release(reservation)
            raise
