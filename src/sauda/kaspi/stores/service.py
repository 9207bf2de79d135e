"""Business rules of Kaspi stores: the store, logins and sessions, sync. Flushes, never
commits. Kaspi calls go through `KaspiGateway`; errors that must leave a trace on the store
(needs_login, locked) are raised after the store row was changed and keep that change."""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from sauda.auth.models import User
from sauda.clock import now
from sauda.errors import Conflict, InvalidInput
from sauda.kaspi.client.cabinet import CabinetClient
from sauda.kaspi.client.deadline import bounded
from sauda.kaspi.client.errors import (
    KaspiBlocked,
    KaspiCodeInvalid,
    KaspiError,
    KaspiFlood,
    KaspiLoginInProgress,
    KaspiNeedsLogin,
    KaspiNoPendingLogin,
    KaspiSessionExpired,
    KaspiStoreLocked,
    KaspiUnavailable,
    KaspiWrongCredentials,
)
from sauda.kaspi.client.gateway import KaspiGateway
from sauda.kaspi.client.http import StoredCookies
from sauda.kaspi.client.login import LoginStep
from sauda.kaspi.client.payloads import offer_row
from sauda.kaspi.client.ratelimit import CodeFlood
from sauda.kaspi.models import KaspiStore, OfferState, StoreStatus
from sauda.kaspi.offers.repository import OfferRepository
from sauda.kaspi.stores.repository import StoreRepository
from sauda.kaspi.stores.schemas import PasswordLoginIn, SmsStartIn, StoreCreate, StoreUpdate
from sauda.network.service import owner_company
from sauda.tenancy import Scope

log = logging.getLogger(__name__)
T = TypeVar("T")
_KEEP = object()  # leave the stored password as it is
MAX_PAGES = 1000


# --- stores ---------------------------------------------------------------------------------------


async def create_store(session: AsyncSession, scope: Scope, actor: User, data: StoreCreate) -> KaspiStore:
    company_id = await owner_company(session, scope, actor, data.company_id)
    values = data.model_dump(exclude={"company_id"})
    return await StoreRepository(session, scope).add(KaspiStore(**values, company_id=company_id))


async def update_store(session: AsyncSession, store: KaspiStore, data: StoreUpdate) -> KaspiStore:
    # Which fields may be null is the schema's rule (`StoreUpdate.nullable`).
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(store, field, value)
    await session.flush()
    return store


async def delete_store(session: AsyncSession, gateway: KaspiGateway, store: KaspiStore) -> None:
    await gateway.drop_pending(store.id)
    await gateway.forget_outcome(store.id)
    await session.delete(store)
    await session.flush()


async def forget_session(session: AsyncSession, gateway: KaspiGateway, store: KaspiStore) -> KaspiStore:
    """Log out: drop the stored cookies, the stored password and any pending login."""
    await gateway.drop_pending(store.id)
    await gateway.forget_outcome(store.id)
    store.session_encrypted = None
    store.credentials_encrypted = None
    _needs_login(store, "Logged out")
    await session.flush()
    return store


def _login_route(store: KaspiStore) -> str:
    return f"POST /api/v1/kaspi/stores/{store.id}/login"


def _needs_login(store: KaspiStore, why: str, *, then: str | None = None) -> None:
    """The store stops until someone logs in; `status_reason` says why and what to do."""
    todo = then or f"log in again ({_login_route(store)}, or .../login/sms/start)"
    log.warning("kaspi store %s needs a login: %s", store.id, why)
    store.status = StoreStatus.needs_login
    store.status_reason = f"{why}; {todo}"


def not_logged_in(store: KaspiStore) -> KaspiNeedsLogin:
    """The 409 of anything that needs the store's Kaspi session while it has none."""
    todo = store.status_reason or f"log in ({_login_route(store)}) first"
    return KaspiNeedsLogin(f"Store {store.id} is not logged in to Kaspi: {todo}")


# --- logins ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    logged_in: bool
    channel: str | None = None
    expires_in: int | None = None


@asynccontextmanager
async def _one_login(gateway: KaspiGateway, store: KaspiStore, *, sends_code: bool) -> AsyncIterator[None]:
    """One login per store at a time; a step that may make Kaspi send a code waits out the
    store's MFA_SEND_FLOOD break here (asking Kaspi during it only restarts the break)."""
    flood = CodeFlood(gateway.redis, store.id)
    if sends_code:
        await flood.ensure_over()
    lock = gateway.login_lock(store.id)
    if not await lock.acquire():
        raise KaspiLoginInProgress("A login to this Kaspi store is already running; wait for it to finish")
    try:
        yield
    except KaspiFlood as exc:
        await flood.remember(exc.retry_after)
        raise
    finally:
        await lock.release()


