"""The proxy pool through real (local) forward proxies: round-robin, a dead proxy and a 403 are
benched and the lookups switch proxy, a benched proxy comes back, credentials stay encrypted."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from sauda.config import KaspiSettings
from sauda.kaspi.models import KaspiProxy
from sauda.sandboxes.kaspi import SandboxState
from tests.clock import ForwardClock
from tests.conftest import RunWorker
from tests.factories import Factory
from tests.kaspi.conftest import Kaspi
from tests.kaspi.forward_proxy import ForwardProxy
from tests.kaspi.test_demper import IRON, KETTLE, PHONE, _enable, _run, _store


@pytest.fixture
async def proxies() -> AsyncIterator[list[ForwardProxy]]:
    started = [
        await ForwardProxy("10.0.0.1", user="u1", password="s3cret-pass").start(),
        await ForwardProxy("10.0.0.2").start(),
    ]
    yield started
    for proxy in started:
        await proxy.stop()


async def _register(kaspi: Kaspi, proxies: list[ForwardProxy]) -> list[dict[str, Any]]:
    made = []
    for proxy in proxies:
        response = await kaspi.call("POST", "/proxies", json={"url": proxy.url})
        assert response.status_code == 201, response.text
        made.append(response.json())
    return made


async def _health(kaspi: Kaspi) -> dict[str, dict[str, Any]]:
    response = await kaspi.call("GET", "/proxies")
    assert response.status_code == 200
    return {p["label"]: p for p in response.json()}


async def test_round_robin_bench_and_recovery(
    kaspi: Kaspi,
    sandbox: SandboxState,
    run_worker: RunWorker,
    proxies: list[ForwardProxy],
    kaspi_settings: KaspiSettings,
    clock: ForwardClock,
) -> None:
    kaspi_settings.proxy_bench_seconds = 60
    kaspi_settings.retries = 1
    first = proxies[0]
    store = await _store(kaspi, run_worker, sandbox)
    registered = await _register(kaspi, proxies)
    assert [p["label"] for p in registered] == [f"http://127.0.0.1:{p.port}" for p in proxies]
    for master in (PHONE, KETTLE, IRON):
        await _enable(kaspi, master, floor=100, ceiling=20000)

    # round-robin: both proxies carry lookups, each seen by Kaspi as its own IP
    result = await _run(kaspi, store["id"], run_worker)
    assert result["checked"] == 3
    assert sandbox.storefront_by_ip["10.0.0.1"] >= 1
    assert sandbox.storefront_by_ip["10.0.0.2"] >= 1
    assert "127.0.0.1" not in sandbox.storefront_by_ip  # nothing went direct
    assert first.refused_auth == 0  # the decrypted credentials reached the proxy

    # the first proxy dies: it is benched, every lookup goes through the second
    first.broken = True
    before = dict(sandbox.storefront_by_ip)
    result = await _run(kaspi, store["id"], run_worker)
    assert (result["checked"], result["failed"]) == (3, 0)
    assert sandbox.storefront_by_ip["10.0.0.2"] - before["10.0.0.2"] == 3
    health = await _health(kaspi)
    dead = health[registered[0]["label"]]
    assert dead["failures"] >= 1
    assert 55 <= dead["benched_for"] <= 60
    assert dead["last_error"]
    assert health[registered[1]["label"]]["successes"] >= 4

    # a 403 on the second (its "IP" is banned for a while): benched too, lookups switch back
    first.broken = False
    await clock.advance(61)  # the first one's bench is over
    assert (await _health(kaspi))[registered[0]["label"]]["benched_for"] == 0
    sandbox.block_storefront("10.0.0.2", seconds=30)
    before = dict(sandbox.storefront_by_ip)
    result = await _run(kaspi, store["id"], run_worker)
    assert (result["checked"], result["failed"]) == (3, 0)
    assert result["refused"] >= 1
    assert sandbox.storefront_by_ip["10.0.0.1"] - before["10.0.0.1"] == 3
    health = await _health(kaspi)
    assert health[registered[1]["label"]]["benched_for"] > 0
    unbenched = await kaspi.call("POST", f"/proxies/{registered[1]['id']}/unbench")
    assert unbenched.json()["benched_for"] == 0


async def test_every_proxy_down_means_a_failed_check_not_a_crash(
    kaspi: Kaspi,
    sandbox: SandboxState,
    run_worker: RunWorker,
    proxies: list[ForwardProxy],
    kaspi_settings: KaspiSettings,
) -> None:
    kaspi_settings.retries = 1
    kaspi_settings.proxy_bench_seconds = 60
    store = await _store(kaspi, run_worker, sandbox)
    await _register(kaspi, proxies)
    await _enable(kaspi, PHONE)
    for proxy in proxies:
        proxy.broken = True
    result = await _run(kaspi, store["id"], run_worker)
    assert (result["checked"], result["failed"]) == (0, 1)
    status = (await kaspi.call("GET", f"/stores/{store['id']}/demper/status")).json()
    assert status["due_offers"] == 0  # retried a couple of minutes later, not in a loop


async def test_proxy_credentials_are_encrypted_and_scoped(
    kaspi: Kaspi, factory: Factory, proxies: list[ForwardProxy]
) -> None:
    made = (await _register(kaspi, proxies[:1]))[0]
    assert "s3cret" not in str(made)
    async with factory.sessionmaker() as session:
        row = (await session.scalars(select(KaspiProxy))).one()
    assert "s3cret" not in row.url_encrypted
    assert row.company_id == kaspi.company_id
    bad = await kaspi.call("POST", "/proxies", json={"url": "socks9://x"})
    assert bad.status_code == 422
    other = await factory.company()
    stranger = await factory.headers(await factory.user(other))
    seen = await kaspi.client.get("/api/v1/kaspi/proxies", headers=stranger)
    assert seen.json() == []
    hidden = await kaspi.client.patch(
        f"/api/v1/kaspi/proxies/{made['id']}", headers=stranger, json={"enabled": False}
    )
    assert hidden.status_code == 404
    off = await kaspi.call("PATCH", f"/proxies/{made['id']}", json={"enabled": False})
    assert off.json()["enabled"] is False
    assert (await kaspi.call("DELETE", f"/proxies/{made['id']}")).status_code == 204
