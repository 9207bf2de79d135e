"""The demper end to end against the sandbox: competitors move and our prices follow within the
rules, the floor, dry-run, a 429 lock, a session expiring mid-run, the tick and its job ids."""

from typing import Any

from fastapi import FastAPI
from redis.asyncio import Redis

from sauda.config import Settings
from sauda.kaspi.client.ratelimit import DemperLock
from sauda.kaspi.tasks import kaspi_demper_tick
from sauda.sandboxes.kaspi import SandboxOffer, SandboxState, competitor
from sauda.worker import cron_jobs
from tests.clock import ForwardClock
from tests.conftest import RunWorker
from tests.factories import Factory
from tests.kaspi.conftest import UID, Kaspi, stored

PHONE, KETTLE, IRON = "500100", "500200", "500300"


def _catalogue(sandbox: SandboxState) -> None:
    merchant = sandbox.merchant()
    merchant.offers.clear()
    for master, title, price in ((PHONE, "Телефон", 5000), (KETTLE, "Чайник", 12000), (IRON, "Утюг", 9000)):
        sandbox.add_offer(
            merchant, SandboxOffer(sku=f"{master}_1", master_sku=master, title=title, brand="X", price=price)
        )
    sandbox.competitors[PHONE] = [competitor("M1", "Альфа", 4800), competitor("M2", "Бета", 5100)]
    sandbox.competitors[KETTLE] = [competitor("M1", "Альфа", 11000)]
    sandbox.competitors[IRON] = []


async def _store(kaspi: Kaspi, run_worker: RunWorker, sandbox: SandboxState, **login: Any) -> dict[str, Any]:
    _catalogue(sandbox)
    sandbox.limits.pricefeed_per_second = 100  # these tests run several pushes a second
    store = await kaspi.logged_in_store(**login)
    assert (await kaspi.call("POST", f"/stores/{store['id']}/sync")).status_code == 202
    await run_worker()
    return store


async def _offer(kaspi: Kaspi, master: str) -> dict[str, Any]:
    items = (await kaspi.call("GET", "/offers", params={"master_sku": master})).json()["items"]
    assert len(items) == 1
    offer: dict[str, Any] = items[0]
    return offer


