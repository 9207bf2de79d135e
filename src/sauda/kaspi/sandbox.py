"""A local stand-in for Kaspi.kz: the cabinet's login, OAuth chain, offers, pricefeed and the
public storefront offers, on one origin (`/idmc` = auth host, `/mc` = cabinet, `/shop` =
storefront), as KASPI.md describes them.

Faults and limits live in one `SandboxState`: tests flip them in process, demos through the
`/_sandbox/*` control endpoints. Run it with `sauda kaspi-sandbox --port 8300`.
"""

import asyncio
import bisect
import copy
import json
import random
import re
import secrets
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from sauda import clock

AUTH, CABINET, SHOP = "/idmc", "/mc", "/shop"
PHONE_MASK = re.compile(r"^\+7 \(7\d\d\) \d{3}-\d\d-\d\d$")
BOT_WALL = (
    "<!doctype html><html><head><title>Проверка</title></head><body>"
    "<h1>Подтвердите, что вы не робот</h1><div class='captcha'></div></body></html>"
)
CITIES = ("750000000", "710000000", "511010000", "351010000")


@dataclass
class SandboxOffer:
    sku: str
    master_sku: str
    title: str
    brand: str
    price: int
    city_prices: dict[str, int] = field(default_factory=dict)
    # "PP1" -> {"available": "yes"|"no", "preOrder": int, "stockCount": int, "stockSpecified": bool}
    points: dict[str, dict[str, Any]] = field(default_factory=dict)
    updated_at: str = field(default_factory=lambda: clock.now().isoformat())

    @property
    def on_sale(self) -> bool:
        return any(p.get("available") == "yes" for p in self.points.values())

    def as_cabinet(self, uid: str) -> dict[str, Any]:
        prices = [*self.city_prices.values()] or [self.price]
        return {
            "sku": self.sku,
            "masterSku": self.master_sku,
            "offerId": f"{uid}-{self.sku}",
            "title": self.title,
            "masterTitle": self.title,
            "brand": self.brand,
            "price": 0 if self.city_prices else self.price,
            "minPrice": min(prices),
            "maxPrice": max(prices),
            "allCityPrices": {city: {"price": p} for city, p in self.city_prices.items()},
            "availabilities": [{"storeId": f"{uid}_{pp}", **v} for pp, v in self.points.items()],
            "available": self.on_sale,
            "shopLink": f"/shop/p/-{self.master_sku}/",
            "images": [f"https://resources.kaspi.kz/img/{self.master_sku}.jpg"],
            "updatedAt": self.updated_at,
        }


@dataclass
class SandboxMerchant:
    uid: str
    name: str
    email: str
    password: str
    phone: str
    offers: dict[str, SandboxOffer] = field(default_factory=dict)
    rating: float = 4.8


@dataclass
class Faults:
    wrong_password: bool = False  # every password is wrong
    code_required: bool = False  # email + password logins also need an e-mailed code
    flood_seconds: int | None = None  # every code send answers MFA_SEND_FLOOD
    bot_wall: set[str] = field(default_factory=set)  # areas answering 403 HTML: auth/cabinet/storefront
    html_instead_of_json: set[str] = field(default_factory=set)  # areas answering 200 HTML
    delay_seconds: float = 0.0  # every answer of the protocol areas comes this late
    fail_next: dict[str, list[int]] = field(default_factory=dict)  # area -> statuses to answer next


@dataclass
class Limits:
    storefront_per_second: int = 15  # more within one second: 403 for storefront_block_seconds
    storefront_block_seconds: float = 10.0
    pricefeed_per_second: int = 3  # more within one second: 429 and a lock of lock_seconds
    lock_seconds: float = 1800.0
    apply_delay_seconds: float = 2.0  # pricefeed changes show up this much later
    max_code_sends: int = 3  # per phone/email in code_window_seconds, then MFA_SEND_FLOOD
    code_window_seconds: float = 600.0
    flood_break_seconds: int = 300


@dataclass
class SsoStep:
    stage: str  # "email_code", "sms_code", "authenticated"
    uid: str
    who: str
    attempts: int = 0


