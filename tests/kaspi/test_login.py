"""Logging in to the Kaspi sandbox through the API: JSON and Chromium, email and SMS, faults."""

import asyncio

import httpx
import pytest
from playwright.async_api import Browser
from redis.asyncio import Redis
from sqlalchemy import text

from sauda.config import KaspiSettings, Settings
from sauda.sandboxes.kaspi import SandboxState
from tests.clock import ForwardClock
from tests.factories import Factory
from tests.kaspi.conftest import EMAIL, MASKED_PHONE, PASSWORD, PHONE, UID, Kaspi, stored


async def test_json_email_login_opens_an_encrypted_session(
    kaspi: Kaspi, factory: Factory, sandbox: SandboxState
) -> None:
    store = await kaspi.new_store(login_email=EMAIL)
    response = await kaspi.login(store["id"], mode="json")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "logged_in"
    assert body["store"]["status"] == "active"
    assert body["store"]["merchant_uid"] == UID
    assert body["store"]["merchant_name"] == "Sandbox Electronics"
    assert body["store"]["has_session"] is True
    assert body["store"]["has_credentials"] is False
    assert sandbox.logins[UID] == 1
    row = await stored(factory, store["id"])
    assert row.session_encrypted is not None
    session_token = next(iter(sandbox.sessions))
    assert session_token not in row.session_encrypted
    assert "mc-session" not in row.session_encrypted


async def test_the_sandbox_refuses_a_login_post_not_opened_by_the_login_page(
    sandbox_url: str, sandbox: SandboxState
) -> None:
    """As Kaspi does: the login page hands out `MS_AUTH_SSO`, a POST without it gets 401, and a
    step that succeeds replaces it (the previous value stops working)."""
    phone = {"_ph": MASKED_PHONE}
    async with httpx.AsyncClient(base_url=f"{sandbox_url}/idmc") as http:
        cold = await http.post("/api/p/login", json=phone)
        assert (cold.status_code, cold.json()) == (401, {"errorCode": "TIMEOUT_EXCEEDED"})

        page = await http.get("/login")
        assert page.status_code == 200
        opened = http.cookies["MS_AUTH_SSO"]
        sent = await http.post("/api/p/login", json=phone)
        assert sent.status_code == 200, sent.text
        rotated = http.cookies["MS_AUTH_SSO"]
        assert rotated != opened
        cabinet = f"{sandbox_url}/mc/oauth2/authorization/1"
        async with httpx.AsyncClient(cookies={"MS_AUTH_SSO": rotated}) as early:
            # the OAuth chain before the code step: back to the login page, no cabinet session
            answer = await early.get(cabinet, follow_redirects=True)
            assert answer.url.path == "/idmc/login"
            assert "mc-session" not in early.cookies

        code = {"_c": sandbox.last_code(MASKED_PHONE)}
        async with httpx.AsyncClient(base_url=http.base_url, cookies={"MS_AUTH_SSO": opened}) as replay:
            stale = await replay.post("/api/p/login", json=code)
        assert (stale.status_code, stale.json()) == (401, {"errorCode": "TIMEOUT_EXCEEDED"})
        done = await http.post("/api/p/login", json=code)
        assert done.status_code == 200, done.text
        assert done.json()["redirectUrl"]
        assert (await http.get(cabinet, follow_redirects=True)).status_code == 200
        assert "mc-session" in http.cookies


@pytest.mark.browser
@pytest.mark.parametrize("mode", ["browser", "json"])
async def test_kaspi_refusing_the_login_session_is_not_a_timeout(
    kaspi: Kaspi, kaspi_browser: Browser, sandbox: SandboxState, mode: str
) -> None:
    """A 401 on the first step is Kaspi refusing us, not the merchant being slow."""
    sandbox.faults.forget_login_sessions = True
    store = await kaspi.new_store()
    response = await kaspi.login(store["id"], mode=mode)
    assert response.status_code == 502, response.text
    assert response.json()["error"] == "kaspi_login_failed"
    assert "TIMEOUT_EXCEEDED" in response.json()["detail"]
    assert "timed out" not in response.json()["detail"]
    assert (await kaspi.call("GET", f"/stores/{store['id']}")).json()["status"] == "new"