async def login_with_password(
    session: AsyncSession, gateway: KaspiGateway, store: KaspiStore, data: PasswordLoginIn
) -> LoginResult:
    email = str(data.email or store.login_email or "")
    if not email:
        raise InvalidInput.for_field("email", "required: the store has no login_email")
    async with _one_login(gateway, store, sends_code=True):
        if gateway.login_mode(data.mode) == "browser":
            step = await gateway.browser_login().password(email, data.password)
        else:
            async with gateway.json_login() as login:
                step = await login.password(email, data.password)
        store.login_email = email
        secret = {"email": email, "password": data.password} if data.remember_credentials else None
        if step.done:
            await _open_session(session, gateway, store, step.cookies, credentials=secret)
            return LoginResult(True)
        pending = {"kind": "email", "email": email, "cookies": step.cookies, "credentials": secret}
        ttl = await gateway.save_pending(store.id, pending)
        await session.flush()
        return LoginResult(False, "email", ttl)


async def start_sms_login(
    session: AsyncSession, gateway: KaspiGateway, store: KaspiStore, data: SmsStartIn
) -> LoginResult:
    phone = data.phone or store.login_phone
    if not phone:
        raise InvalidInput.for_field("phone", "required: the store has no login_phone")
    async with _one_login(gateway, store, sends_code=True):
        if gateway.login_mode(data.mode) == "browser":
            step = await gateway.browser_login().phone(phone)
        else:
            async with gateway.json_login() as login:
                step = await login.phone(phone)
        store.login_phone = phone
        ttl = await gateway.save_pending(store.id, {"kind": "phone", "cookies": step.cookies})
        await session.flush()
        return LoginResult(False, "phone", ttl)


async def verify_code(
    session: AsyncSession, gateway: KaspiGateway, store: KaspiStore, code: str, *, kind: str
) -> LoginResult:
    """Finish a pending login with the code Kaspi sent, in whichever process gets the request."""
    async with _one_login(gateway, store, sends_code=False):
        pending = await gateway.load_pending(store.id)
        if pending is None or pending.get("kind") != kind:
            raise KaspiNoPendingLogin(
                f"No {'SMS' if kind == 'phone' else 'email'} login is waiting for a code "
                "(it expired or was never started); start the login again"
            )
        async with gateway.json_login(pending["cookies"]) as login:
            try:
                if kind == "phone":
                    step = await login.sms_code(code)
                else:
                    step = await login.email_code(pending["email"], code)
            except (KaspiCodeInvalid, KaspiNoPendingLogin) as exc:
                if exc.retry_from_scratch:  # too many wrong codes, or Kaspi forgot the login
                    await gateway.drop_pending(store.id)
                else:  # a wrong code: the next try must carry the cookie Kaspi rotated with it
                    await gateway.keep_pending(store.id, pending | {"cookies": login.cookies()})
                raise
        await gateway.drop_pending(store.id)
        # An email login remembers the password only if asked to; an SMS login leaves it as it was.
        remembered = pending.get("credentials") if kind == "email" else _KEEP
        await _open_session(session, gateway, store, step.cookies, credentials=remembered)
        return LoginResult(True)


async def _open_session(
    session: AsyncSession,
    gateway: KaspiGateway,
    store: KaspiStore,
    cookies: StoredCookies,
    *,
    credentials: dict[str, str] | object | None,
) -> None:
    """Probe the new cookies (`/s/m`), bind the store to its merchant and store them encrypted."""
    async with gateway.cabinet(store, cookies) as cabinet:
        merchants = await cabinet.merchants()
        cookies = cabinet.cookies()
    uids = [str(m["uid"]) for m in merchants]
    if store.merchant_uid and store.merchant_uid not in uids:
        raise Conflict(
            f"This Kaspi account opens merchant {uids[0]}, but the store is merchant {store.merchant_uid}"
        )
    uid = store.merchant_uid or uids[0]
    if await StoreRepository(session, Scope.everything()).uid_taken(store.company_id, uid, store.id):
        raise Conflict(f"Another store of this company is already Kaspi merchant {uid}")
    merchant = next(m for m in merchants if str(m["uid"]) == uid)
    store.merchant_uid, store.merchant_name = uid, str(merchant.get("name") or "") or None
    store.session_encrypted = gateway.encrypt(cookies)
    if credentials is not _KEEP:
        store.credentials_encrypted = gateway.encrypt(credentials) if credentials else None
    store.status, store.status_reason = StoreStatus.active, None
    store.logged_in_at = store.session_checked_at = now()
    log.info("kaspi store %s logged in as merchant %s", store.id, uid)
    await session.flush()
    await gateway.share_outcome(store.id, {"cookies": cookies})


# --- sessions -------------------------------------------------------------------------------------


