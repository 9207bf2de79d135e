"""Kaspi's bans against a sandbox that punishes like Kaspi: a request sent during a ban prolongs
it, so a 429 or a 403 must stop every later send at once (queued ones included) — and only what
Kaspi banned. Budgets and batch answers must tell the truth about what was applied."""

import asyncio
from typing import Any

from sqlalchemy import select

from sauda.config import KaspiSettings
from sauda.kaspi.models import KaspiOffer
from sauda.sandboxes.kaspi import SandboxState
from tests.clock import ForwardClock
from tests.conftest import RunWorker
from tests.factories import Factory
from tests.kaspi.conftest import MASKED_PHONE, PHONE, Kaspi
from tests.kaspi.forward_proxy import ForwardProxy
from tests.kaspi.test_demper import PHONE as PHONE_SKU
from tests.kaspi.test_demper import _enable, _run, _store

PRICEFEED = "/pricefeed/upload/merchant/process"
BATCH = "/process/process/batch"
LOOKUP = "/yml/offer-view/offers/113744000"
LOGIN = "/api/p/login"


async def _synced_store(kaspi: Kaspi, run_worker: RunWorker, **login: Any) -> dict[str, Any]:
    store = await kaspi.logged_in_store(**login)
    assert (await kaspi.call("POST", f"/stores/{store['id']}/sync")).status_code == 202
    await run_worker()
    return store


async def _on_sale(kaspi: Kaspi, n: int) -> list[dict[str, Any]]:
    response = await kaspi.call("GET", "/offers", params={"limit": n, "state": "on_sale"})
    items: list[dict[str, Any]] = response.json()["items"]
    assert len(items) == n
    return items


async def _push(kaspi: Kaspi, offer_id: int, price: int = 1990) -> Any:
    # Far from the demo prices on purpose: confirmed, as the typo guard asks.
    return await kaspi.call("POST", f"/offers/{offer_id}/price", json={"price": price, "confirm": True})


async def _lookup(kaspi: Kaspi) -> Any:
    return await kaspi.call("GET", "/products/113744000/offers")


# --- §3: a 429 stops every queued upload; a refused send uses no budget -----------------------------


async def test_queued_pushes_stop_at_the_first_429_and_use_no_budget(
    kaspi: Kaspi,
    sandbox: SandboxState,
    run_worker: RunWorker,
    kaspi_settings: KaspiSettings,
    clock: ForwardClock,
) -> None:
    await _synced_store(kaspi, run_worker)
    ids = [o["id"] for o in await _on_sale(kaspi, 8)]
    sandbox.limits.lock_seconds = kaspi_settings.lock_seconds = 60
    kaspi_settings.pricefeed_changes_per_window = 8
    kaspi_settings.pricefeed_per_second = 5  # a little faster than Kaspi takes (3/s): the 4th earns a 429

    responses = await asyncio.gather(*(_push(kaspi, i) for i in ids))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [202, 202, 202] + [429] * 5, [r.text for r in responses]
    assert {r.json()["error"] for r in responses if r.status_code == 429} == {"kaspi_store_locked"}
    # Kaspi saw the 3 it took and the one it refused; the 4 queued behind it were never sent
    assert sandbox.count(PRICEFEED) == 4
    assert sandbox.count(PRICEFEED, status=429) == 1

    # after the lock only the 3 accepted changes count against the budget of 8
    await clock.advance(61)
    sandbox.limits.pricefeed_per_second = 100
    after = [(await _push(kaspi, i)).status_code for i in ids[:6]]
    assert after == [202] * 5 + [429]


