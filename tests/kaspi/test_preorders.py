"""Preorders end to end: set → uploaded through the pricefeed → confirmed on the storefront (or
failed in time, with the reason); the demper waits while one is pending; the Excel round trip."""

import io
from typing import Any

from fastapi import FastAPI
from openpyxl import Workbook, load_workbook
from redis.asyncio import Redis

from sauda.config import KaspiSettings, Settings
from sauda.kaspi.models import KaspiOffer
from sauda.kaspi.preorders import repository as preorder_repository
from sauda.kaspi.tasks import kaspi_preorder_tick
from sauda.sandboxes.kaspi import SandboxState
from tests.clock import ForwardClock
from tests.conftest import RunWorker
from tests.factories import Factory
from tests.kaspi.conftest import UID, Kaspi
from tests.kaspi.test_demper import IRON, KETTLE, PHONE, _enable, _offer, _run, _store

HEADER = ["SKU", "model", "brand", "price", "PP1", "PP2", "PP3", "PP4", "PP5", "preorder"]


async def _set(kaspi: Kaspi, offer_id: int, days: int, points: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"offer_id": offer_id, "days": days}
    if points is not None:
        body["points"] = points
    response = await kaspi.call("POST", "/preorders", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def _get(kaspi: Kaspi, preorder_id: int) -> dict[str, Any]:
    result: dict[str, Any] = (await kaspi.call("GET", f"/preorders/{preorder_id}")).json()
    return result


async def test_preorder_uploaded_then_confirmed_and_the_demper_waits(
    kaspi: Kaspi,
    sandbox: SandboxState,
    run_worker: RunWorker,
    kaspi_settings: KaspiSettings,
    clock: ForwardClock,
) -> None:
    kaspi_settings.preorder_check_seconds = 0
    store = await _store(kaspi, run_worker, sandbox)
    offer = await _enable(kaspi, PHONE)
    sandbox.limits.apply_delay_seconds = 30  # Kaspi applies uploads a little later
    preorder = await _set(kaspi, offer["id"], 7, ["PP2"])
    assert preorder["status"] == "pending"

    await run_worker()  # the job enqueued by the request: upload, first look (not shown yet)
    uploaded = await _get(kaspi, preorder["id"])
    assert uploaded["uploaded_at"] is not None
    assert uploaded["status"] == "pending"
    item = sandbox.pricefeed[-1]["items"][0]
    assert item["availabilities"] == [
        {"storeId": f"{UID}_PP1", "available": "yes", "preOrder": 0},
        {"storeId": f"{UID}_PP2", "available": "yes", "preOrder": 7},
    ]
    # pending: the demper leaves this offer alone
    assert (await _run(kaspi, store["id"], run_worker))["due"] == 0

    await clock.advance(30)  # ... and now it has
    response = await kaspi.call("POST", "/preorders/upload", params={"store_id": store["id"]})
    assert response.status_code == 202
    await run_worker()
    active = await _get(kaspi, preorder["id"])
    assert active["status"] == "active"
    assert active["confirmed_at"] is not None
    # a later price push keeps the preorder on its point
    sandbox.limits.apply_delay_seconds = 0
    await _run(kaspi, store["id"], run_worker)
    assert sandbox.pricefeed[-1]["items"][0]["availabilities"][1]["preOrder"] == 7
    assert sandbox.merchant().offers[f"{PHONE}_1"].price == 4790


async def _upload_now(kaspi: Kaspi, store_id: int, run_worker: RunWorker) -> dict[str, Any]:
    response = await kaspi.call("POST", "/preorders/upload", params={"store_id": store_id})
    assert response.status_code == 202, response.text
    await run_worker()
    job = await kaspi.client.get(f"/api/v1/jobs/{response.json()['job_id']}", headers=kaspi.headers)
    assert job.json()["status"] == "succeeded", job.json()
    result: dict[str, Any] = job.json()["result"]
    return result


async def _not_uploaded(factory: Factory, offer_id: int, days: int) -> None:
    """A preorder set without the job its request would queue (the upload is left to the test)."""
    async with factory.sessionmaker() as session:
        await preorder_repository.save(session, [(await session.get_one(KaspiOffer, offer_id), days, [])])
        await session.commit()


async def test_upload_and_confirm_now_checks_what_was_looked_at_minutes_ago(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, clock: ForwardClock
) -> None:
    store = await _store(kaspi, run_worker, sandbox)
    offer = await _offer(kaspi, PHONE)
    sandbox.limits.apply_delay_seconds = 30
    preorder = await _set(kaspi, offer["id"], 7)
    await run_worker()  # the request's job: uploaded, first look (not shown yet)
    assert (await _get(kaspi, preorder["id"]))["checked_at"] is not None
    await clock.advance(30)  # Kaspi shows it now, long before the next scheduled look

    result = await _upload_now(kaspi, store["id"], run_worker)
    assert result == {"uploaded": 0, "confirmed": 1, "failed": 0, "pending": 0, "errors": []}
    assert (await _get(kaspi, preorder["id"]))["status"] == "active"


async def test_upload_and_confirm_now_waits_briefly_for_kaspi_to_apply_the_upload(
    kaspi: Kaspi,
    sandbox: SandboxState,
    run_worker: RunWorker,
    kaspi_settings: KaspiSettings,
    factory: Factory,
) -> None:
    store = await _store(kaspi, run_worker, sandbox)
    offer = await _offer(kaspi, PHONE)
    await _not_uploaded(factory, offer["id"], 7)
    kaspi_settings.preorder_confirm_wait_seconds = 10
    kaspi_settings.preorder_confirm_poll_seconds = 0.05
    sandbox.limits.apply_delay_seconds = 0.3  # real time: Kaspi applies it just after the upload

    result = await _upload_now(kaspi, store["id"], run_worker)
    assert result == {"uploaded": 1, "confirmed": 1, "failed": 0, "pending": 0, "errors": []}
    assert sandbox.requests["storefront"] > 1  # looked more than once


async def test_upload_and_confirm_now_counts_what_kaspi_has_not_shown_yet(
    kaspi: Kaspi,
    sandbox: SandboxState,
    run_worker: RunWorker,
    kaspi_settings: KaspiSettings,
    factory: Factory,
) -> None:
    store = await _store(kaspi, run_worker, sandbox)
    phone, kettle = await _offer(kaspi, PHONE), await _offer(kaspi, KETTLE)
    await _not_uploaded(factory, phone["id"], 7)
    await _not_uploaded(factory, kettle["id"], 0)  # 0 days: what the storefront already shows
    kaspi_settings.preorder_confirm_wait_seconds = 0.2
    kaspi_settings.preorder_confirm_poll_seconds = 0.05
    sandbox.limits.apply_delay_seconds = 3600

    result = await _upload_now(kaspi, store["id"], run_worker)
    assert result == {"uploaded": 2, "confirmed": 1, "failed": 0, "pending": 1, "errors": []}


async def test_preorder_that_never_shows_fails_with_the_reason(
    kaspi: Kaspi,
    sandbox: SandboxState,
    run_worker: RunWorker,
    kaspi_settings: KaspiSettings,
    app: FastAPI,
    settings: Settings,
    clock: ForwardClock,
) -> None:
    kaspi_settings.preorder_check_seconds = 0
    kaspi_settings.preorder_timeout_seconds = 600
    store = await _store(kaspi, run_worker, sandbox)
    offer = await _offer(kaspi, KETTLE)
    sandbox.limits.apply_delay_seconds = 3600  # Kaspi never applies it
    preorder = await _set(kaspi, offer["id"], 12)
    await run_worker()
    assert (await _get(kaspi, preorder["id"]))["status"] == "pending"
    await clock.advance(601)
    ctx = {"sessionmaker": app.state.sessionmaker, "redis": app.state.arq, "settings": settings}
    assert await kaspi_preorder_tick(ctx) == {"stores": [store["id"]]}
    await run_worker()
    failed = await _get(kaspi, preorder["id"])
    assert failed["status"] == "failed"
    assert "12 days" in failed["reason"]
    assert "shows 0 days" in failed["reason"]
    assert await kaspi_preorder_tick(ctx) == {"stores": []}


async def test_preorder_validation(kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker) -> None:
    await _store(kaspi, run_worker, sandbox)
    offer = await _offer(kaspi, PHONE)
    for body in (
        {"offer_id": offer["id"], "days": 31},
        {"offer_id": offer["id"], "days": -1},
        {"offer_id": offer["id"], "days": 3, "points": ["Склад"]},
        {"offer_id": offer["id"], "days": 3, "points": ["PP9"]},
    ):
        assert (await kaspi.call("POST", "/preorders", json=body)).status_code == 422, body
    assert (await kaspi.call("POST", "/preorders", json={"offer_id": 999999, "days": 1})).status_code == 404


def _sheet(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _import(kaspi: Kaspi, store_id: int, content: bytes) -> Any:
    files = {"file": ("price.xlsx", content, "application/octet-stream")}
    return await kaspi.call("POST", "/preorders/import", params={"store_id": store_id}, files=files)


async def test_excel_round_trip(kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker) -> None:
    store = await _store(kaspi, run_worker, sandbox)
    phone, kettle = await _offer(kaspi, PHONE), await _offer(kaspi, KETTLE)
    await _set(kaspi, phone["id"], 5)
    await _set(kaspi, kettle["id"], 0, ["PP1"])
    exported = await kaspi.call("GET", "/preorders/export", params={"store_id": store["id"]})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/vnd.openxmlformats")
    rows = list(load_workbook(io.BytesIO(exported.content)).worksheets[0].iter_rows(values_only=True))
    assert list(rows[0]) == HEADER
    assert list(rows[1]) == [f"{PHONE}_1", "Телефон", "X", 5000, "yes", "yes", None, None, None, 5]
    assert list(rows[2]) == [f"{KETTLE}_1", "Чайник", "X", 12000, "yes", "yes", None, None, None, None]

    # edit the file as a merchant would: change days, add a row, import it back
    edited = [list(r) for r in rows[1:]]
    edited[0][9] = 9
    edited.append([f"{IRON}_1", "Утюг", "X", 9000, "yes", "no", None, None, None, 3])
    response = await _import(kaspi, store["id"], _sheet(edited))
    assert response.status_code == 200, response.text
    assert response.json() == {"rows": 3, "saved": 2, "skipped": 1, "errors": []}  # kettle: in stock
    listed = (await kaspi.call("GET", "/preorders", params={"store_id": store["id"]})).json()
    by_offer = {p["offer_id"]: (p["days"], p["points"], p["status"]) for p in listed["items"]}
    iron = await _offer(kaspi, IRON)
    assert by_offer[phone["id"]] == (9, ["PP1", "PP2"], "pending")
    assert by_offer[iron["id"]] == (3, ["PP1"], "pending")
    again = await kaspi.call("GET", "/preorders/export", params={"store_id": store["id"]})
    days = [r[9] for r in load_workbook(io.BytesIO(again.content)).worksheets[0].iter_rows(values_only=True)]
    assert days == ["preorder", 9, None, 3]


async def test_an_empty_preorder_cell_is_in_stock_and_changes_nothing(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, redis: Redis
) -> None:
    store = await _store(kaspi, run_worker, sandbox)
    content = _sheet(
        [
            [f"{PHONE}_1", "Телефон", "X", 5000, "yes", "yes", None, None, None, 5],
            [f"{KETTLE}_1", "Чайник", "X", 12000, "yes", "yes", None, None, None, None],
            [f"{IRON}_1", "Утюг", "X", 9000, 3, None, None, None, None, ""],
        ]
    )
    response = await _import(kaspi, store["id"], content)
    assert response.status_code == 200, response.text
    assert response.json() == {"rows": 3, "saved": 1, "skipped": 2, "errors": []}
    await run_worker()
    assert [i["sku"] for u in sandbox.pricefeed for i in u["items"]] == [f"{PHONE}_1"]
    # One change of the rolling budget (its members are "<token>:<changes>").
    reserved = await redis.zrange(f"sauda:kaspi:changes-window:{UID}", 0, -1)
    assert sum(int(member.split(b":")[-1]) for member in reserved) == 1
    listed = (await kaspi.call("GET", "/preorders", params={"store_id": store["id"]})).json()
    assert [p["days"] for p in listed["items"]] == [5]


async def test_excel_import_reports_row_errors_and_saves_nothing(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker
) -> None:
    store = await _store(kaspi, run_worker, sandbox)
    content = _sheet(
        [
            [f"{PHONE}_1", "Телефон", "X", 5000, None, None, None, None, None, 4],
            ["nope", "?", "X", 1, None, None, None, None, None, 2],
            [f"{KETTLE}_1", "Чайник", "X", 1, None, None, None, None, None, 45],
            [None, "Без SKU", None, None, None, None, None, None, None, 1],
            [f"{PHONE}_1", "Телефон", "X", 5000, None, None, None, None, None, 4],
        ]
    )
    response = await _import(kaspi, store["id"], content)
    assert response.json()["saved"] == 0
    assert [(e["row"], e["column"]) for e in response.json()["errors"]] == [
        (3, "SKU"),
        (4, "preorder"),
        (5, "SKU"),
        (6, "SKU"),
    ]
    assert (await kaspi.call("GET", "/preorders")).json()["total"] == 0
    wrong_header = await _import(kaspi, store["id"], _sheet([], header=["sku", "price"]))
    assert wrong_header.status_code == 422
    not_excel = await _import(kaspi, store["id"], b"SKU;price\n1;2\n")
    assert not_excel.status_code == 422
    other = await kaspi.call("GET", "/preorders/export", params={"store_id": 999999})
    assert other.status_code == 404


async def test_another_companys_preorders_are_404(
    kaspi: Kaspi, sandbox: SandboxState, run_worker: RunWorker, factory: Factory
) -> None:
    store = await _store(kaspi, run_worker, sandbox)
    offer = await _offer(kaspi, PHONE)
    preorder = await _set(kaspi, offer["id"], 4)
    stranger = await factory.headers(await factory.user(await factory.company()))
    api = "/api/v1/kaspi"
    for method, path, kwargs in (
        ("GET", f"/preorders/{preorder['id']}", {}),
        ("DELETE", f"/preorders/{preorder['id']}", {}),
        ("POST", "/preorders", {"json": {"offer_id": offer["id"], "days": 1}}),
        ("POST", "/preorders/upload", {"params": {"store_id": store["id"]}}),
        ("GET", "/preorders/export", {"params": {"store_id": store["id"]}}),
        (
            "POST",
            "/preorders/import",
            {"params": {"store_id": store["id"]}, "files": {"file": ("a.xlsx", b"x")}},
        ),
        ("POST", "/offers/demper/bulk", {"json": {"offer_ids": [offer["id"]], "enabled": False}}),
    ):
        response = await kaspi.client.request(method, f"{api}{path}", headers=stranger, **kwargs)
        assert response.status_code == 404, f"{method} {path}: {response.status_code} {response.text}"
    listed = await kaspi.client.get(f"{api}/preorders", headers=stranger)
    assert listed.json()["total"] == 0
    assert (await _get(kaspi, preorder["id"]))["days"] == 4