def ensure_logged_in(store: KaspiStore) -> None:
    if store.status is not StoreStatus.active or store.session_encrypted is None:
        raise not_logged_in(store)


def ensure_usable(store: KaspiStore, *, during_lock: bool = False) -> None:
    """Logged in, and — unless the call is one Kaspi's pricefeed lock leaves alone (the session
    probe) — not locked."""
    ensure_logged_in(store)
    if not during_lock and store.locked_until is not None and store.locked_until > now():
        seconds = int((store.locked_until - now()).total_seconds()) + 1
        raise KaspiStoreLocked(
            f"Kaspi limited this store; it is left alone for {seconds} s", retry_after=seconds
        )


async def with_cabinet(
    session: AsyncSession,
    gateway: KaspiGateway,
    store: KaspiStore,
    call: Callable[[CabinetClient], Awaitable[T]],
    *,
    during_lock: bool = False,
) -> T:
    """Run `call` with the store's session; on 401 renew it once (`_renew`) and run it again."""
    ensure_usable(store, during_lock=during_lock)
    try:
        expired = gateway.session_cookies(store)
        try:
            return await _run(session, gateway, store, call)
        except KaspiSessionExpired:
            await _renew(session, gateway, store, expired)
            return await _run(session, gateway, store, call)
    except KaspiStoreLocked as exc:
        log.warning("kaspi store %s locked for %s s", store.id, exc.retry_after)
        store.locked_until = now() + timedelta(seconds=exc.retry_after)
        await session.flush()
        raise


async def _renew(
    session: AsyncSession, gateway: KaspiGateway, store: KaspiStore, expired: StoredCookies
) -> None:
    """Replace the `expired` session: with the one another process's login just opened, after
    waiting (at most `login_wait_seconds`) for a login under way, or by logging in again."""
    lock = gateway.login_lock(store.id)
    wait = gateway.kaspi.login_wait_seconds
    for _ in range(2):
        if await _take_shared_login(session, gateway, store, expired):
            return
        if await lock.acquire():
            try:
                await _relogin(session, gateway, store)
            finally:
                await lock.release()
            return
        if not await lock.wait_released(wait):
            break
    raise KaspiLoginInProgress(
        f"Another login to this Kaspi store was still running after {wait:g} s; try again shortly"
    )


async def _take_shared_login(
    session: AsyncSession, gateway: KaspiGateway, store: KaspiStore, expired: StoredCookies
) -> bool:
    """Take the outcome of the store's latest login if it is newer than our `expired` session:
    its cookies, or its verdict that re-login is impossible (then no doomed login is tried)."""
    outcome = await gateway.login_outcome(store.id)
    if outcome is None:
        return False
    if "needs_login" in outcome:
        store.status, store.status_reason = StoreStatus.needs_login, str(outcome["needs_login"])
        await session.flush()
        raise not_logged_in(store)
    if outcome["cookies"] == expired:
        return False
    store.session_encrypted = gateway.encrypt(outcome["cookies"])
    store.status, store.status_reason = StoreStatus.active, None
    return True


async def _relogin(session: AsyncSession, gateway: KaspiGateway, store: KaspiStore) -> None:
    """Renew an expired session with the stored password (under the store's login lock). When
    that cannot work (no password, a wrong one, a code needed, Kaspi refusing the account) the
    store becomes needs_login with the reason, and calls fail fast until someone logs in.
    Timeouts and bot walls are passing trouble: they leave the store as it is."""
    if store.credentials_encrypted is None:
        await _stop(session, gateway, store, "The Kaspi session expired and no password is stored")
    if (pending := await gateway.load_pending(store.id)) is not None:
        # Someone is half-way through a login: a new one would send another code and end theirs.
        where = "sms/verify" if pending.get("kind") == "phone" else "code"
        then = f"send the code to {_login_route(store)}/{where}, or log in again"
        await _stop(session, gateway, store, "The Kaspi session expired while a login waits", then=then)
    secret = gateway.decrypt(store.credentials_encrypted)
    step = await _relogin_step(session, gateway, store, secret)
    if not step.done:
        pending = {"kind": "email", "email": secret["email"], "cookies": step.cookies, "credentials": secret}
        ttl = await gateway.save_pending(store.id, pending)
        then = f"send it to {_login_route(store)}/code within {ttl // 60} min, or log in again"
        await _stop(session, gateway, store, "Automatic re-login needs the code Kaspi e-mailed", then=then)
    await _open_session(session, gateway, store, step.cookies, credentials=secret)