async def _enable(kaspi: Kaspi, master: str, **settings: Any) -> dict[str, Any]:
    offer = await _offer(kaspi, master)
    body = {"enabled": True, "floor": 4000, "ceiling": 6000, "step": 10} | settings
    response = await kaspi.call("PATCH", f"/offers/{offer['id']}/demper", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def _run(kaspi: Kaspi, store_id: int, run_worker: RunWorker) -> dict[str, Any]:
    response = await kaspi.call("POST", f"/stores/{store_id}/demper/run")
    assert response.status_code == 202, response.text
    await run_worker()
    job = await kaspi.client.get(f"/api/v1/jobs/{response.json()['job_id']}", headers=kaspi.headers)
    assert job.json()["status"] == "succeeded", job.json()
    result: dict[str, Any] = job.json()["result"]
    return result


async def _history(kaspi: Kaspi, offer_id: int) -> list[dict[str, Any]]:
    response = await kaspi.call("GET", f"/offers/{offer_id}/history")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _price(sandbox: SandboxState, master: str) -> int:
    return sandbox.merchant().offers[f"{master}_1"].price


async def test_prices_follow_the_competitors_down_to_the_floor(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    store = await _store(kaspi, run_worker, sandbox)
    offer = await _enable(kaspi, PHONE)

    result = await _run(kaspi, store["id"], run_worker)
    assert (result["checked"], result["pushed"], result["uploads"]) == (1, 1, 1)
    assert _price(sandbox, PHONE) == 4790  # the leader 4800 minus the step
    last = (await _history(kaspi, offer["id"]))[0]
    assert (last["old_price"], last["new_price"], last["leader_price"]) == (5000, 4790, 4800)
    assert (last["reason"], last["action"], last["leader_merchant_id"]) == ("undercut_leader", "pushed", "M1")
    assert sandbox.pricefeed[-1]["items"][0] == {
        "merchantUid": UID,
        "sku": f"{PHONE}_1",
        "model": "Телефон",
        "price": 4790,
        "availabilities": [
            {"storeId": f"{UID}_PP1", "available": "yes", "preOrder": 0},
            {"storeId": f"{UID}_PP2", "available": "yes", "preOrder": 0},
        ],
    }

    # a competitor reacts: we follow
    sandbox.competitors[PHONE] = [competitor("M1", "Альфа", 4500), competitor("M2", "Бета", 5100)]
    await _run(kaspi, store["id"], run_worker)
    assert _price(sandbox, PHONE) == 4490

    # nothing moved: nothing is pushed
    uploads = len(sandbox.pricefeed)
    assert (await _run(kaspi, store["id"], run_worker))["held"] == 1
    assert len(sandbox.pricefeed) == uploads
    assert (await _history(kaspi, offer["id"]))[0]["reason"] == "unchanged"

    # the leader dives under our floor: down to the floor once, then hold there
    sandbox.competitors[PHONE] = [competitor("M1", "Альфа", 3000)]
    await _run(kaspi, store["id"], run_worker)
    assert _price(sandbox, PHONE) == 4000
    assert (await _history(kaspi, offer["id"]))[0]["reason"] == "down_to_floor"
    await _run(kaspi, store["id"], run_worker)
    assert _price(sandbox, PHONE) == 4000
    held = (await _history(kaspi, offer["id"]))[0]
    assert (held["reason"], held["action"], held["new_price"]) == ("floor_reached", "held", None)

    # the leader leaves and comes back far above: capped at our ceiling
    sandbox.competitors[PHONE] = [competitor("M2", "Бета", 9000)]
    await _run(kaspi, store["id"], run_worker)
    assert _price(sandbox, PHONE) == 6000
    status = (await kaspi.call("GET", f"/stores/{store['id']}/demper/status")).json()
    assert status["enabled_offers"] == 1
    assert status["last_result"]["pushed"] == 1
    assert status["next_due_at"] is not None
    assert len(await _history(kaspi, offer["id"])) == 6


async def test_scripted_competitor_moves(kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker) -> None:
    """A competitor that reacts to us (the sandbox plays one scripted move per lookup)."""
    store = await _store(kaspi, run_worker, sandbox)
    offer = await _enable(kaspi, PHONE, step=1)
    sandbox.moves[PHONE] = [[competitor("M1", "Альфа", 4700)], [competitor("M1", "Альфа", 4650)]]
    await _run(kaspi, store["id"], run_worker)
    assert _price(sandbox, PHONE) == 4699
    await _run(kaspi, store["id"], run_worker)
    assert _price(sandbox, PHONE) == 4649
    await _run(kaspi, store["id"], run_worker)  # no more moves: the competitor stays, so do we
    history = await _history(kaspi, offer["id"])
    assert [(h["new_price"], h["leader_price"]) for h in history] == [
        (None, 4650),
        (4649, 4650),
        (4699, 4700),
    ]


async def test_strategies_exclusions_and_alone(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    store = await _store(kaspi, run_worker, sandbox)
    await _enable(kaspi, PHONE, strategy="position", position=2)
    await _enable(kaspi, KETTLE, floor=9000, ceiling=15000, strategy="match")
    await _enable(kaspi, IRON, floor=5000, ceiling=9900)
    settings = {"raise_when_alone": True, "excluded_merchants": ["M2"]}
    assert (await kaspi.call("PATCH", f"/stores/{store['id']}/demper", json=settings)).status_code == 200
    sandbox.competitors[PHONE] = [
        competitor("M1", "А", 4800),
        competitor("M2", "Б", 4900),
        competitor("M3", "В", 5500),
    ]
    await _run(kaspi, store["id"], run_worker)
    assert _price(sandbox, PHONE) == 5490  # M2 excluded: second is M3 at 5500
    assert _price(sandbox, KETTLE) == 11000  # matched
    assert _price(sandbox, IRON) == 9900  # alone: up to the ceiling


async def test_dry_run_records_without_pushing(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    store = await _store(kaspi, run_worker, sandbox)
    offer = await _enable(kaspi, PHONE)
    response = await kaspi.call("PATCH", f"/stores/{store['id']}/demper", json={"dry_run": True})
    assert response.json()["dry_run"] is True
    uploads = len(sandbox.pricefeed)
    result = await _run(kaspi, store["id"], run_worker)
    assert (result["dry_run"], result["pushed"]) == (1, 0)
    assert len(sandbox.pricefeed) == uploads
    assert _price(sandbox, PHONE) == 5000
    last = (await _history(kaspi, offer["id"]))[0]
    assert (last["action"], last["new_price"]) == ("dry_run", 4790)


async def test_a_429_locks_the_store_and_the_tick_leaves_it_alone(
    kaspi: Kaspi,
    sandbox: SandboxState,
    run_worker: RunWorker,
    factory: Factory,
    redis: Redis,
    app: FastAPI,
    settings: Settings,
) -> None:
    store = await _store(kaspi, run_worker, sandbox)
    offer = await _enable(kaspi, PHONE)
    sandbox.faults.fail_next["cabinet"] = [429]
    result = await _run(kaspi, store["id"], run_worker)
    assert result["pushed"] == 0
    assert result["failed"] == 1
    assert "left alone" in result["stopped"]
    assert _price(sandbox, PHONE) == 5000
    assert (await _history(kaspi, offer["id"]))[0]["action"] == "failed"
    locked = await stored(factory, store["id"])
    assert locked.locked_until is not None
    assert await redis.ttl(f"sauda:kaspi:lock:{UID}") > 1700
    ctx = {"sessionmaker": app.state.sessionmaker, "redis": app.state.arq, "settings": settings}
    assert await kaspi_demper_tick(ctx) == {"stores": []}
    before = sandbox.requests["cabinet"]
    assert "locked" in (await _run(kaspi, store["id"], run_worker))["skipped"]
    assert sandbox.requests["cabinet"] == before


async def test_failed_rows_record_the_price_the_run_saw_not_the_synced_one(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, clock: ForwardClock
) -> None:
    store = await _store(kaspi, run_worker, sandbox)
    offer = await _enable(kaspi, PHONE)
    await _run(kaspi, store["id"], run_worker)
    assert _price(sandbox, PHONE) == 4790  # pushed and applied; the last sync still says 5000

    # the storefront refuses every lookup: nothing seen, so the last price Kaspi took
    sandbox.faults.bot_wall = {"storefront"}
    assert (await _run(kaspi, store["id"], run_worker))["failed"] == 1
    lookup_failed = (await _history(kaspi, offer["id"]))[0]
    assert (lookup_failed["reason"], lookup_failed["action"]) == ("lookup_failed", "failed")
    assert lookup_failed["old_price"] == 4790

    # the storefront shows us at a price the cabinet was changed to; the push is refused
    sandbox.faults.bot_wall = set()
    await clock.advance(121)  # the refused route rests no longer (PROXY_BENCH_SECONDS)
    sandbox.merchant().offers[f"{PHONE}_1"].price = 4950
    sandbox.competitors[PHONE] = [competitor("M1", "Альфа", 4500)]
    sandbox.faults.fail_next["cabinet"] = [429]
    assert (await _run(kaspi, store["id"], run_worker))["failed"] == 1
    push_failed = (await _history(kaspi, offer["id"]))[0]
    assert (push_failed["action"], push_failed["new_price"]) == ("failed", 4490)
    assert push_failed["old_price"] == 4950


async def test_without_our_offer_on_the_storefront_the_decision_starts_from_the_last_push(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    store = await _store(kaspi, run_worker, sandbox)
    offer = await _enable(kaspi, PHONE)
    await _run(kaspi, store["id"], run_worker)  # 5000 -> 4790, not synced since
    sandbox.merchant().offers[f"{PHONE}_1"].points["PP1"]["available"] = "no"
    sandbox.merchant().offers[f"{PHONE}_1"].points["PP2"]["available"] = "no"  # gone from the storefront
    sandbox.competitors[PHONE] = [competitor("M1", "Альфа", 4500)]
    sandbox.faults.fail_next["cabinet"] = [429]
    await _run(kaspi, store["id"], run_worker)
    failed = (await _history(kaspi, offer["id"]))[0]
    assert (failed["action"], failed["old_price"], failed["new_price"]) == ("failed", 4790, 4490)


async def test_session_expiry_mid_run_relogs_in_or_needs_login(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, factory: Factory
) -> None:
    remembered = await _store(kaspi, run_worker, sandbox, remember_credentials=True)
    await _enable(kaspi, PHONE)
    sandbox.expire_sessions()
    logins = sandbox.logins[UID]
    assert (await _run(kaspi, remembered["id"], run_worker))["pushed"] == 1
    assert sandbox.logins[UID] == logins + 1  # re-logged in with the stored password
    assert _price(sandbox, PHONE) == 4790

    # without a stored password: needs_login, the run stops cleanly and later runs skip
    await kaspi.call("DELETE", f"/stores/{remembered['id']}")
    store = await _store(kaspi, run_worker, sandbox)
    await _enable(kaspi, PHONE)
    sandbox.expire_sessions()
    result = await _run(kaspi, store["id"], run_worker)
    assert (result["pushed"], result["failed"]) == (0, 1)
    assert (await stored(factory, store["id"])).status.value == "needs_login"
    again = await _run(kaspi, store["id"], run_worker)
    assert "log in" in again["skipped"]


async def test_the_tick_enqueues_one_job_per_store_with_due_offers(
    kaspi: Kaspi,
    sandbox: SandboxState,
    run_worker: RunWorker,
    app: FastAPI,
    settings: Settings,
    redis: Redis,
) -> None:
    store = await _store(kaspi, run_worker, sandbox)
    ctx = {"sessionmaker": app.state.sessionmaker, "redis": app.state.arq, "settings": settings}
    assert await kaspi_demper_tick(ctx) == {"stores": []}  # nothing enabled
    await _enable(kaspi, PHONE)
    await _enable(kaspi, KETTLE, floor=9000, ceiling=15000)
    assert await kaspi_demper_tick(ctx) == {"stores": [store["id"]]}
    assert await kaspi_demper_tick(ctx) == {"stores": [store["id"]]}  # same minute: same job id
    queued = await app.state.arq.queued_jobs(queue_name=settings.worker.queue_name)
    assert len([j for j in queued if j.function == "reprice_kaspi_store"]) == 1
    await run_worker()
    assert _price(sandbox, PHONE) == 4790
    assert _price(sandbox, KETTLE) == 10990
    assert await kaspi_demper_tick(ctx) == {"stores": []}  # checked: not due for 15 minutes

    # a run in progress: the tick leaves the store to it, and a second run skips
    lock = DemperLock(redis, store["id"], 60)
    assert await lock.acquire()
    phone = await _offer(kaspi, PHONE)
    await kaspi.call("POST", "/offers/demper/bulk", json={"offer_ids": [phone["id"]], "enabled": True})
    assert await kaspi_demper_tick(ctx) == {"stores": []}
    assert "in progress" in (await _run(kaspi, store["id"], run_worker))["skipped"]
    await lock.release()


async def test_settings_validation_and_bulk(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    store = await _store(kaspi, run_worker, sandbox)
    offer = await _offer(kaspi, PHONE)
    no_floor = await kaspi.call("PATCH", f"/offers/{offer['id']}/demper", json={"enabled": True})
    assert no_floor.status_code == 422
    upside_down = await kaspi.call("PATCH", f"/offers/{offer['id']}/demper", json={"floor": 10, "ceiling": 5})
    assert upside_down.status_code == 422
    ids = [(await _offer(kaspi, m))["id"] for m in (PHONE, KETTLE, IRON)]
    bulk = await kaspi.call(
        "POST", "/offers/demper/bulk", json={"offer_ids": ids, "enabled": True, "floor": 100}
    )
    assert bulk.json() == {"offers": 3, "enabled": True}
    status = (await kaspi.call("GET", f"/stores/{store['id']}/demper/status")).json()
    assert (status["enabled_offers"], status["due_offers"]) == (3, 3)
    off = await kaspi.call("POST", "/offers/demper/bulk", json={"offer_ids": ids[:2], "enabled": False})
    assert off.status_code == 200
    status = (await kaspi.call("GET", f"/stores/{store['id']}/demper/status")).json()
    assert status["enabled_offers"] == 1
    hours = await kaspi.call("PATCH", f"/stores/{store['id']}/demper", json={"hours_from": "09:00"})
    assert hours.status_code == 422
    missing = await kaspi.call("POST", "/offers/demper/bulk", json={"offer_ids": [999999], "enabled": True})
    assert missing.status_code == 404
    # Null is refused at the edge, naming the field, for one offer and for a bulk alike.
    null_bulk = await kaspi.call("POST", "/offers/demper/bulk", json={"offer_ids": ids, "enabled": None})
    null_one = await kaspi.call("PATCH", f"/offers/{offer['id']}/demper", json={"strategy": None})
    null_store = await kaspi.call("PATCH", f"/stores/{store['id']}/demper", json={"step": None})
    for response, field in ((null_bulk, "enabled"), (null_one, "strategy"), (null_store, "step")):
        assert response.status_code == 422, response.text
        assert [f["field"] for f in response.json()["fields"]] == [field]


async def test_outside_working_hours_the_tick_waits(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, app: FastAPI, settings: Settings
) -> None:
    from datetime import UTC, datetime, timedelta

    store = await _store(kaspi, run_worker, sandbox)
    await _enable(kaspi, PHONE)
    local = datetime.now(UTC).astimezone(settings.tz)
    closed = {
        "hours_from": (local + timedelta(hours=2)).strftime("%H:00"),
        "hours_to": (local + timedelta(hours=3)).strftime("%H:00"),
    }
    assert (await kaspi.call("PATCH", f"/stores/{store['id']}/demper", json=closed)).status_code == 200
    ctx = {"sessionmaker": app.state.sessionmaker, "redis": app.state.arq, "settings": settings}
    assert await kaspi_demper_tick(ctx) == {"stores": []}
    opened = {
        "hours_from": (local - timedelta(hours=1)).strftime("%H:00"),
        "hours_to": (local + timedelta(hours=2)).strftime("%H:00"),
    }
    assert (await kaspi.call("PATCH", f"/stores/{store['id']}/demper", json=opened)).status_code == 200
    assert await kaspi_demper_tick(ctx) == {"stores": [store["id"]]}


def test_the_tick_runs_every_minute(settings: Any) -> None:
    schedules = {job.name: job.minute for job in cron_jobs(settings)}
    assert schedules["cron:kaspi_demper_tick"] == set(range(60))
