"""Logging in to the cabinet without a browser, the way the login page does it: open the page
(`GET {auth}/login`, which starts a login session: the `MS_AUTH_SSO` cookie), then its JSON calls
(`POST {auth}/api/p/login`, each answer rotating that cookie), then the OAuth2 code flow that sets
the cabinet's `mc-session`/`mc-sid`. Kaspi answers 401 to a login POST without the cookie.

The whole state of a half-done login is its cookie jar, rotated cookie included, so a pending code
step can be stored (encrypted, with a TTL) and finished by any process later: `cookies()` after
every step, also after a wrong code.
"""

import re
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from sauda.config import KaspiSettings
from sauda.kaspi.client.errors import (
    KaspiAccessDenied,
    KaspiBlocked,
    KaspiCodeInvalid,
    KaspiError,
    KaspiFlood,
    KaspiLoginFailed,
    KaspiNoPendingLogin,
    KaspiWrongCredentials,
)
from sauda.kaspi.client.http import (
    StoredCookies,
    call_with_retries,
    check_transient,
    dump_cookies,
    is_html,
    json_body,
    load_cookies,
    new_http,
)

SESSION_COOKIE = "mc-session"
SSO_COOKIE = "MS_AUTH_SSO"
_DIGITS = re.compile(r"\D")


def phone_mask(phone: str) -> str:
    """`+7 (7NN) NNN-NN-NN`, the only form Kaspi's login accepts; ValueError when it is not one."""
    digits = _DIGITS.sub("", phone)
    if len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    if len(digits) != 10 or digits[0] != "7":
        raise ValueError("a Kazakhstan mobile number, e.g. +7 701 234 56 78")
    return f"+7 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}"


@dataclass(frozen=True)
class LoginStep:
    """Where a login stands: `done` with session cookies, or waiting for a code."""

    done: bool
    cookies: StoredCookies


def login_error(status: int, body: Any, *, first_step: bool = False) -> KaspiError:
    """Kaspi's answer to a login step, as the API error the merchant can act on. `first_step`:
    the password or phone step, where no code was asked for yet, so Kaspi "timing out" cannot be
    the merchant's delay: it refused the login session the login page had just opened."""
    body = body if isinstance(body, dict) else {}
    code = str(body.get("errorCode") or "")
    data = body.get("errorData") if isinstance(body.get("errorData"), dict) else {}
    if code in ("MFA_SEND_FLOOD", "MFA_CODE_TOO_MANY_SEND"):
        raw = data.get("breakTimeSeconds")
        wait = raw if isinstance(raw, int) else 300
        return KaspiFlood(f"Kaspi sent too many codes; wait {wait} s before asking again", retry_after=wait)
    if code == "CREDENTIALS_INVALID":
        return KaspiWrongCredentials("Kaspi: wrong email or password")
    if code == "MFA_CODE_ATTEMPT_LIMIT":
        return KaspiCodeInvalid("Kaspi: too many wrong codes; start the login again", retry_from_scratch=True)
    if code == "SECURITY_CODE_INVALID":
        return KaspiCodeInvalid("Kaspi: wrong code")
    if code in ("INSUFFICIENT_PERMISSIONS", "NO_MERCHANTS"):
        return KaspiAccessDenied(f"Kaspi: this account cannot use a merchant cabinet ({code})")
    if code == "TIMEOUT_EXCEEDED" and not first_step:
        return KaspiNoPendingLogin(
            "Kaspi no longer knows this login (TIMEOUT_EXCEEDED: the code came too late); start it again"
        )
    if status in (403, 429):
        return KaspiBlocked(f"Kaspi's login refused this client ({status}); try later")
    if code == "TIMEOUT_EXCEEDED":
        return KaspiLoginFailed(
            "Kaspi refused the login: it did not recognise the login session its login page had "
            f"just opened ({status} TIMEOUT_EXCEEDED)"
        )
    return KaspiLoginFailed(f"Kaspi refused the login ({status} {code or 'without an error code'})")