async def _relogin_step(
    session: AsyncSession, gateway: KaspiGateway, store: KaspiStore, secret: dict[str, str]
) -> LoginStep:
    """The stored password's login step; any refusal but a passing outage (or Kaspi's code-flood
    break, which only has to be waited out) stops the store."""
    flood = CodeFlood(gateway.redis, store.id)
    try:
        await flood.ensure_over()
        return await _password_step(gateway, secret["email"], secret["password"])
    except KaspiFlood as exc:
        await flood.remember(exc.retry_after)
        raise
    except (KaspiUnavailable, KaspiBlocked):
        raise
    except KaspiError as exc:
        if isinstance(exc, KaspiWrongCredentials):
            store.credentials_encrypted = None  # never send that password again
        await _stop(session, gateway, store, f"Automatic re-login failed: {exc.message}")


async def _stop(
    session: AsyncSession, gateway: KaspiGateway, store: KaspiStore, why: str, *, then: str | None = None
) -> NoReturn:
    _needs_login(store, why, then=then)
    await session.flush()
    await gateway.share_outcome(store.id, {"needs_login": store.status_reason})
    raise not_logged_in(store)


async def _password_step(gateway: KaspiGateway, email: str, password: str) -> LoginStep:
    if gateway.login_mode(None) == "browser":
        return await gateway.browser_login().password(email, password)
    async with gateway.json_login() as login:
        return await login.password(email, password)


async def _run(
    session: AsyncSession,
    gateway: KaspiGateway,
    store: KaspiStore,
    call: Callable[[CabinetClient], Awaitable[T]],
) -> T:
    async with gateway.cabinet(store) as cabinet:
        async with bounded():  # pricefeed pacing included: within an API request's budget
            result = await call(cabinet)
        cookies = cabinet.cookies()
    if cookies != gateway.session_cookies(store):  # Kaspi refreshed a cookie: keep the new one
        store.session_encrypted = gateway.encrypt(cookies)
    store.session_checked_at = now()
    await session.flush()
    return result


def batch_call(items: list[dict[str, Any]]) -> Callable[[CabinetClient], Awaitable[str | None]]:
    """A call that sends `items` through the batch pricefeed (for `with_cabinet`); None when
    Kaspi took the batch without giving an upload id."""
    return lambda cabinet: cabinet.push_batch(items)


async def check_session(session: AsyncSession, gateway: KaspiGateway, store: KaspiStore) -> bool:
    """Probe `/s/m`; an expired session is renewed when a password is stored."""
    if store.session_encrypted is None:
        return False
    if store.status is StoreStatus.needs_login:
        store.status = StoreStatus.active  # let the probe decide
    try:
        await with_cabinet(session, gateway, store, lambda cabinet: cabinet.merchants(), during_lock=True)
    except KaspiNeedsLogin:
        return False
    return True


# --- sync -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncResult:
    on_sale: int
    archived: int
    removed: int
    linked: int

    def as_dict(self) -> dict[str, int]:
        return {
            "on_sale": self.on_sale,
            "archived": self.archived,
            "removed": self.removed,
            "linked": self.linked,
        }


async def _pull_all(cabinet: CabinetClient, page_size: int) -> list[tuple[bool, dict[str, Any]]]:
    found: list[tuple[bool, dict[str, Any]]] = []
    for on_sale in (True, False):
        seen = 0
        for page in range(MAX_PAGES):
            batch = await cabinet.offers_page(on_sale=on_sale, page=page, limit=page_size)
            found.extend((on_sale, item) for item in batch.items)
            seen += len(batch.items)
            if not batch.items or len(batch.items) < page_size or seen >= batch.total:
                break
    return found


async def sync_store(session: AsyncSession, gateway: KaspiGateway, store: KaspiStore) -> SyncResult:
    """Pull every page of on-sale and archived offers; offers gone from the cabinet become `removed`."""
    started = now()
    pulled = await with_cabinet(session, gateway, store, lambda c: _pull_all(c, gateway.kaspi.page_size))
    offers = OfferRepository(session, Scope.everything())
    unique = {str(item["sku"]): (on_sale, item) for on_sale, item in pulled}
    products = await offers.product_ids_by_sku(store.company_id, list(unique))
    rows = [
        offer_row(item, store=store, on_sale=on_sale, product_id=products.get(sku), synced_at=started)
        for sku, (on_sale, item) in unique.items()
    ]
    for start in range(0, len(rows), 500):
        await offers.upsert(rows[start : start + 500])
    removed = await offers.mark_removed(store.id, started)
    store.last_synced_at, store.last_sync_error = now(), None
    await session.flush()
    on_sale = sum(1 for row in rows if row["state"] is OfferState.on_sale)
    return SyncResult(on_sale, len(rows) - on_sale, removed, len([r for r in rows if r["product_id"]]))


async def record_sync_failure(session: AsyncSession, store_id: int, error: KaspiError | Exception) -> None:
    store = await session.get(KaspiStore, store_id)
    if store is not None:
        store.last_sync_error = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        await session.flush()