Seed = Callable[["SandboxState"], None]


def demo_seed(offers: int = 150, archived: int = 30) -> Seed:
    """One merchant with `offers` offers (the last `archived` off sale) and scripted competitors."""

    def seed(state: "SandboxState") -> None:
        merchant = state.add_merchant(
            uid="30067228",
            name="Sandbox Electronics",
            email="merchant@sandbox.kaspi",
            password="sandbox-pass-1",
            phone="+7 (701) 234-56-78",
        )
        rng = random.Random(2026)
        brands = ("Samsung", "Xiaomi", "Apple", "Philips", "Bosch", "Tefal")
        for n in range(offers):
            master = str(113744000 + n)
            price = rng.randrange(3_000, 500_000, 10)
            state.add_offer(
                merchant,
                SandboxOffer(
                    sku=f"{master}_{100000000 + n}",
                    master_sku=master,
                    title=f"Товар {n + 1}",
                    brand=rng.choice(brands),
                    price=price,
                ),
                on_sale=n < offers - archived,
            )
            state.competitors[master] = [
                competitor(f"M{k}", f"Магазин {k}", price + rng.randrange(-500, 2000, 10))
                for k in range(1, rng.randrange(2, 6))
            ]

    return seed


def competitor(merchant_id: str, name: str, price: int, **extra: Any) -> dict[str, Any]:
    return {
        "merchantId": merchant_id,
        "merchantName": name,
        "price": price,
        "merchantRating": 4.5,
        "merchantReviewsQuantity": 120,
        "deliveryDuration": "TOMORROW",
        "kaspiDelivery": True,
        "preorder": 0,
    } | extra


