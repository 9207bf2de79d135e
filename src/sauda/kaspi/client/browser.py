"""Logging in the way a person does: Playwright drives Chromium through the login page
(`#user_email_field` → `#password_field`, or `#phone_tab` → `#user_phone_field`), as the seed
did. Each login opens a fresh browser context and closes it before returning: a pending code
step keeps only the cookies, and `JsonLogin` finishes it in whatever process gets the code.

The outcome of each step is read from the page's own `/api/p/login` answer (error codes, not
the wording of the message) and, for success, from the cabinet's `nav.navbar`.
"""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Response as PageResponse

from sauda.config import Settings
from sauda.kaspi.client.deadline import bounded
from sauda.kaspi.client.errors import KaspiBlocked, KaspiError, KaspiUnavailable
from sauda.kaspi.client.http import StoredCookies
from sauda.kaspi.client.login import LoginStep, login_error, phone_mask

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


class BrowserProvider(Protocol):
    def context(self, settings: Settings) -> AbstractAsyncContextManager[BrowserContext]: ...


class LaunchChromium:
    """A Chromium per login: nothing stays open between requests."""

    @asynccontextmanager
    async def context(self, settings: Settings) -> AsyncIterator[BrowserContext]:
        proxy = {"server": settings.kaspi.proxy_url} if settings.kaspi.proxy_url else None
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=settings.browser.chromium_path,
                headless=settings.browser.headless,
                args=CHROMIUM_ARGS,
                proxy=proxy,  # type: ignore[arg-type]
            )
            try:
                async with _context(browser, settings) as context:
                    yield context
            finally:
                await browser.close()


class SharedBrowser:
    """An already running browser (tests, a long-lived worker): a fresh context per login."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser

    def context(self, settings: Settings) -> AbstractAsyncContextManager[BrowserContext]:
        return _context(self.browser, settings)


@asynccontextmanager
async def _context(browser: Browser, settings: Settings) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(user_agent=settings.kaspi.user_agent, locale="ru-RU")
    context.set_default_timeout(settings.kaspi.browser_timeout_seconds * 1000)
    try:
        yield context
    finally:
        await context.close()


class BrowserLogin:
    def __init__(self, settings: Settings, provider: BrowserProvider) -> None:
        self.settings = settings
        self.provider = provider
        self.login_url = f"{settings.kaspi.auth_url.rstrip('/')}/login"

    async def password(self, email: str, password: str) -> LoginStep:
        async with self._page() as (context, page):
            await page.fill("#user_email_field", email)
            await _click_primary(page)
            await page.fill("#password_field", password)
            await _submit(page)
            cabinet, code_field = page.locator("nav.navbar"), page.locator("#sms_code_field:visible")
            await cabinet.or_(code_field).first.wait_for()
            return LoginStep(await cabinet.count() > 0, await _cookies(context))

    async def phone(self, phone: str) -> LoginStep:
        masked = phone_mask(phone)
        async with self._page() as (context, page):
            await page.click("#phone_tab")
            await page.fill("#user_phone_field", masked)
            await _submit(page)
            await page.locator("input[name=security-code]").wait_for(state="visible")
            return LoginStep(False, await _cookies(context))

    @asynccontextmanager
    async def _page(self) -> AsyncIterator[tuple[BrowserContext, Page]]:
        try:
            async with bounded(), self.provider.context(self.settings) as context:
                page = await context.new_page()
                response = await page.goto(self.login_url)
                if response is None or response.status >= 400:
                    status = response.status if response else "none"
                    raise KaspiBlocked(f"Kaspi's login page refused the browser ({status})")
                if await page.locator("#user_email_field").count() == 0:
                    raise KaspiBlocked("Kaspi showed a page without the login form (bot protection?)")
                yield context, page
        except KaspiError:
            raise
        except PlaywrightError as exc:
            raise KaspiUnavailable(f"Browser login failed: {exc.message.splitlines()[0]}") from exc


async def _click_primary(page: Page) -> None:
    await page.locator(".button.is-primary:visible").first.click()


async def _submit(page: Page) -> None:
    """Click the visible primary button; a refused login step raises with Kaspi's error code.
    (A successful answer's body may be gone already: the page navigates on at once.)"""
    async with page.expect_response(lambda r: "/api/p/login" in r.url) as info:
        await _click_primary(page)
    response: PageResponse = await info.value
    is_json = "json" in (await response.all_headers()).get("content-type", "")
    if response.status == 200 and is_json:
        return
    if response.status == 200:
        raise KaspiBlocked("Kaspi's login answered with a page instead of data (bot protection?)")
    body: Any = None
    if is_json:
        try:
            body = await response.json()
        except (PlaywrightError, ValueError):
            body = None
    raise login_error(response.status, body, first_step=True)  # code steps go through JsonLogin


async def _cookies(context: BrowserContext) -> StoredCookies:
    return [
        {"name": c["name"], "value": c["value"], "domain": c["domain"], "path": c["path"]}
        for c in await context.cookies()
        if "name" in c and "value" in c and "domain" in c and "path" in c
    ]