async def test_a_login_finishes_while_the_pricefeed_is_locked(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    store = await _synced_store(kaspi, run_worker)
    offer_id = (await _on_sale(kaspi, 1))[0]["id"]
    sandbox.faults.fail_next["cabinet"] = [429]
    assert (await _push(kaspi, offer_id)).json()["error"] == "kaspi_store_locked"
    sandbox.expire_sessions()

    start = await kaspi.call("POST", f"/stores/{store['id']}/login/sms/start", json={"phone": PHONE})
    assert start.status_code == 200, start.text
    code = sandbox.last_code(MASKED_PHONE)
    verify = await kaspi.call("POST", f"/stores/{store['id']}/login/sms/verify", json={"code": code})
    # Kaspi issued the session and the code is spent: the login must not be thrown away
    assert verify.status_code == 200, verify.text
    assert verify.json()["store"]["status"] == "active"
    assert verify.json()["store"]["locked_until"] is not None
    check = await kaspi.call("POST", f"/stores/{store['id']}/session/check")
    assert check.status_code == 200, check.text
    assert check.json()["valid"] is True
    # the pricefeed itself stays locked, without asking Kaspi
    uploads = sandbox.count(PRICEFEED)
    assert (await _push(kaspi, offer_id)).json()["error"] == "kaspi_store_locked"
    assert sandbox.count(PRICEFEED) == uploads


# --- §3: a storefront 403 or bot wall: one cool-down per outgoing IP, for every caller --------------


async def test_lookups_stop_at_the_first_storefront_403(
    kaspi: Kaspi, sandbox: SandboxState, kaspi_settings: KaspiSettings
) -> None:
    sandbox.limits.storefront_per_second = 2
    kaspi_settings.storefront_per_second = 5  # too fast for this Kaspi: the 3rd lookup earns a 403
    responses = await asyncio.gather(*(_lookup(kaspi) for _ in range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 429, 429, 429, 429, 429, 503], [r.text for r in responses]
    assert sandbox.count(LOOKUP, status=403) == 1  # nothing sent after it to prolong the ban
    cooling = next(r for r in responses if r.status_code == 429)
    assert cooling.json()["error"] == "kaspi_cooling_down"
    assert 0 < int(cooling.headers["Retry-After"]) <= kaspi_settings.storefront_cooldown_seconds


async def test_a_bot_wall_cools_the_ip_down_for_manual_lookups(
    kaspi: Kaspi, sandbox: SandboxState, kaspi_settings: KaspiSettings, clock: ForwardClock
) -> None:
    sandbox.faults.storefront_ban_page = True
    sandbox.block_storefront("127.0.0.1", seconds=5)
    first = await _lookup(kaspi)
    assert first.status_code == 503
    assert first.json()["error"] == "kaspi_blocked"
    assert first.headers["Retry-After"] == str(kaspi_settings.storefront_cooldown_seconds)
    again = await _lookup(kaspi)
    assert again.status_code == 429
    assert again.json()["error"] == "kaspi_cooling_down"
    assert sandbox.count(LOOKUP) == 1

    # a wall answered 200 with a page instead of data cools the IP down just the same
    await clock.advance(kaspi_settings.storefront_cooldown_seconds + 1)
    sandbox.faults.html_instead_of_json = {"storefront"}
    assert (await _lookup(kaspi)).status_code == 503
    assert (await _lookup(kaspi)).status_code == 429
    assert sandbox.count(LOOKUP) == 2


async def test_a_bot_wall_met_by_the_demper_holds_back_manual_lookups(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, kaspi_settings: KaspiSettings
) -> None:
    kaspi_settings.demper_max_attempts = 1  # the offer waits for the next run, not for the ban
    store = await _store(kaspi, run_worker, sandbox)
    await _enable(kaspi, PHONE_SKU)
    sandbox.faults.storefront_ban_page = True
    sandbox.block_storefront("127.0.0.1", seconds=5)
    result = await _run(kaspi, store["id"], run_worker)
    assert result["refused"] == 1
    assert sandbox.count(f"/yml/offer-view/offers/{PHONE_SKU}", status=403) == 1
    manual = await _lookup(kaspi)
    assert manual.status_code == 429, manual.text
    assert manual.json()["error"] == "kaspi_cooling_down"
    assert sandbox.count(LOOKUP) == 0  # the wall is not asked again by another caller


async def test_manual_lookups_take_a_free_ip_and_leave_a_banned_one_alone(
    kaspi: Kaspi, sandbox: SandboxState, kaspi_settings: KaspiSettings
) -> None:
    kaspi_settings.retries = 1
    proxies = [await ForwardProxy("10.0.0.1").start(), await ForwardProxy("10.0.0.2").start()]
    try:
        for proxy in proxies:
            assert (await kaspi.call("POST", "/proxies", json={"url": proxy.url})).status_code == 201
        sandbox.block_storefront("10.0.0.1", seconds=5)
        statuses = [(await _lookup(kaspi)).status_code for _ in range(4)]
    finally:
        for proxy in proxies:
            await proxy.stop()
    # the banned IP is asked once (whoever meets the ban answers 200 through the other IP)
    assert statuses == [200] * 4
    assert sandbox.count(LOOKUP, ip="10.0.0.1") == 1
    assert sandbox.count(LOOKUP, status=200, ip="10.0.0.2") == 4
    assert sandbox.count(LOOKUP, ip="127.0.0.1") == 0


# --- §3: MFA_SEND_FLOOD is remembered per store ------------------------------------------------------


async def test_a_code_flood_is_waited_out_without_asking_kaspi_again(
    kaspi: Kaspi, sandbox: SandboxState, clock: ForwardClock
) -> None:
    sandbox.limits.max_code_sends = 1
    sandbox.limits.flood_break_seconds = 122
    store = await kaspi.new_store()
    start = f"/stores/{store['id']}/login/sms/start"
    assert (await kaspi.call("POST", start, json={"phone": PHONE})).status_code == 200
    code = sandbox.last_code(MASKED_PHONE)

    flood = await kaspi.call("POST", start, json={"phone": PHONE})
    assert flood.status_code == 429
    assert flood.json()["error"] == "kaspi_code_flood"
    assert flood.headers["Retry-After"] == "122"
    asked = sandbox.count(LOGIN)

    await clock.advance(100)
    again = await kaspi.call("POST", start, json={"phone": PHONE})
    assert again.status_code == 429
    assert again.json()["error"] == "kaspi_code_flood"
    assert 0 < int(again.headers["Retry-After"]) <= 22
    assert sandbox.count(LOGIN) == asked  # refused here: Kaspi would have restarted its break

    # the code already sent still finishes the login during the break
    verify = await kaspi.call("POST", f"/stores/{store['id']}/login/sms/verify", json={"code": code})
    assert verify.status_code == 200, verify.text

    await clock.advance(23)
    assert (await kaspi.call("POST", start, json={"phone": PHONE})).status_code == 200


# --- §4: a rolling change budget --------------------------------------------------------------------


async def test_the_change_budget_is_a_rolling_window(
    kaspi: Kaspi,
    sandbox: SandboxState,
    run_worker: RunWorker,
    kaspi_settings: KaspiSettings,
    clock: ForwardClock,
) -> None:
    await _synced_store(kaspi, run_worker)
    ids = [o["id"] for o in await _on_sale(kaspi, 4)]
    sandbox.limits.pricefeed_per_second = 100
    sandbox.limits.changes_per_window = kaspi_settings.pricefeed_changes_per_window = 4
    assert [(await _push(kaspi, i)).status_code for i in ids[:3]] == [202] * 3
    await clock.advance(20 * 60)
    assert (await _push(kaspi, ids[3])).status_code == 202
    await clock.advance(11 * 60)  # the first three left the window; the fourth has not
    assert [(await _push(kaspi, i)).status_code for i in ids[:3]] == [202] * 3
    refused = await _push(kaspi, ids[3])
    assert refused.status_code == 429
    assert refused.json()["error"] == "kaspi_rate_limited"
    assert 20 * 60 + 30 * 60 - 31 * 60 - 2 <= int(refused.headers["Retry-After"]) <= 19 * 60 + 1
    assert sandbox.count(PRICEFEED, status=429) == 0
    assert sandbox.count(PRICEFEED) == 7


# --- §4: batches answer per offer -------------------------------------------------------------------


async def test_a_batch_over_the_budget_says_which_offers_went_off_sale(
    kaspi: Kaspi,
    sandbox: SandboxState,
    run_worker: RunWorker,
    kaspi_settings: KaspiSettings,
    factory: Factory,
) -> None:
    await _synced_store(kaspi, run_worker)
    offers = await _on_sale(kaspi, 25)
    kaspi_settings.batch_size = 10
    kaspi_settings.pricefeed_changes_per_window = 22

    response = await kaspi.call(
        "POST", "/offers/batch-disable", json={"offer_ids": [o["id"] for o in offers]}
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["offers"], body["applied"], body["not_applied"]) == (25, 22, 3)
    assert 1790 <= body["retry_after"] <= 1800
    assert response.headers["Retry-After"] == str(body["retry_after"])
    assert [len(u["items"]) for u in sandbox.pricefeed] == [10, 10, 2]
    results = {r["offer_id"]: r for r in body["results"]}
    assert len(results) == 25
    merchant = sandbox.merchant()
    for offer in offers:
        result = results[offer["id"]]
        off_sale = not merchant.offers[offer["sku"]].on_sale
        assert off_sale is (result["status"] == "applied"), result
        if not off_sale:
            assert (result["reason"], result["retry_after"]) == ("kaspi_rate_limited", body["retry_after"])
    async with factory.sessionmaker() as session:
        rows = (await session.execute(select(KaspiOffer.id, KaspiOffer.pushed_available))).all()
    pushed_off = {offer_id for offer_id, available in rows if available is False}
    assert pushed_off == {i for i, r in results.items() if r["status"] == "applied"}

    # nothing left in the budget: nothing is sent, and the answer says so
    again = await kaspi.call("POST", "/offers/batch-enable", json={"offer_ids": [offers[0]["id"]]})
    assert again.status_code == 429
    assert again.json()["error"] == "kaspi_rate_limited"
    assert len(sandbox.pricefeed) == 3


async def test_a_batch_answer_without_an_id_is_accepted(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, factory: Factory
) -> None:
    await _synced_store(kaspi, run_worker)
    offers = await _on_sale(kaspi, 3)
    sandbox.faults.batch_without_id = True
    response = await kaspi.call(
        "POST", "/offers/batch-disable", json={"offer_ids": [o["id"] for o in offers]}
    )
    assert response.status_code == 202, response.text
    assert (response.json()["applied"], response.json()["uploads"]) == (3, [])
    assert {r["status"] for r in response.json()["results"]} == {"applied"}
    assert not any(sandbox.merchant().offers[o["sku"]].on_sale for o in offers)
    async with factory.sessionmaker() as session:
        rows = (
            await session.scalars(select(KaspiOffer).where(KaspiOffer.id.in_([o["id"] for o in offers])))
        ).all()
    assert {(r.pushed_available, r.pricefeed_id) for r in rows} == {(False, None)}


async def test_the_demper_takes_a_batch_answer_without_an_id(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    store = await _store(kaspi, run_worker, sandbox)
    offer = await _enable(kaspi, PHONE_SKU)
    sandbox.faults.batch_without_id = True
    result = await _run(kaspi, store["id"], run_worker)
    assert (result["pushed"], result["failed"]) == (1, 0)
    history = (await kaspi.call("GET", f"/offers/{offer['id']}/history")).json()["items"]
    assert (history[0]["action"], history[0]["pricefeed_id"]) == ("pushed", None)