class SandboxState:
    def __init__(self, seed: Seed | None = None) -> None:
        self.seed = seed or demo_seed()
        self.reset()

    def reset(self) -> None:
        self.merchants: dict[str, SandboxMerchant] = {}
        self.competitors: dict[str, list[dict[str, Any]]] = {}
        self.faults = Faults()
        self.limits = Limits()
        self.fixed_code: str | None = None
        self.sso: dict[str, SsoStep] = {}
        self.oauth_codes: dict[str, str] = {}
        self.sessions: dict[str, str] = {}
        self.codes: dict[str, str] = {}  # phone/email -> last code sent
        self.code_sends: dict[str, deque[float]] = {}
        self.logins: Counter[str] = Counter()
        self.pricefeed: list[dict[str, Any]] = []
        # Uploads Kaspi has taken but not applied yet: (due on the clock, merchant uid, items).
        # A reset drops them with the data they were meant for.
        self.scheduled: list[tuple[float, str, list[dict[str, Any]]]] = []
        self.requests: Counter[str] = Counter()
        self._storefront_hits: dict[str, deque[float]] = {}
        self._storefront_blocked: dict[str, float] = {}
        self._pricefeed_hits: dict[str, deque[float]] = {}
        self.locked_until: dict[str, float] = {}
        # Scripted competitor moves: each lookup of a product applies its next list (a competitor
        # reacting to us), e.g. `moves["113744000"] = [[competitor("M1", "A", 900)], ...]`.
        self.moves: dict[str, list[list[dict[str, Any]]]] = {}
        self.refused: Counter[str] = Counter()  # 403s / 429s answered, by area
        self.storefront_by_ip: Counter[str] = Counter()  # lookups answered, by client IP
        self.seed(self)

    # --- building data ------------------------------------------------------------------------
    def add_merchant(self, **values: Any) -> SandboxMerchant:
        merchant = SandboxMerchant(**values)
        self.merchants[merchant.uid] = merchant
        return merchant

    def add_offer(self, merchant: SandboxMerchant, offer: SandboxOffer, *, on_sale: bool = True) -> None:
        if not offer.points:
            offer.points = {
                "PP1": {"available": "yes" if on_sale else "no", "preOrder": 0},
                "PP2": {"available": "yes" if on_sale else "no", "preOrder": 0},
            }
        merchant.offers[offer.sku] = offer

    def merchant(self, uid: str | None = None) -> SandboxMerchant:
        return self.merchants[uid] if uid else next(iter(self.merchants.values()))

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def last_code(self, who: str) -> str:
        return self.codes[who]

    def summary(self) -> dict[str, Any]:
        return {
            "merchants": [
                {"uid": m.uid, "email": m.email, "phone": m.phone, "offers": len(m.offers)}
                for m in self.merchants.values()
            ],
            "logins": dict(self.logins),
            "sessions": len(self.sessions),
            "codes": self.codes,
            "pricefeed_uploads": len(self.pricefeed),
            "locked_until": self.locked_until,
            "requests": dict(self.requests),
        }

    # --- limits -------------------------------------------------------------------------------
    def storefront_refused(self, ip: str, arrived: float | None = None) -> bool:
        refused = self._storefront_refused(ip, arrived)
        if refused:
            self.refused["storefront"] += 1
        return refused

    def _storefront_refused(self, ip: str, arrived: float | None) -> bool:
        now = arrived or clock.monotonic()
        if self._storefront_blocked.get(ip, 0) > now:
            return True
        hits = _recent(self._storefront_hits.setdefault(ip, deque()), now)
        if len(hits) > self.limits.storefront_per_second:
            self._storefront_blocked[ip] = now + self.limits.storefront_block_seconds
            return True
        return False

    def pricefeed_refused(self, uid: str) -> bool:
        now = clock.monotonic()
        if self.locked_until.get(uid, 0) > now:
            self.refused["pricefeed"] += 1
            return True
        hits = _recent(self._pricefeed_hits.setdefault(uid, deque()), now)
        if len(hits) > self.limits.pricefeed_per_second:
            self.locked_until[uid] = now + self.limits.lock_seconds
            self.refused["pricefeed"] += 1
            return True
        return False

    def public_offers(self, master_sku: str, city: str) -> list[dict[str, Any]]:
        """What the storefront shows for a product: scripted competitors plus every sandbox
        merchant's on-sale offer (with its preorder days), cheapest first."""
        if self.moves.get(master_sku):
            self.competitors[master_sku] = self.moves[master_sku].pop(0)
        offers = list(self.competitors.get(master_sku, []))
        for merchant in self.merchants.values():
            for offer in merchant.offers.values():
                if offer.master_sku == master_sku and offer.on_sale:
                    price = offer.city_prices.get(city, offer.price)
                    preorder = max((int(p.get("preOrder") or 0) for p in offer.points.values()), default=0)
                    offers.append(competitor(merchant.uid, merchant.name, price, preorder=preorder))
        offers.sort(key=lambda o: o["price"])
        return offers

    def send_code(self, who: str) -> int | None:
        """Send a code to `who`; returns the break in seconds when Kaspi would refuse (flood)."""
        if self.faults.flood_seconds is not None:
            return self.faults.flood_seconds
        now = clock.monotonic()
        sends = self.code_sends.setdefault(who, deque())
        while sends and sends[0] <= now - self.limits.code_window_seconds:
            sends.popleft()
        if len(sends) >= self.limits.max_code_sends:
            return self.limits.flood_break_seconds
        sends.append(now)
        self.codes[who] = self.fixed_code or f"{secrets.randbelow(10**6):06d}"
        print(f"[kaspi-sandbox] code for {who}: {self.codes[who]}", flush=True)
        return None

    # --- pricefeed ----------------------------------------------------------------------------
    def apply_later(self, uid: str, items: list[dict[str, Any]]) -> None:
        """Apply the upload `apply_delay_seconds` from now: at the first request after that (every
        request applies what is due first), or at `apply_due()`."""
        delay = self.limits.apply_delay_seconds
        if delay <= 0:
            self.apply(uid, items)
        else:
            self.scheduled.append((clock.monotonic() + delay, uid, items))

    def apply_due(self) -> None:
        now = clock.monotonic()
        due = [s for s in self.scheduled if s[0] <= now]
        self.scheduled = [s for s in self.scheduled if s[0] > now]
        for _, uid, items in due:
            if uid in self.merchants:
                self.apply(uid, items)

    def block_storefront(self, ip: str, seconds: float) -> None:
        """The storefront refuses `ip` (403) for `seconds`, as after a burst from it."""
        self._storefront_blocked[ip] = clock.monotonic() + seconds

    def apply(self, uid: str, items: list[dict[str, Any]]) -> None:
        merchant = self.merchants[uid]
        for item in items:
            offer = merchant.offers.get(str(item.get("sku")))
            if offer is None:
                continue
            if "price" in item and item["price"] is not None:
                offer.price = int(item["price"])
            for city in item.get("cityPrices") or []:
                offer.city_prices[str(city["cityId"])] = int(city["value"])
            for avail in item.get("availabilities") or []:
                point = str(avail.get("storeId", "")).removeprefix(f"{uid}_")
                if "stockCount" in avail and not offer.points.get(point, {}).get("stockSpecified"):
                    # What tool authors saw: stock sent for an untracked offer removes it.
                    merchant.offers.pop(offer.sku, None)
                    break
                current = offer.points.setdefault(point, {"available": "no", "preOrder": 0})
                current.update({k: v for k, v in avail.items() if k != "storeId"})
            offer.updated_at = clock.now().isoformat()


