"""The Kaspi views of the admin panel: why a store needs a login is visible, secrets never are."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.kaspi.models import KaspiStore
from sauda.sandboxes.kaspi import SandboxState
from tests.conftest import RunWorker
from tests.factories import PASSWORD, Factory
from tests.kaspi.conftest import Kaspi


async def _admin_client(client: httpx.AsyncClient, factory: Factory) -> httpx.AsyncClient:
    admin = await factory.admin()
    response = await client.post("/admin/login", data={"username": admin.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


async def test_store_views_show_status_not_secrets(
    kaspi: Kaspi,
    client: httpx.AsyncClient,
    factory: Factory,
    sandbox: SandboxState,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    store = await kaspi.logged_in_store(remember_credentials=True)
    sandbox.expire_sessions()
    sandbox.faults.wrong_password = True
    await kaspi.call("POST", f"/stores/{store['id']}/session/check")
    async with sessionmaker() as session:
        row = await session.get_one(KaspiStore, store["id"])
    assert row.session_encrypted

    admin = await _admin_client(client, factory)
    listing = await admin.get("/admin/kaspi-store/list")
    assert listing.status_code == 200
    assert "needs_login" in listing.text
    assert "Automatic re-login failed" in listing.text
    details = await admin.get(f"/admin/kaspi-store/details/{store['id']}")
    assert details.status_code == 200
    assert row.session_encrypted not in details.text
    export = await admin.get("/admin/kaspi-store/export/csv")
    assert export.status_code == 200
    assert row.session_encrypted not in export.text

    edit = {"name": "Переименован", "city_id": "710000000", "sync_enabled": "y", "save": "Save"}
    assert (await admin.post(f"/admin/kaspi-store/edit/{store['id']}", data=edit)).status_code == 302
    bad = await admin.post(f"/admin/kaspi-store/edit/{store['id']}", data=edit | {"city_id": "Astana"})
    assert "city_id" in bad.text
    async with sessionmaker() as session:
        row = await session.get_one(KaspiStore, store["id"])
    assert (row.name, row.city_id) == ("Переименован", "710000000")
    assert (await admin.get("/admin/kaspi-offer/list")).status_code == 200


async def test_sync_now_action_starts_a_job(
    kaspi: Kaspi, client: httpx.AsyncClient, factory: Factory, run_worker: RunWorker
) -> None:
    store = await kaspi.logged_in_store()
    admin = await _admin_client(client, factory)
    response = await admin.get("/admin/kaspi-store/action/sync", params={"pks": str(store["id"])})
    assert response.status_code == 302
    await run_worker()
    assert (await kaspi.call("GET", "/offers")).json()["total"] == 45
    cross_site = await admin.get(
        "/admin/kaspi-store/action/sync",
        params={"pks": str(store["id"])},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403
