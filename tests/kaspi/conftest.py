"""The Kaspi sandbox served over real HTTP (Chromium and the proxies reach it), settings pointed
at it, and the session's Chromium for the API's browser logins."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser

from sauda.config import KaspiSettings, Settings
from sauda.kaspi.client.browser import SharedBrowser
from sauda.kaspi.models import KaspiStore
from sauda.sandboxes.kaspi import SandboxState, create_sandbox, demo_seed
from tests.factories import Factory
from tests.servers import serve

EMAIL, PASSWORD, PHONE = "merchant@sandbox.kaspi", "sandbox-pass-1", "+7 701 234 56 78"
MASKED_PHONE = "+7 (701) 234-56-78"
UID = "30067228"


@pytest.fixture(scope="session")
def sandbox() -> SandboxState:
    return SandboxState(demo_seed(offers=45, archived=12))


@pytest.fixture(scope="session")
async def sandbox_url(sandbox: SandboxState) -> AsyncIterator[str]:
    async with serve(create_sandbox(sandbox)) as url:
        yield url


@pytest.fixture(autouse=True)
def kaspi_settings(settings: Settings, sandbox: SandboxState, sandbox_url: str) -> Iterator[KaspiSettings]:
    """Fresh sandbox and Kaspi settings for every test; tests may change either."""
    sandbox.reset()
    sandbox.limits.apply_delay_seconds = 0
    original = settings.kaspi
    settings.kaspi = KaspiSettings(
        auth_url=f"{sandbox_url}/idmc",
        cabinet_url=f"{sandbox_url}/mc",
        storefront_url=f"{sandbox_url}/shop",
        login_mode="json",
        timeout_seconds=5,
        connect_timeout_seconds=2,
        browser_timeout_seconds=10,
        retries=2,
        retry_base_seconds=0.01,
        pricefeed_per_second=20,
        storefront_per_second=50,
        cabinet_per_second=50,
        page_size=20,
    )
    yield settings.kaspi
    settings.kaspi = original


@pytest.fixture(scope="session")
def kaspi_browser(app: FastAPI, chromium: Browser) -> Iterator[Browser]:
    """The API's Kaspi logins use the session's Chromium instead of launching their own."""
    app.state.kaspi_browser = SharedBrowser(chromium)
    try:
        yield chromium
    finally:
        del app.state.kaspi_browser


class Kaspi:
    """The API calls the tests make, as one employee of one company."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str], company_id: int) -> None:
        self.client = client
        self.headers = headers
        self.company_id = company_id

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, f"/api/v1/kaspi{path}", headers=self.headers, **kwargs)

    async def new_store(self, **values: Any) -> dict[str, Any]:
        response = await self.call("POST", "/stores", json={"name": "Магазин на Kaspi"} | values)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def login(self, store_id: int, **body: Any) -> httpx.Response:
        data = {"email": EMAIL, "password": PASSWORD} | body
        return await self.call("POST", f"/stores/{store_id}/login", json=data)

    async def logged_in_store(self, **body: Any) -> dict[str, Any]:
        store = await self.new_store()
        response = await self.login(store["id"], **body)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "logged_in"
        result: dict[str, Any] = response.json()["store"]
        return result


@pytest.fixture
async def kaspi(client: httpx.AsyncClient, factory: Factory) -> Kaspi:
    company = await factory.company()
    user = await factory.user(company)
    return Kaspi(client, await factory.headers(user), company.id)


async def stored(factory: Factory, store_id: int) -> KaspiStore:
    async with factory.sessionmaker() as session:
        store = await session.get(KaspiStore, store_id)
        assert store is not None
        return store