async def test_remembered_credentials_are_encrypted(kaspi: Kaspi, factory: Factory) -> None:
    store = await kaspi.logged_in_store(remember_credentials=True)
    assert store["has_credentials"] is True
    row = await stored(factory, store["id"])
    assert row.credentials_encrypted is not None
    assert PASSWORD not in row.credentials_encrypted
    assert EMAIL not in row.credentials_encrypted


@pytest.mark.browser
async def test_browser_email_login(kaspi: Kaspi, kaspi_browser: Browser, sandbox: SandboxState) -> None:
    store = await kaspi.new_store()
    response = await kaspi.login(store["id"], mode="browser")
    assert response.status_code == 200, response.text
    assert response.json()["store"]["status"] == "active"
    assert sandbox.logins[UID] == 1
    assert kaspi_browser.contexts == []  # nothing stays open


@pytest.mark.browser
@pytest.mark.parametrize("mode", ["browser", "json"])
async def test_email_login_with_emailed_code(
    kaspi: Kaspi, kaspi_browser: Browser, sandbox: SandboxState, mode: str
) -> None:
    sandbox.faults.code_required = True
    store = await kaspi.new_store()
    response = await kaspi.login(store["id"], mode=mode, remember_credentials=True)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "code_required"
    assert response.json()["channel"] == "email"
    assert response.json()["store"]["status"] == "new"
    assert kaspi_browser.contexts == []

    wrong = await kaspi.call("POST", f"/stores/{store['id']}/login/code", json={"code": "000000"})
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "kaspi_code_invalid"

    code = sandbox.last_code(EMAIL)
    done = await kaspi.call("POST", f"/stores/{store['id']}/login/code", json={"code": code})
    assert done.status_code == 200, done.text
    assert done.json()["store"]["status"] == "active"
    assert done.json()["store"]["has_credentials"] is True
    assert sandbox.logins[UID] == 1


@pytest.mark.browser
@pytest.mark.parametrize("mode", ["browser", "json"])
async def test_sms_login(kaspi: Kaspi, kaspi_browser: Browser, sandbox: SandboxState, mode: str) -> None:
    store = await kaspi.new_store()
    start = await kaspi.call(
        "POST", f"/stores/{store['id']}/login/sms/start", json={"phone": PHONE, "mode": mode}
    )
    assert start.status_code == 200, start.text
    assert start.json()["status"] == "code_required"
    assert start.json()["channel"] == "phone"
    assert start.json()["expires_in"] > 0
    assert start.json()["store"]["login_phone"] == MASKED_PHONE
    assert kaspi_browser.contexts == []

    waiting = (await kaspi.call("GET", f"/stores/{store['id']}/login")).json()
    assert waiting["pending"] == "phone"
    assert 0 < waiting["expires_in"] <= 600
    code = sandbox.last_code(MASKED_PHONE)
    verify = await kaspi.call("POST", f"/stores/{store['id']}/login/sms/verify", json={"code": code})
    assert verify.status_code == 200, verify.text
    assert verify.json()["store"]["status"] == "active"
    assert verify.json()["store"]["merchant_uid"] == UID
    assert sandbox.logins[UID] == 1

    assert (await kaspi.call("GET", f"/stores/{store['id']}/login")).json() == {
        "pending": None,
        "expires_in": None,
    }
    again = await kaspi.call("POST", f"/stores/{store['id']}/login/sms/verify", json={"code": code})
    assert again.status_code == 409
    assert again.json()["error"] == "kaspi_no_pending_login"