def _recent(hits: deque[float], now: float) -> list[float]:
    """The hits in the second up to `now`, this one included (arrivals may be handled out of order)."""
    bisect.insort(hits, now)
    while hits and hits[0] <= hits[-1] - 1.0:
        hits.popleft()
    return [h for h in hits if now - 1.0 < h <= now]


def _area(path: str) -> str | None:
    for prefix, area in ((AUTH, "auth"), (CABINET, "cabinet"), (SHOP, "storefront")):
        if path.startswith(prefix + "/") or path == prefix:
            return area
    return None


def _login_page(cabinet_entry: str) -> str:
    page = (Path(__file__).parent / "sandbox_page.html").read_text(encoding="utf-8")
    return page.replace("__CABINET_ENTRY__", cabinet_entry)


def _error(status: int, code: str, **data: Any) -> JSONResponse:
    body: dict[str, Any] = {"errorCode": code}
    if data:
        body["errorData"] = data
    return JSONResponse(body, status)


def create_sandbox(state: SandboxState | None = None) -> FastAPI:
    state = state or SandboxState()
    app = FastAPI(title="Kaspi sandbox", description=__doc__)
    app.state.kaspi = state

    @app.middleware("http")
    async def faults(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        state.apply_due()
        area = _area(request.url.path)
        if area is None:
            return await call_next(request)
        state.requests[area] += 1
        # Limits count arrivals; the latency below stands for the network after that.
        request.state.arrived = clock.monotonic()
        if state.faults.delay_seconds:
            await asyncio.sleep(state.faults.delay_seconds)
        pending = state.faults.fail_next.get(area)
        if pending:
            return JSONResponse({"error": "sandbox fault"}, pending.pop(0))
        if area in state.faults.bot_wall:
            return HTMLResponse(BOT_WALL, 403)
        if area in state.faults.html_instead_of_json and request.url.path != f"{AUTH}/login":
            return HTMLResponse(BOT_WALL, 200)
        return await call_next(request)

    def rotate(response: Response, old: str | None, step: SsoStep) -> Response:
        if old:
            state.sso.pop(old, None)
        token = secrets.token_urlsafe(16)
        state.sso[token] = step
        response.set_cookie("MS_AUTH_SSO", token, path="/", httponly=True)
        return response

    def session_uid(request: Request) -> str | None:
        return state.sessions.get(request.cookies.get("mc-session", ""))

    # --- auth host ----------------------------------------------------------------------------
    @app.get(f"{AUTH}/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_page() -> HTMLResponse:
        return HTMLResponse(_login_page(f"{CABINET}/oauth2/authorization/1"))

    @app.post(f"{AUTH}/api/p/login", include_in_schema=False)
    async def json_login(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "BAD_REQUEST")
        old = request.cookies.get("MS_AUTH_SSO")
        step = state.sso.get(old or "")
        if "_p" in body:
            merchant = next((m for m in state.merchants.values() if m.email == body.get("_u")), None)
            if merchant is None or merchant.password != body["_p"] or state.faults.wrong_password:
                return _error(401, "CREDENTIALS_INVALID")
            if not state.faults.code_required:
                done = JSONResponse({"redirectUrl": f"{CABINET}/oauth2/authorization/1"})
                return rotate(done, old, SsoStep("authenticated", merchant.uid, merchant.email))
            if (wait := state.send_code(merchant.email)) is not None:
                return _error(401, "MFA_SEND_FLOOD", breakTimeSeconds=wait)
            return rotate(JSONResponse({}), old, SsoStep("email_code", merchant.uid, merchant.email))
        if "_m_c" in body or "_c" in body:
            stage, value = ("email_code", body.get("_m_c")) if "_m_c" in body else ("sms_code", body["_c"])
            if step is None or step.stage != stage:
                return _error(401, "TIMEOUT_EXCEEDED")
            if step.attempts >= 3:
                return _error(401, "MFA_CODE_ATTEMPT_LIMIT")
            if str(value) != state.codes.get(step.who):
                step.attempts += 1
                return _error(401, "SECURITY_CODE_INVALID")
            redirect = "/" if stage == "sms_code" else f"{CABINET}/oauth2/authorization/1"
            return rotate(
                JSONResponse({"redirectUrl": redirect}), old, SsoStep("authenticated", step.uid, step.who)
            )
        if "_ph" in body:
            phone = str(body["_ph"])
            if not PHONE_MASK.match(phone):
                return _error(400, "PHONE_FORMAT_INVALID")
            merchant = next((m for m in state.merchants.values() if m.phone == phone), None)
            if merchant is None:
                return _error(401, "NO_MERCHANTS")
            if (wait := state.send_code(phone)) is not None:
                return _error(401, "MFA_SEND_FLOOD", breakTimeSeconds=wait)
            return rotate(JSONResponse({"phone": phone}), old, SsoStep("sms_code", merchant.uid, phone))
        return _error(400, "BAD_REQUEST")

    @app.get(f"{AUTH}/oauth2/authorize", include_in_schema=False)
    async def authorize(request: Request, redirect_uri: str = "") -> Response:
        oauth_state = request.query_params.get("state", "")
        step = state.sso.get(request.cookies.get("MS_AUTH_SSO", ""))
        if step is None or step.stage != "authenticated":
            return RedirectResponse(f"{AUTH}/login", 302)
        code = secrets.token_urlsafe(12)
        state.oauth_codes[code] = step.uid
        return RedirectResponse(f"{redirect_uri}?code={code}&state={oauth_state}", 302)

    # --- cabinet ------------------------------------------------------------------------------
    @app.get(f"{CABINET}/oauth2/authorization/1", include_in_schema=False)
    async def start_oauth(request: Request) -> Response:
        oauth_state = secrets.token_urlsafe(8)
        back = f"{str(request.base_url).rstrip('/')}{CABINET}/login/oauth2/code/1"
        response = RedirectResponse(
            f"{AUTH}/oauth2/authorize?response_type=code&client_id=mc&state={oauth_state}&redirect_uri={back}",
            302,
        )
        response.set_cookie("mc-oauth-state", oauth_state, path="/", httponly=True)
        return response

    @app.get(f"{CABINET}/login/oauth2/code/1", include_in_schema=False)
    async def finish_oauth(request: Request, code: str = "") -> Response:
        if request.query_params.get("state") != request.cookies.get("mc-oauth-state"):
            return JSONResponse({"error": "state mismatch"}, 400)
        uid = state.oauth_codes.pop(code, None)
        if uid is None:
            return JSONResponse({"error": "invalid code"}, 400)
        token = secrets.token_urlsafe(24)
        state.sessions[token] = uid
        state.logins[uid] += 1
        response = RedirectResponse(f"{CABINET}/", 302)
        response.set_cookie("mc-session", token, path="/", httponly=True)
        response.set_cookie("mc-sid", secrets.token_hex(8), path="/", httponly=True)
        response.delete_cookie("mc-oauth-state", path="/")
        return response

    @app.get(f"{CABINET}/", response_class=HTMLResponse, include_in_schema=False)
    async def cabinet_home(request: Request) -> Response:
        uid = session_uid(request)
        if uid is None:
            return RedirectResponse(f"{AUTH}/login", 302)
        name = state.merchants[uid].name
        return HTMLResponse(f"<html><body><nav class='navbar'>{name}</nav><h1>Кабинет</h1></body></html>")

    def cabinet_merchant(request: Request) -> SandboxMerchant | Response:
        uid = session_uid(request)
        if uid is None:
            return JSONResponse({"error": "unauthorized"}, 401)
        requested = request.query_params.get("m")
        if requested is not None and requested != uid:
            return JSONResponse({"error": "forbidden"}, 403)
        return state.merchants[uid]

    @app.get(f"{CABINET}/s/m", include_in_schema=False)
    async def merchants(request: Request) -> Response:
        merchant = cabinet_merchant(request)
        if isinstance(merchant, Response):
            return merchant
        return JSONResponse({"merchants": [{"uid": merchant.uid, "name": merchant.name}]})

    @app.get(f"{CABINET}/bff/offer-view/list", include_in_schema=False)
    async def offer_list(request: Request, p: int = 0, l: int = 10, a: str = "true", t: str = "") -> Response:  # noqa: E741
        merchant = cabinet_merchant(request)
        if isinstance(merchant, Response):
            return merchant
        if l > 100 or l < 1 or p < 0:
            return JSONResponse({"error": "bad paging"}, 400)
        on_sale = a.lower() == "true"
        offers = [o for o in merchant.offers.values() if o.on_sale is on_sale]
        if t:
            offers = [o for o in offers if t.lower() in o.title.lower() or t in o.sku]
        page = offers[p * l : (p + 1) * l]
        return JSONResponse({"data": [o.as_cabinet(merchant.uid) for o in page], "total": len(offers)})

    @app.get(f"{CABINET}/bff/offer-view/details", include_in_schema=False)
    async def offer_details(request: Request, s: str = "") -> Response:
        merchant = cabinet_merchant(request)
        if isinstance(merchant, Response):
            return merchant
        offer = merchant.offers.get(s)
        if offer is None:
            return JSONResponse({"error": "not found"}, 404)
        return JSONResponse(offer.as_cabinet(merchant.uid))

    @app.get(f"{CABINET}/offers/api/v1/offer/count", include_in_schema=False)
    async def offer_count(request: Request) -> Response:
        merchant = cabinet_merchant(request)
        if isinstance(merchant, Response):
            return merchant
        on_sale = sum(o.on_sale for o in merchant.offers.values())
        return JSONResponse({"published": on_sale, "archived": len(merchant.offers) - on_sale})

    async def pricefeed(request: Request, *, batch: bool) -> Response:
        merchant = cabinet_merchant(request)
        if isinstance(merchant, Response):
            return merchant
        if state.pricefeed_refused(merchant.uid):
            return JSONResponse({"error": "Too many requests"}, 429)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "bad json"}, 400)
        items = body if batch else [body]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return JSONResponse({"error": "bad payload"}, 400)
        if any(str(i.get("merchantUid")) != merchant.uid for i in items):
            return JSONResponse({"error": "merchantUid mismatch"}, 403)
        upload = secrets.token_hex(12)
        state.pricefeed.append({"id": upload, "uid": merchant.uid, "items": copy.deepcopy(items)})
        state.apply_later(merchant.uid, items)
        return JSONResponse({"id": upload})

    @app.post(f"{CABINET}/pricefeed/upload/merchant/process", include_in_schema=False)
    async def pricefeed_single(request: Request) -> Response:
        return await pricefeed(request, batch=False)

    @app.post(f"{CABINET}/pricefeed/upload/merchant/process/process/batch", include_in_schema=False)
    async def pricefeed_batch(request: Request) -> Response:
        return await pricefeed(request, batch=True)

    # --- storefront ---------------------------------------------------------------------------
    @app.api_route(
        f"{SHOP}/yml/offer-view/offers/{{master_sku}}", methods=["GET", "POST"], include_in_schema=False
    )
    async def public_offers(request: Request, master_sku: str) -> Response:
        if request.method != "POST":
            return JSONResponse({"error": "Method Not Allowed"}, 405)
        # Behind a proxy every caller is 127.0.0.1 here: the test proxies name their outgoing
        # "IP" in X-Forwarded-For, as a real proxy chain would.
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
        ip = forwarded or (request.client.host if request.client else "?")
        if state.storefront_refused(ip, getattr(request.state, "arrived", None)):
            return JSONResponse({"error": "Forbidden"}, 403)
        try:
            body = json.loads(await request.body())
            limit, page = int(body.get("limit", 64)), int(body.get("page", 0))
        except (ValueError, TypeError, AttributeError):
            return JSONResponse({"error": "bad request"}, 400)
        if limit > 64 or limit < 1:
            return JSONResponse({"error": "limit"}, 400)
        state.storefront_by_ip[ip] += 1
        offers = state.public_offers(master_sku, str(body.get("cityId", "")))
        chunk = offers[page * limit : (page + 1) * limit]
        return JSONResponse({"offers": chunk, "total": len(offers), "offersCount": len(offers)})

    # --- control ------------------------------------------------------------------------------
    @app.get("/_sandbox/state", tags=["control"])
    async def show_state() -> dict[str, Any]:
        """Merchants (log in with their email or phone), codes sent, logins, uploads, locks."""
        return state.summary()

    @app.get("/_sandbox/codes", tags=["control"])
    async def show_codes() -> dict[str, str]:
        """The last code sent to each email / phone (what the merchant would receive)."""
        return state.codes

    @app.post("/_sandbox/faults", tags=["control"])
    async def set_faults(values: dict[str, Any]) -> dict[str, Any]:
        """Switch faults on/off, e.g. `{"code_required": true}`, `{"bot_wall": ["storefront"]}`,
        `{"delay_seconds": 30}`, `{"fail_next": {"cabinet": [500, 502]}}`."""
        for key, value in values.items():
            if not hasattr(state.faults, key):
                return {"error": f"unknown fault {key}"}
            current = getattr(state.faults, key)
            setattr(state.faults, key, set(value) if isinstance(current, set) else value)
        return {"faults": {k: sorted(v) if isinstance(v, set) else v for k, v in vars(state.faults).items()}}

    @app.post("/_sandbox/expire-sessions", tags=["control"])
    async def expire() -> dict[str, str]:
        """Every cabinet session ends: the next call answers 401."""
        state.expire_sessions()
        return {"status": "expired"}

    @app.put("/_sandbox/competitors/{master_sku}", tags=["control"])
    async def set_competitors(master_sku: str, offers: list[dict[str, Any]]) -> dict[str, Any]:
        """Script the competitors of a product: `[{"merchantId": "M1", "price": 990}]`."""
        state.competitors[master_sku] = [
            competitor(o["merchantId"], o.get("merchantName", ""), int(o["price"])) | o for o in offers
        ]
        return {"master_sku": master_sku, "offers": len(offers)}

    @app.post("/_sandbox/limits", tags=["control"])
    async def set_limits(values: dict[str, float]) -> dict[str, Any]:
        """Change Kaspi's limits, e.g. `{"storefront_per_second": 10, "pricefeed_per_second": 2}`."""
        for key, value in values.items():
            if not hasattr(state.limits, key):
                return {"error": f"unknown limit {key}"}
            setattr(state.limits, key, type(getattr(state.limits, key))(value))
        return {"limits": vars(state.limits)}

    @app.get("/_sandbox/stats", tags=["control"])
    async def stats() -> dict[str, Any]:
        """Requests, refusals (403/429 answered) and storefront lookups per client IP."""
        return {
            "requests": dict(state.requests),
            "refused": dict(state.refused),
            "storefront_by_ip": dict(state.storefront_by_ip),
            "pricefeed_uploads": len(state.pricefeed),
            "pricefeed_items": sum(len(u["items"]) for u in state.pricefeed),
        }

    @app.post("/_sandbox/reset", tags=["control"])
    async def reset() -> dict[str, str]:
        """Back to the seeded data, no faults, no sessions."""
        state.reset()
        return {"status": "reset"}

    return app
