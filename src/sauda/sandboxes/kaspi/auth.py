"""The auth host (idmc.shop.kaspi.kz): the login page, the JSON login steps tied together by the
rotating `MS_AUTH_SSO` cookie, and the OAuth2 authorize step (KASPI.md "Login").

As strict as Kaspi: only the login page hands out a login session (`MS_AUTH_SSO`); a login POST
without the current one answers 401, and every step that succeeds replaces it, so a client that
skips the page or loses a rotated cookie between two steps fails here as it would at Kaspi."""

import re
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from sauda.sandboxes.kaspi.state import AUTH, CABINET, SandboxState, SsoStep, StateDep

SSO_COOKIE = "MS_AUTH_SSO"
PHONE_MASK = re.compile(r"^\+7 \(7\d\d\) \d{3}-\d\d-\d\d$")

router = APIRouter(prefix=AUTH, include_in_schema=False)


def _login_page(cabinet_entry: str) -> str:
    page = (Path(__file__).parent / "login_page.html").read_text(encoding="utf-8")
    return page.replace("__CABINET_ENTRY__", cabinet_entry)


def _error(status: int, code: str, **data: Any) -> JSONResponse:
    body: dict[str, Any] = {"errorCode": code}
    if data:
        body["errorData"] = data
    return JSONResponse(body, status)


def _rotate(state: SandboxState, response: Response, old: str | None, step: SsoStep) -> Response:
    """Kaspi sets a new `MS_AUTH_SSO` at every step; the old one is forgotten. The cookie belongs
    to the auth host only (its path here), as on Kaspi's own domain."""
    if old:
        state.sso.pop(old, None)
    token = secrets.token_urlsafe(16)
    state.sso[token] = step
    response.set_cookie(SSO_COOKIE, token, path=AUTH, httponly=True)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(state: StateDep) -> Response:
    """Opening the page starts a new login session (the only way to get one)."""
    page = HTMLResponse(_login_page(f"{CABINET}/oauth2/authorization/1"))
    return _rotate(state, page, None, SsoStep("start"))


@router.post("/api/p/login")
async def json_login(request: Request, state: StateDep) -> Response:
    if state.faults.forget_login_sessions:
        state.sso.clear()
    old = request.cookies.get(SSO_COOKIE)
    if old is None or old not in state.sso:
        # What Kaspi answers a POST that did not come from its login page (or a stale cookie).
        return _error(401, "TIMEOUT_EXCEEDED")
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "BAD_REQUEST")
    if not isinstance(body, dict):
        return _error(400, "BAD_REQUEST")
    if "_p" in body:
        return _password(state, body, old)
    if "_m_c" in body or "_c" in body:
        return _code(state, body, old)
    if "_ph" in body:
        return _phone(state, body, old)
    return _error(400, "BAD_REQUEST")


def _password(state: SandboxState, body: dict[str, Any], old: str | None) -> Response:
    merchant = next((m for m in state.merchants.values() if m.email == body.get("_u")), None)
    if merchant is None or merchant.password != body["_p"] or state.faults.wrong_password:
        return _error(401, "CREDENTIALS_INVALID")
    if not state.faults.code_required:
        done = JSONResponse({"redirectUrl": f"{CABINET}/oauth2/authorization/1"})
        return _rotate(state, done, old, SsoStep("authenticated", merchant.uid, merchant.email))
    if (wait := state.send_code(merchant.email)) is not None:
        return _error(401, "MFA_SEND_FLOOD", breakTimeSeconds=wait)
    return _rotate(state, JSONResponse({}), old, SsoStep("email_code", merchant.uid, merchant.email))


def _code(state: SandboxState, body: dict[str, Any], old: str | None) -> Response:
    step = state.sso.get(old or "")
    stage, value = ("email_code", body.get("_m_c")) if "_m_c" in body else ("sms_code", body["_c"])
    if step is None or step.stage != stage:
        return _error(401, "TIMEOUT_EXCEEDED")
    if step.attempts >= 3:
        return _error(401, "MFA_CODE_ATTEMPT_LIMIT")
    if str(value) != state.codes.get(step.who):
        # A wrong code is a step too: the next try must come with the cookie of this answer.
        step.attempts += 1
        return _rotate(state, _error(401, "SECURITY_CODE_INVALID"), old, step)
    redirect = "/" if stage == "sms_code" else f"{CABINET}/oauth2/authorization/1"
    done = JSONResponse({"redirectUrl": redirect})
    return _rotate(state, done, old, SsoStep("authenticated", step.uid, step.who))


def _phone(state: SandboxState, body: dict[str, Any], old: str | None) -> Response:
    phone = str(body["_ph"])
    if not PHONE_MASK.match(phone):
        return _error(400, "PHONE_FORMAT_INVALID")
    merchant = next((m for m in state.merchants.values() if m.phone == phone), None)
    if merchant is None:
        return _error(401, "NO_MERCHANTS")
    if (wait := state.send_code(phone)) is not None:
        return _error(401, "MFA_SEND_FLOOD", breakTimeSeconds=wait)
    return _rotate(state, JSONResponse({"phone": phone}), old, SsoStep("sms_code", merchant.uid, phone))


@router.get("/oauth2/authorize")
async def authorize(request: Request, state: StateDep, redirect_uri: str = "") -> Response:
    oauth_state = request.query_params.get("state", "")
    step = state.sso.get(request.cookies.get(SSO_COOKIE, ""))
    if step is None or step.stage != "authenticated":
        return RedirectResponse(f"{AUTH}/login", 302)
    code = secrets.token_urlsafe(12)
    state.oauth_codes[code] = step.uid
    return RedirectResponse(f"{redirect_uri}?code={code}&state={oauth_state}", 302)
