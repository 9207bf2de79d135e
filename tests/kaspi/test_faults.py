"""Kaspi misbehaving, end to end through the API: limits and locks, expired sessions, 5xx,
timeouts, HTML bot walls. The client must keep Kaspi's limits itself and never crash."""

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from sauda.config import KaspiSettings, Settings
from sauda.kaspi.client.ratelimit import LoginLock
from sauda.kaspi.stores import service
from sauda.kaspi.tasks import sync_kaspi_stores
from sauda.sandboxes.kaspi import SandboxState
from sauda.worker import cron_jobs
from tests.clock import ForwardClock
from tests.conftest import RunWorker
from tests.factories import Factory
from tests.kaspi.conftest import UID, Kaspi, stored


async def _synced_store(kaspi: Kaspi, run_worker: RunWorker, **login: Any) -> dict[str, Any]:
    store = await kaspi.logged_in_store(**login)
    response = await kaspi.call("POST", f"/stores/{store['id']}/sync")
    assert response.status_code == 202
    await run_worker()
    return store


async def _offer_ids(kaspi: Kaspi, n: int) -> list[int]:
    response = await kaspi.call("GET", "/offers", params={"limit": n, "state": "on_sale"})
    return [o["id"] for o in response.json()["items"]]


async def _push(kaspi: Kaspi, offer_id: int, price: int = 1990) -> Any:
    body = {"price": price, "confirm": True}  # far from the demo prices: confirmed on purpose
    return await kaspi.call("POST", f"/offers/{offer_id}/price", json=body)


