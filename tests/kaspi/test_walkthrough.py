"""The README's "Try it without a Kaspi account" walkthrough (section "Kaspi"), step by step, with
the logins in `json` mode (no Chromium) and in `browser` mode (Chromium fills the login page):
against a sandbox started as `sauda kaspi-sandbox --code 123456`, switched over its control
endpoints as the README says."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser

from sauda.config import KaspiSettings
from sauda.sandboxes.kaspi import SandboxState, create_sandbox, demo_seed
from tests.clock import ForwardClock
from tests.conftest import RunWorker
from tests.factories import Factory
from tests.servers import serve

EMAIL, PASSWORD, PHONE, CODE = "merchant@sandbox.kaspi", "sandbox-pass-1", "+7 701 234 56 78", "123456"


@pytest.fixture(params=["json", pytest.param("browser", marks=pytest.mark.browser)])
async def demo_sandbox(
    request: pytest.FixtureRequest, kaspi_settings: KaspiSettings, kaspi_browser: Browser
) -> AsyncIterator[httpx.AsyncClient]:
    """`sauda kaspi-sandbox --code 123456` (150 offers, 30 archived), Sauda's three URLs set to it
    and `SAUDA_KASPI__LOGIN_MODE=json`; yields a client of its control endpoints."""
    state = SandboxState(demo_seed(offers=150, archived=150 // 5))
    state.fixed_code = CODE
    async with serve(create_sandbox(state)) as url:
        kaspi_settings.auth_url = f"{url}/idmc"
        kaspi_settings.cabinet_url = f"{url}/mc"
        kaspi_settings.storefront_url = f"{url}/shop"
        kaspi_settings.login_mode = request.param  # the browser mode uses `kaspi_browser`
        async with httpx.AsyncClient(base_url=url) as control:
            yield control


async def test_readme_kaspi_walkthrough(
    client: httpx.AsyncClient,
    factory: Factory,
    demo_sandbox: httpx.AsyncClient,
    run_worker: RunWorker,
    clock: ForwardClock,
) -> None:
    headers = await factory.headers(await factory.admin())
    await factory.company()

    async def call(method: str, path: str, json: Any = None, **params: Any) -> httpx.Response:
        return await client.request(method, f"/api/v1{path}", json=json, params=params, headers=headers)

    # 1. a store of a company
    company_id = (await call("GET", "/companies")).json()["items"][0]["id"]
    created = await call("POST", "/kaspi/stores", {"name": "Мой магазин", "company_id": company_id})
    assert created.status_code == 201, created.text
    store = f"/kaspi/stores/{created.json()['id']}"

    # 2. by email and password ...
    login = {"email": EMAIL, "password": PASSWORD, "remember_credentials": True}
    done = await call("POST", f"{store}/login", login)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "logged_in"
    # ... with an e-mailed code when the sandbox asks for one ...
    assert (await demo_sandbox.post("/_sandbox/faults", json={"code_required": True})).status_code == 200
    asked = await call("POST", f"{store}/login", login)
    assert asked.status_code == 200, asked.text
    assert (asked.json()["status"], asked.json()["channel"]) == ("code_required", "email")
    assert (await demo_sandbox.get("/_sandbox/codes")).json()[EMAIL] == CODE
    coded = await call("POST", f"{store}/login/code", {"code": CODE})
    assert coded.status_code == 200, coded.text
    assert coded.json()["status"] == "logged_in"
    # ... and by phone
    sms = await call("POST", f"{store}/login/sms/start", {"phone": PHONE})
    assert sms.status_code == 200, sms.text
    assert (sms.json()["status"], sms.json()["channel"]) == ("code_required", "phone")
    verified = await call("POST", f"{store}/login/sms/verify", {"code": CODE})
    assert verified.status_code == 200, verified.text
    assert verified.json()["store"]["status"] == "active"
    assert verified.json()["store"]["has_credentials"] is True

    # 3. sync, poll the job, read the offers
    async def sync() -> None:
        started = await call("POST", f"{store}/sync")
        assert started.status_code == 202, started.text
        await run_worker()
        job = (await call("GET", f"/jobs/{started.json()['job_id']}")).json()
        assert job["status"] == "succeeded", job

    await sync()
    store_id = created.json()["id"]
    assert (await call("GET", "/kaspi/offers", store_id=store_id)).json()["total"] == 150
    assert (await call("GET", "/kaspi/offers", store_id=store_id, state="archived")).json()["total"] == 30

    # 4. competitors, a price, and Kaspi applying it a little later
    rivals = await call("GET", "/kaspi/products/113744000/offers")
    assert rivals.status_code == 200, rivals.text
    assert rivals.json()["offers"]
    offer = (await call("GET", "/kaspi/offers", store_id=store_id, master_sku="113744000")).json()["items"][0]
    price = int(offer["price"]) - 100  # "the offer's price − 100", as the README says
    pushed = await call("POST", f"/kaspi/offers/{offer['id']}/price", {"price": price})
    assert pushed.status_code == 202, pushed.text
    await clock.advance(5)
    await sync()
    assert (await call("GET", f"/kaspi/offers/{offer['id']}")).json()["price"] == price