async def test_pending_sms_login_lives_in_redis_not_in_the_process(
    kaspi: Kaspi, sandbox: SandboxState, redis: Redis, app: object
) -> None:
    """Another API process finishes the login: all it needs is the encrypted pending state."""
    store = await kaspi.new_store(login_phone=PHONE)
    start = await kaspi.call("POST", f"/stores/{store['id']}/login/sms/start", json={})
    assert start.status_code == 200, start.text
    key = f"sauda:kaspi:pending-login:{store['id']}"
    raw = await redis.get(key)
    assert raw is not None
    assert b"MS_AUTH_SSO" not in raw
    assert 0 < await redis.ttl(key) <= 600
    # what a second process would do: read only Redis and the database
    from sauda.db import transaction
    from sauda.kaspi.client.gateway import KaspiGateway
    from sauda.kaspi.models import KaspiStore
    from sauda.kaspi.stores import service

    settings: Settings = app.state.settings  # type: ignore[attr-defined]
    other_redis = Redis.from_url(settings.redis.url)
    try:
        async with transaction(app.state.sessionmaker) as session:  # type: ignore[attr-defined]
            row = await session.get_one(KaspiStore, store["id"])
            gateway = KaspiGateway(settings, other_redis)
            code = sandbox.last_code(MASKED_PHONE)
            result = await service.verify_code(session, gateway, row, code, kind="phone")
    finally:
        await other_redis.aclose()
    assert result.logged_in
    assert await redis.get(key) is None
    assert (await kaspi.call("GET", f"/stores/{store['id']}")).json()["status"] == "active"


async def test_pending_login_expires(
    kaspi: Kaspi, sandbox: SandboxState, kaspi_settings: KaspiSettings, clock: ForwardClock
) -> None:
    store = await kaspi.new_store()
    await kaspi.call("POST", f"/stores/{store['id']}/login/sms/start", json={"phone": PHONE})
    await clock.advance(kaspi_settings.pending_login_seconds)
    code = sandbox.last_code(MASKED_PHONE)
    response = await kaspi.call("POST", f"/stores/{store['id']}/login/sms/verify", json={"code": code})
    assert response.status_code == 409
    assert response.json()["error"] == "kaspi_no_pending_login"


@pytest.mark.browser
@pytest.mark.parametrize("mode", ["browser", "json"])
async def test_wrong_password(kaspi: Kaspi, kaspi_browser: Browser, sandbox: SandboxState, mode: str) -> None:
    store = await kaspi.new_store()
    response = await kaspi.login(store["id"], password="not-the-password", mode=mode)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "kaspi_wrong_credentials"
    assert "wrong email or password" in response.json()["detail"]
    assert (await kaspi.call("GET", f"/stores/{store['id']}")).json()["status"] == "new"
    assert sandbox.logins[UID] == 0


@pytest.mark.browser
@pytest.mark.parametrize("mode", ["browser", "json"])
async def test_code_flood_says_how_long_to_wait(
    kaspi: Kaspi, kaspi_browser: Browser, sandbox: SandboxState, mode: str
) -> None:
    sandbox.faults.flood_seconds = 321
    store = await kaspi.new_store()
    response = await kaspi.call(
        "POST", f"/stores/{store['id']}/login/sms/start", json={"phone": PHONE, "mode": mode}
    )
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "kaspi_code_flood"
    assert "321" in response.json()["detail"]
    assert response.headers["Retry-After"] == "321"


async def test_too_many_codes_is_a_flood(kaspi: Kaspi, sandbox: SandboxState) -> None:
    sandbox.limits.max_code_sends = 2
    store = await kaspi.new_store()
    statuses = []
    for _ in range(3):
        response = await kaspi.call("POST", f"/stores/{store['id']}/login/sms/start", json={"phone": PHONE})
        statuses.append(response.status_code)
    assert statuses == [200, 200, 429]