async def _job(kaspi: Kaspi, job_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (await kaspi.client.get(f"/api/v1/jobs/{job_id}", headers=kaspi.headers)).json()
    return body


# --- pricefeed: per-merchant rate, 429 and the lock ----------------------------------------------


async def test_pricefeed_rate_is_kept_across_concurrent_requests(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, kaspi_settings: KaspiSettings
) -> None:
    await _synced_store(kaspi, run_worker)
    ids = await _offer_ids(kaspi, 6)
    kaspi_settings.pricefeed_per_second = 2  # Kaspi (the sandbox) locks above 3 per second
    responses = await asyncio.gather(*(_push(kaspi, i) for i in ids))
    assert [r.status_code for r in responses] == [202] * 6
    assert len(sandbox.pricefeed) == 6
    assert sandbox.locked_until == {}


async def test_a_429_locks_the_store_for_the_lock_period(
    kaspi: Kaspi,
    sandbox: SandboxState,
    run_worker: RunWorker,
    kaspi_settings: KaspiSettings,
    redis: Redis,
    factory: Factory,
) -> None:
    store = await _synced_store(kaspi, run_worker)
    ids = await _offer_ids(kaspi, 6)
    kaspi_settings.pricefeed_per_second = 1000  # as if the limiter were not there
    sandbox.limits.pricefeed_per_second = 1  # a strict Kaspi, so a slow machine still trips it
    statuses = [(await _push(kaspi, i)).status_code for i in ids[:5]]
    assert statuses[0] == 202
    assert 429 in statuses
    assert all(s == 429 for s in statuses[statuses.index(429) :])
    locked = await _push(kaspi, ids[5])
    assert locked.status_code == 429
    assert locked.json()["error"] == "kaspi_store_locked"
    assert int(locked.headers["Retry-After"]) > 1700
    assert 1700 < await redis.ttl(f"sauda:kaspi:lock:{UID}") <= 1800
    after = (await kaspi.call("GET", f"/stores/{store['id']}")).json()
    assert after["locked_until"] is not None
    # the locked store is left alone: nothing more reaches Kaspi, not even reads
    before = sandbox.requests["cabinet"]
    assert (await _push(kaspi, ids[0])).status_code == 429
    assert (await kaspi.call("POST", "/offers/batch-disable", json={"offer_ids": ids})).status_code == 429
    assert sandbox.requests["cabinet"] == before
    assert (await stored(factory, store["id"])).locked_until is not None


async def test_changes_per_window_are_capped(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, kaspi_settings: KaspiSettings
) -> None:
    await _synced_store(kaspi, run_worker)
    ids = await _offer_ids(kaspi, 4)
    kaspi_settings.pricefeed_changes_per_window = 3
    statuses = [(await _push(kaspi, i)).status_code for i in ids]
    assert statuses == [202, 202, 202, 429]
    refused = await _push(kaspi, ids[0])
    assert refused.json()["error"] == "kaspi_rate_limited"
    assert "3 Kaspi changes per 30 minutes" in refused.json()["detail"]
    assert len(sandbox.pricefeed) == 3


# --- storefront: per-IP rate and 403 bursts ------------------------------------------------------


async def test_storefront_rate_is_kept(
    kaspi: Kaspi, sandbox: SandboxState, kaspi_settings: KaspiSettings
) -> None:
    sandbox.limits.storefront_per_second = 4
    kaspi_settings.storefront_per_second = 2
    responses = await asyncio.gather(*(kaspi.call("GET", "/products/113744000/offers") for _ in range(6)))
    assert [r.status_code for r in responses] == [200] * 6


async def test_storefront_403_burst_cools_down(
    kaspi: Kaspi, sandbox: SandboxState, kaspi_settings: KaspiSettings
) -> None:
    sandbox.limits.storefront_per_second = 1
    kaspi_settings.storefront_per_second = 1000
    responses = [await kaspi.call("GET", "/products/113744000/offers") for _ in range(4)]
    statuses = [r.status_code for r in responses]
    assert statuses[0] == 200
    assert 503 in statuses  # Kaspi's own 403
    banned = responses[statuses.index(503)]
    assert banned.json()["error"] == "kaspi_blocked"
    assert banned.headers["Retry-After"] == str(kaspi_settings.storefront_cooldown_seconds)
    assert all(s == 429 for s in statuses[statuses.index(503) + 1 :])
    before = sandbox.requests["storefront"]
    refused = await kaspi.call("GET", "/products/113744000/offers")
    assert refused.json()["error"] == "kaspi_cooling_down"
    assert 0 < int(refused.headers["Retry-After"]) <= kaspi_settings.storefront_cooldown_seconds
    assert sandbox.requests["storefront"] == before  # cooling down: Kaspi is not asked


# --- sessions ------------------------------------------------------------------------------------


async def test_price_push_renews_an_expired_session(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    await _synced_store(kaspi, run_worker, remember_credentials=True)
    offer_id = (await _offer_ids(kaspi, 1))[0]
    sandbox.expire_sessions()
    response = await _push(kaspi, offer_id)
    assert response.status_code == 202, response.text
    assert sandbox.logins[UID] == 2
    assert len(sandbox.pricefeed) == 1


async def test_expired_session_without_password_stops_the_store(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    store = await _synced_store(kaspi, run_worker)
    offer_id = (await _offer_ids(kaspi, 1))[0]
    sandbox.expire_sessions()
    response = await _push(kaspi, offer_id)
    assert response.status_code == 409
    assert response.json()["error"] == "kaspi_needs_login"
    after = (await kaspi.call("GET", f"/stores/{store['id']}")).json()
    assert after["status"] == "needs_login"
    assert "expired" in after["status_reason"]
    # and every later call says so, and what to do, without asking Kaspi
    before = sandbox.requests["cabinet"]
    refused = (await _push(kaspi, offer_id)).json()
    assert refused["error"] == "kaspi_needs_login"
    assert f"POST /api/v1/kaspi/stores/{store['id']}/login" in refused["detail"]
    assert sandbox.requests["cabinet"] == before


async def test_sync_job_marks_needs_login(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, factory: Factory
) -> None:
    store = await kaspi.logged_in_store()
    sandbox.expire_sessions()
    response = await kaspi.call("POST", f"/stores/{store['id']}/sync")
    await run_worker()
    job = (await kaspi.client.get(f"/api/v1/jobs/{response.json()['job_id']}", headers=kaspi.headers)).json()
    assert job["status"] == "failed"
    assert job["attempts"] == 1  # not worth retrying
    assert "KaspiNeedsLogin" in job["error"]
    row = await stored(factory, store["id"])
    assert row.status.value == "needs_login"
    assert row.last_sync_error is not None


async def test_a_relogin_kaspi_refuses_stops_the_store_until_someone_logs_in(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    store = await _synced_store(kaspi, run_worker, remember_credentials=True)
    offer_id = (await _offer_ids(kaspi, 1))[0]
    sandbox.expire_sessions()
    sandbox.faults.forget_login_sessions = True
    response = await kaspi.call("POST", f"/stores/{store['id']}/sync")
    await run_worker()
    job = await _job(kaspi, response.json()["job_id"])
    assert (job["status"], job["attempts"]) == ("failed", 1)
    assert "KaspiNeedsLogin" in job["error"]
    after = (await kaspi.call("GET", f"/stores/{store['id']}")).json()
    assert after["status"] == "needs_login"
    assert "TIMEOUT_EXCEEDED" in after["status_reason"]

    # no more doomed logins: syncs and pushes fail at once, saying what to do
    before = dict(sandbox.requests)
    sync = await kaspi.call("POST", f"/stores/{store['id']}/sync")
    assert (sync.status_code, sync.json()["error"]) == (409, "kaspi_needs_login")
    assert f"POST /api/v1/kaspi/stores/{store['id']}/login" in sync.json()["detail"]
    assert (await _push(kaspi, offer_id)).json()["error"] == "kaspi_needs_login"
    assert dict(sandbox.requests) == before

    sandbox.faults.forget_login_sessions = False
    assert (await kaspi.login(store["id"])).json()["store"]["status"] == "active"
    assert (await kaspi.call("POST", f"/stores/{store['id']}/sync")).status_code == 202


async def test_sync_of_a_logged_out_store_is_409_at_once(kaspi: Kaspi, run_worker: RunWorker) -> None:
    store = await kaspi.new_store()
    for _ in ("never logged in", "logged out"):
        response = await kaspi.call("POST", f"/stores/{store['id']}/sync")
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "kaspi_needs_login"
        detail = response.json()["detail"]
        assert f"Store {store['id']} is not logged in to Kaspi" in detail
        assert f"POST /api/v1/kaspi/stores/{store['id']}/login" in detail
        await kaspi.login(store["id"])
        assert (await kaspi.call("DELETE", f"/stores/{store['id']}/session")).status_code == 200
    worker = await run_worker()
    assert worker.jobs_complete == worker.jobs_failed == 0


async def test_a_sync_waits_for_a_relogin_under_way_and_goes_on(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A price push re-logs the store in; a sync meeting the same expired session meanwhile
    waits for that login and uses its session instead of failing (or logging in again)."""
    store = await _synced_store(kaspi, run_worker, remember_credentials=True)
    offer_id = (await _offer_ids(kaspi, 1))[0]
    sandbox.expire_sessions()
    logging_in, finish_login, sync_waits = asyncio.Event(), asyncio.Event(), asyncio.Event()
    open_session, wait_released = service._open_session, getattr(LoginLock, "wait_released", None)

    async def held_open_session(*args: Any, **kwargs: Any) -> None:
        logging_in.set()
        await finish_login.wait()
        await open_session(*args, **kwargs)

    async def noted_wait(lock: LoginLock, seconds: float) -> bool:
        sync_waits.set()
        assert wait_released is not None
        result: bool = await wait_released(lock, seconds)
        return result

    monkeypatch.setattr(service, "_open_session", held_open_session)
    monkeypatch.setattr(LoginLock, "wait_released", noted_wait, raising=False)
    push = asyncio.create_task(_push(kaspi, offer_id))
    await logging_in.wait()  # the push holds the store's login lock, its login half done
    sync = await kaspi.call("POST", f"/stores/{store['id']}/sync")
    assert sync.status_code == 202, sync.text
    worker = asyncio.create_task(run_worker())
    await asyncio.wait([asyncio.create_task(sync_waits.wait()), worker], return_when=asyncio.FIRST_COMPLETED)
    assert sync_waits.is_set(), "the sync did not wait for the login under way"
    finish_login.set()
    assert (await push).status_code == 202
    await worker
    job = await _job(kaspi, sync.json()["job_id"])
    assert job["status"] == "succeeded", job
    assert sandbox.logins[UID] == 2  # the first login and the push's re-login: the sync made none
    assert (await kaspi.call("GET", f"/stores/{store['id']}")).json()["status"] == "active"


async def test_a_sync_waits_for_a_login_only_so_long(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, kaspi_settings: KaspiSettings, redis: Redis
) -> None:
    store = await kaspi.logged_in_store(remember_credentials=True)
    sandbox.expire_sessions()
    kaspi_settings.login_wait_seconds = 0.2
    stuck = LoginLock(redis, store["id"], 60)  # a login in another process that never ends
    assert await stuck.acquire()
    response = await kaspi.call("POST", f"/stores/{store['id']}/sync")
    await run_worker()
    job = await _job(kaspi, response.json()["job_id"])
    assert job["status"] == "failed"
    assert "KaspiLoginInProgress" in job["error"]
    assert (await kaspi.call("GET", f"/stores/{store['id']}")).json()["status"] == "active"
    assert sandbox.logins[UID] == 1


async def test_sync_job_renews_the_session(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    store = await kaspi.logged_in_store(remember_credentials=True)
    sandbox.expire_sessions()
    await kaspi.call("POST", f"/stores/{store['id']}/sync")
    await run_worker()
    assert (await kaspi.call("GET", "/offers")).json()["total"] == 45
    assert sandbox.logins[UID] == 2


# --- outages: 5xx, timeouts, HTML ----------------------------------------------------------------


async def test_transient_5xx_is_retried(kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker) -> None:
    store = await kaspi.logged_in_store()
    sandbox.faults.fail_next = {"cabinet": [500, 503]}
    await kaspi.call("POST", f"/stores/{store['id']}/sync")
    await run_worker()
    assert (await kaspi.call("GET", "/offers")).json()["total"] == 45


async def test_lasting_5xx_fails_the_job_after_retries(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, factory: Factory
) -> None:
    store = await kaspi.logged_in_store()
    sandbox.faults.fail_next = {"cabinet": [502] * 50}
    response = await kaspi.call("POST", f"/stores/{store['id']}/sync")
    await run_worker()
    job = (await kaspi.client.get(f"/api/v1/jobs/{response.json()['job_id']}", headers=kaspi.headers)).json()
    assert job["status"] == "failed"
    assert job["attempts"] == 3
    assert "server error 502" in job["error"]
    row = await stored(factory, store["id"])
    assert "502" in (row.last_sync_error or "")
    assert row.status.value == "active"  # an outage is not a login problem


async def test_slow_kaspi_times_out(
    kaspi: Kaspi, sandbox: SandboxState, kaspi_settings: KaspiSettings
) -> None:
    kaspi_settings.timeout_seconds = 0.2
    kaspi_settings.retries = 1
    sandbox.faults.delay_seconds = 1.0
    response = await kaspi.call("GET", "/products/113744000/offers")
    assert response.status_code == 502
    assert response.json()["error"] == "kaspi_unavailable"
    assert "no answer in time" in response.json()["detail"]


# --- interactive calls: one time budget for everything an API request asks of Kaspi -------------


async def test_a_slow_kaspi_answers_504_within_the_interactive_budget(
    kaspi: Kaspi, sandbox: SandboxState, kaspi_settings: KaspiSettings
) -> None:
    kaspi_settings.interactive_timeout_seconds = 0.2
    sandbox.faults.delay_seconds = 5  # real waiting: Kaspi answers only after 5 s
    response = await kaspi.call("GET", "/products/113744000/offers")
    assert response.status_code == 504, response.text
    assert response.json() == {
        "error": "kaspi_timeout",
        "detail": "Kaspi did not answer within 0.2 s; try again later",
    }
    # The merchant got the answer while Kaspi still held its one request: no retries behind it.
    assert sandbox.requests["storefront"] == 1
    assert sandbox.answered["storefront"] == 0


async def test_the_budget_covers_retries_and_pacing_waits(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, kaspi_settings: KaspiSettings
) -> None:
    await _synced_store(kaspi, run_worker)
    offer_id = (await _offer_ids(kaspi, 1))[0]
    kaspi_settings.interactive_timeout_seconds = 0.5
    kaspi_settings.retries = 8
    kaspi_settings.retry_base_seconds = 0.05
    sandbox.faults.fail_next = {"cabinet": [502] * 8}  # retried with backoff until the budget is spent
    response = await kaspi.call("POST", f"/offers/{offer_id}/refresh")
    assert response.status_code == 504, response.text
    assert sandbox.faults.fail_next["cabinet"]  # not every attempt was made

    sandbox.faults.fail_next = {}
    kaspi_settings.cabinet_per_second = 0.1  # the next slot is 10 s after this one
    assert (await kaspi.call("POST", f"/offers/{offer_id}/refresh")).status_code == 200
    waited = await kaspi.call("POST", f"/offers/{offer_id}/refresh")
    assert waited.status_code == 504, waited.text
    assert waited.json()["error"] == "kaspi_timeout"


async def test_a_price_push_to_a_slow_kaspi_is_504_and_not_recorded(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, kaspi_settings: KaspiSettings
) -> None:
    await _synced_store(kaspi, run_worker)
    offer_id = (await _offer_ids(kaspi, 1))[0]
    kaspi_settings.interactive_timeout_seconds = 0.2
    sandbox.faults.delay_seconds = 5
    response = await _push(kaspi, offer_id)
    assert response.status_code == 504, response.text
    assert sandbox.pricefeed == []
    sandbox.faults.delay_seconds = 0
    assert (await kaspi.call("GET", f"/offers/{offer_id}")).json()["pushed_price"] is None


async def test_worker_jobs_keep_their_longer_budget(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, kaspi_settings: KaspiSettings
) -> None:
    store = await kaspi.logged_in_store()
    kaspi_settings.interactive_timeout_seconds = 0.05
    sandbox.faults.delay_seconds = 0.1  # every page is slower than an API request may wait
    response = await kaspi.call("POST", f"/stores/{store['id']}/sync")
    await run_worker()
    job = (await kaspi.client.get(f"/api/v1/jobs/{response.json()['job_id']}", headers=kaspi.headers)).json()
    assert job["status"] == "succeeded", job
    assert (await kaspi.call("GET", "/offers")).json()["total"] == 45


async def test_kaspi_routes_declare_504(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    for path, method in (
        ("/api/v1/kaspi/products/{master_sku}/offers", "get"),
        ("/api/v1/kaspi/offers/{offer_id}/price", "post"),
        ("/api/v1/kaspi/stores/{store_id}/login", "post"),
    ):
        declared = paths[path][method]["responses"]["504"]
        assert "kaspi_timeout" in declared["description"]
        assert declared["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}


async def test_html_instead_of_json_is_blocked_not_a_crash(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    await _synced_store(kaspi, run_worker)
    offer_id = (await _offer_ids(kaspi, 1))[0]
    sandbox.faults.html_instead_of_json = {"cabinet", "storefront"}
    push = await _push(kaspi, offer_id)
    assert push.status_code == 503
    assert push.json()["error"] == "kaspi_blocked"
    lookup = await kaspi.call("GET", "/products/113744000/offers")
    assert lookup.status_code == 503
    assert lookup.json()["error"] == "kaspi_blocked"


async def test_bot_wall_403(kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker) -> None:
    await _synced_store(kaspi, run_worker)
    offer_id = (await _offer_ids(kaspi, 1))[0]
    sandbox.faults.bot_wall = {"cabinet", "storefront"}
    assert (await _push(kaspi, offer_id)).json()["error"] == "kaspi_blocked"
    assert (await kaspi.call("GET", "/products/113744000/offers")).json()["error"] == "kaspi_blocked"


# --- the schedule --------------------------------------------------------------------------------


async def test_hourly_sync_covers_active_stores_only(
    kaspi: Kaspi,
    sandbox: SandboxState,
    run_worker: RunWorker,
    app: FastAPI,
    settings: Settings,
    redis: Redis,
    clock: ForwardClock,
) -> None:
    active = await kaspi.logged_in_store()
    idle = await kaspi.new_store(name="Не подключён")
    ctx = {"sessionmaker": app.state.sessionmaker, "redis": app.state.arq, "settings": settings}
    await clock.advance(3600 - clock.now().timestamp() % 3600 + 1)  # both calls in one hour
    assert await sync_kaspi_stores(ctx) == {"stores": 1}
    assert await sync_kaspi_stores(ctx) == {"stores": 1}
    assert await redis.zcard(settings.worker.queue_name) == 1  # the same job id: queued once
    worker = await run_worker()
    assert worker.jobs_complete == 1
    offers = (await kaspi.call("GET", "/offers")).json()
    assert offers["total"] == 45
    assert {o["store_id"] for o in offers["items"]} == {active["id"]}
    untouched = (await kaspi.call("GET", f"/stores/{idle['id']}")).json()
    assert (untouched["status"], untouched["last_synced_at"]) == ("new", None)


def test_sync_runs_hourly_at_minute_17(settings: Settings) -> None:
    schedules = {job.name: (job.hour, job.minute) for job in cron_jobs(settings)}
    assert schedules["cron:sync_kaspi_stores"] == (None, 17)