class JsonLogin:
    def __init__(
        self, settings: KaspiSettings, *, cookies: StoredCookies | None = None, proxy: str | None = None
    ) -> None:
        self.settings = settings
        self.auth = settings.auth_url.rstrip("/")
        self.http = new_http(
            settings, proxy=proxy, cookies=load_cookies(cookies or []), follow_redirects=True
        )

    async def __aenter__(self) -> "JsonLogin":
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.http.aclose()

    def cookies(self) -> StoredCookies:
        """The jar as it stands, with the `MS_AUTH_SSO` of Kaspi's latest answer."""
        return dump_cookies(self.http.cookies)

    async def _open_page(self) -> None:
        """`GET {auth}/login`: the login session every later step must carry (`MS_AUTH_SSO`)."""

        async def send() -> httpx.Response:
            response = await self.http.get(f"{self.auth}/login", headers={"Accept": "text/html,*/*"})
            check_transient(response, "login page")
            return response

        response = await call_with_retries(self.settings, send, "login page")
        if response.status_code != 200:
            raise KaspiLoginFailed(f"Kaspi's login page answered {response.status_code}")
        if SSO_COOKIE not in {c.name for c in self.http.cookies.jar}:
            raise KaspiLoginFailed(f"Kaspi's login page did not start a login session (no {SSO_COOKIE})")

    async def _step(self, payload: dict[str, Any], *, first: bool = False) -> dict[str, Any]:
        async def send() -> httpx.Response:
            response = await self.http.post(
                f"{self.auth}/api/p/login",
                json=payload,
                headers={"Origin": self.settings.auth_url, "Referer": f"{self.auth}/login"},
            )
            check_transient(response, "login")
            return response

        response = await call_with_retries(self.settings, send, "login")
        if response.status_code != 200:
            body = None if is_html(response) else json_body(response, "login")
            raise login_error(response.status_code, body, first_step=first)
        body = json_body(response, "login")
        return body if isinstance(body, dict) else {}

    async def _done_or_code(self, body: dict[str, Any]) -> LoginStep:
        if body.get("redirectUrl"):
            return LoginStep(True, await self.finish())
        return LoginStep(False, self.cookies())

    async def password(self, email: str, password: str) -> LoginStep:
        await self._open_page()
        body = await self._step({"_u": email, "_p": password, "_r_d": False}, first=True)
        return await self._done_or_code(body)

    async def email_code(self, email: str, code: str) -> LoginStep:
        """The code step of a pending login: its jar is the one stored after the password step."""
        body = await self._step({"_u": email, "_m_c": code, "_r_d": True})
        if not body.get("redirectUrl"):
            raise KaspiCodeInvalid("Kaspi did not accept the code")
        return LoginStep(True, await self.finish())

    async def phone(self, phone: str) -> LoginStep:
        await self._open_page()
        await self._step({"_ph": phone_mask(phone)}, first=True)
        return LoginStep(False, self.cookies())

    async def sms_code(self, code: str) -> LoginStep:
        body = await self._step({"_c": code})
        if not body.get("redirectUrl"):
            raise KaspiCodeInvalid("Kaspi did not accept the code")
        return LoginStep(True, await self.finish())

    async def finish(self) -> StoredCookies:
        """The OAuth2 code flow: `{cabinet}/oauth2/authorization/1` → auth → back with the code,
        which sets `mc-session` and `mc-sid`. The jar keeps cookies set mid-chain."""
        url = f"{self.settings.cabinet_url.rstrip('/')}/oauth2/authorization/1"

        async def send() -> httpx.Response:
            response = await self.http.get(url, headers={"Accept": "text/html,*/*"})
            check_transient(response, "login")
            return response

        response = await call_with_retries(self.settings, send, "login")
        if SESSION_COOKIE not in {c.name for c in self.http.cookies.jar}:
            raise KaspiLoginFailed(f"Kaspi did not open a cabinet session (answer {response.status_code})")
        return dump_cookies(self.http.cookies)