async def test_unknown_phone_is_access_denied(kaspi: Kaspi) -> None:
    store = await kaspi.new_store()
    response = await kaspi.call(
        "POST", f"/stores/{store['id']}/login/sms/start", json={"phone": "+77770000000"}
    )
    assert response.status_code == 403
    assert response.json()["error"] == "kaspi_access_denied"


async def test_bad_phone_is_422(kaspi: Kaspi) -> None:
    store = await kaspi.new_store()
    response = await kaspi.call("POST", f"/stores/{store['id']}/login/sms/start", json={"phone": "12345"})
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "phone"


@pytest.mark.browser
@pytest.mark.parametrize("mode", ["browser", "json"])
async def test_bot_wall_on_login_is_blocked_not_wrong_password(
    kaspi: Kaspi, kaspi_browser: Browser, sandbox: SandboxState, mode: str
) -> None:
    sandbox.faults.bot_wall = {"auth"}
    store = await kaspi.new_store()
    response = await kaspi.login(store["id"], mode=mode)
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "kaspi_blocked"


async def test_two_logins_at_once_make_one_login(kaspi: Kaspi, sandbox: SandboxState) -> None:
    sandbox.faults.delay_seconds = 0.3  # keep the first login busy while the second arrives
    store = await kaspi.new_store()
    first, second = await asyncio.gather(kaspi.login(store["id"]), kaspi.login(store["id"]))
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    refused = first if first.status_code == 409 else second
    assert refused.json()["error"] == "kaspi_login_in_progress"
    assert sandbox.logins[UID] == 1
    assert len(sandbox.sessions) == 1


async def test_expired_session_is_renewed_with_stored_password(kaspi: Kaspi, sandbox: SandboxState) -> None:
    store = await kaspi.logged_in_store(remember_credentials=True)
    sandbox.expire_sessions()
    response = await kaspi.call("POST", f"/stores/{store['id']}/session/check")
    assert response.status_code == 200, response.text
    assert response.json()["valid"] is True
    assert response.json()["store"]["status"] == "active"
    assert sandbox.logins[UID] == 2


async def test_expired_session_without_password_needs_login(kaspi: Kaspi, sandbox: SandboxState) -> None:
    store = await kaspi.logged_in_store()
    assert (await kaspi.call("POST", f"/stores/{store['id']}/session/check")).json()["valid"] is True
    sandbox.expire_sessions()
    response = await kaspi.call("POST", f"/stores/{store['id']}/session/check")
    assert response.status_code == 200
    assert response.json()["valid"] is False
    after = (await kaspi.call("GET", f"/stores/{store['id']}")).json()
    assert after["status"] == "needs_login"
    assert "expired" in after["status_reason"]
    assert sandbox.logins[UID] == 1


async def test_renewal_needing_a_code_leaves_the_store_waiting_for_it(
    kaspi: Kaspi, sandbox: SandboxState
) -> None:
    store = await kaspi.logged_in_store(remember_credentials=True)
    sandbox.expire_sessions()
    sandbox.faults.code_required = True
    response = await kaspi.call("POST", f"/stores/{store['id']}/session/check")
    assert response.json()["valid"] is False
    after = (await kaspi.call("GET", f"/stores/{store['id']}")).json()
    assert after["status"] == "needs_login"
    assert "code" in after["status_reason"]
    code = sandbox.last_code(EMAIL)
    done = await kaspi.call("POST", f"/stores/{store['id']}/login/code", json={"code": code})
    assert done.status_code == 200, done.text
    assert done.json()["store"]["status"] == "active"


async def test_changed_password_needs_login_and_forgets_it(
    kaspi: Kaspi, sandbox: SandboxState, factory: Factory
) -> None:
    store = await kaspi.logged_in_store(remember_credentials=True)
    sandbox.expire_sessions()
    sandbox.faults.wrong_password = True
    response = await kaspi.call("POST", f"/stores/{store['id']}/session/check")
    assert response.json()["valid"] is False
    after = (await kaspi.call("GET", f"/stores/{store['id']}")).json()
    assert after["status"] == "needs_login"
    assert "wrong email or password" in after["status_reason"]
    assert after["has_credentials"] is False
    assert (await stored(factory, store["id"])).credentials_encrypted is None


