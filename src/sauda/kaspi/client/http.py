"""What every Kaspi client shares: the real headers, a cookie jar that can be stored, defensive
parsing (HTML instead of JSON is a bot wall, never a crash) and retries with backoff."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from sauda.config import KaspiSettings
from sauda.kaspi.client.deadline import bounded
from sauda.kaspi.client.errors import KaspiBlocked, KaspiError, KaspiUnavailable

T = TypeVar("T")
StoredCookies = list[dict[str, str]]


def browser_headers(settings: KaspiSettings) -> dict[str, str]:
    return {
        "User-Agent": settings.user_agent,
        "Accept": "application/json, text/plain, */*",
        "Accept-Language": "ru-RU,ru;q=0.9",
        "Origin": settings.origin,
        "Referer": settings.referer,
    }


def new_http(
    settings: KaspiSettings,
    *,
    proxy: str | None = None,
    cookies: httpx.Cookies | None = None,
    headers: dict[str, str] | None = None,
    follow_redirects: bool = False,
) -> httpx.AsyncClient:
    timeout = httpx.Timeout(settings.timeout_seconds, connect=settings.connect_timeout_seconds)
    return httpx.AsyncClient(
        headers=browser_headers(settings) | (headers or {}),
        cookies=cookies,
        timeout=timeout,
        proxy=proxy or settings.proxy_url,
        follow_redirects=follow_redirects,
    )


def dump_cookies(jar: httpx.Cookies) -> StoredCookies:
    return [{"name": c.name, "value": c.value or "", "domain": c.domain, "path": c.path} for c in jar.jar]


def load_cookies(stored: StoredCookies) -> httpx.Cookies:
    jar = httpx.Cookies()
    for c in stored:
        jar.set(c["name"], c["value"], domain=c.get("domain", "").lstrip("."), path=c.get("path") or "/")
    return jar


def is_html(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "")
    return "html" in kind or response.text.lstrip()[:1] == "<"


def json_body(response: httpx.Response, what: str) -> Any:
    """The JSON of a successful answer; HTML or garbage means a bot wall, not a crash."""
    try:
        return response.json()
    except ValueError as exc:
        raise KaspiBlocked(f"Kaspi answered {what} with a page instead of data (bot protection?)") from exc


def check_transient(response: httpx.Response, what: str) -> None:
    if response.status_code >= 500:
        raise KaspiUnavailable(f"Kaspi {what}: server error {response.status_code}")
    if response.status_code in (403, 429) and is_html(response):
        raise KaspiBlocked(f"Kaspi {what}: refused by bot protection ({response.status_code})")


async def call_with_retries(settings: KaspiSettings, send: Callable[[], Awaitable[T]], what: str) -> T:
    """`send` with backoff and jitter on timeouts, connection errors and 5xx (KaspiUnavailable),
    every attempt and wait within an API request's time budget."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(max(settings.retries, 1)),
        wait=wait_exponential_jitter(multiplier=settings.retry_base_seconds, max=10),
        retry=retry_if_exception_type(KaspiUnavailable),
        reraise=True,
    )
    async with bounded():
        async for attempt in retrying:
            with attempt:
                try:
                    return await send()
                except httpx.TimeoutException as exc:
                    raise KaspiUnavailable(f"Kaspi {what}: no answer in time") from exc
                except httpx.TransportError as exc:
                    raise KaspiUnavailable(f"Kaspi {what}: connection failed ({type(exc).__name__})") from exc
    raise KaspiError(f"Kaspi {what}: not attempted")  # pragma: no cover - tenacity always runs once