async def test_logout_forgets_session_and_password(kaspi: Kaspi, factory: Factory) -> None:
    store = await kaspi.logged_in_store(remember_credentials=True)
    response = await kaspi.call("DELETE", f"/stores/{store['id']}/session")
    assert response.status_code == 200
    assert response.json()["has_session"] is False
    row = await stored(factory, store["id"])
    assert (row.session_encrypted, row.credentials_encrypted) == (None, None)


async def test_secrets_never_leave_the_database_readable(kaspi: Kaspi, factory: Factory) -> None:
    await kaspi.logged_in_store(remember_credentials=True)
    async with factory.sessionmaker() as session:
        dump = str((await session.execute(text("SELECT kaspi_stores::text FROM kaspi_stores"))).all())
    assert PASSWORD not in dump
    assert "mc-session" not in dump


async def test_a_login_without_remembering_forgets_the_old_password(kaspi: Kaspi) -> None:
    store = await kaspi.logged_in_store(remember_credentials=True)
    again = await kaspi.login(store["id"])
    assert again.json()["store"]["has_credentials"] is False


async def test_an_sms_login_keeps_the_remembered_password(kaspi: Kaspi, sandbox: SandboxState) -> None:
    store = await kaspi.logged_in_store(remember_credentials=True)
    await kaspi.call("POST", f"/stores/{store['id']}/login/sms/start", json={"phone": PHONE})
    code = sandbox.last_code(MASKED_PHONE)
    done = await kaspi.call("POST", f"/stores/{store['id']}/login/sms/verify", json={"code": code})
    assert done.json()["store"]["has_credentials"] is True


async def test_too_many_wrong_codes_end_the_pending_login(kaspi: Kaspi, sandbox: SandboxState) -> None:
    store = await kaspi.new_store()
    await kaspi.call("POST", f"/stores/{store['id']}/login/sms/start", json={"phone": PHONE})
    answers = [
        (await kaspi.call("POST", f"/stores/{store['id']}/login/sms/verify", json={"code": "000000"})).json()
        for _ in range(4)
    ]
    assert [a["error"] for a in answers] == ["kaspi_code_invalid"] * 4
    assert "start the login again" in answers[-1]["detail"]
    code = sandbox.last_code(MASKED_PHONE)
    late = await kaspi.call("POST", f"/stores/{store['id']}/login/sms/verify", json={"code": code})
    assert late.json()["error"] == "kaspi_no_pending_login"


@pytest.mark.browser
@pytest.mark.parametrize("mode", ["browser", "json"])
async def test_html_instead_of_login_data_is_blocked(
    kaspi: Kaspi, kaspi_browser: Browser, sandbox: SandboxState, mode: str
) -> None:
    sandbox.faults.html_instead_of_json = {"auth"}
    store = await kaspi.new_store()
    response = await kaspi.login(store["id"], mode=mode)
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "kaspi_blocked"
    assert (await kaspi.call("GET", f"/stores/{store['id']}")).json()["status"] == "new"


@pytest.mark.browser
@pytest.mark.parametrize("mode", ["browser", "json"])
async def test_slow_login_times_out(
    kaspi: Kaspi, kaspi_browser: Browser, sandbox: SandboxState, kaspi_settings: KaspiSettings, mode: str
) -> None:
    kaspi_settings.timeout_seconds = kaspi_settings.browser_timeout_seconds = 0.3
    kaspi_settings.retries = 1
    sandbox.faults.delay_seconds = 1.0
    store = await kaspi.new_store()
    response = await kaspi.login(store["id"], mode=mode)
    assert response.status_code == 502, response.text
    assert response.json()["error"] == "kaspi_unavailable"
