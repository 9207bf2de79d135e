"""The sandbox's whole state: merchants and competitors, faults and limits switched on by tests
(in process) or demos (`/_sandbox/*`), logins in progress, sessions, uploads and counters."""

import asyncio
import bisect
import random
import secrets
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from sauda import clock
from sauda.sandboxes.kaspi.merchants import SandboxMerchant, SandboxOffer, competitor

# Where each Kaspi host answers on the sandbox's one origin.
AUTH, CABINET, SHOP = "/idmc", "/mc", "/shop"
BOT_WALL = (
    "<!doctype html><html><head><title>Проверка</title></head><body>"
    "<h1>Подтвердите, что вы не робот</h1><div class='captcha'></div></body></html>"
)


@dataclass
class Faults:
    wrong_password: bool = False  # every password is wrong
    code_required: bool = False  # email + password logins also need an e-mailed code
    flood_seconds: int | None = None  # every code send answers MFA_SEND_FLOOD
    forget_login_sessions: bool = False  # every login POST finds its MS_AUTH_SSO unknown (401)
    bot_wall: set[str] = field(default_factory=set)  # areas answering 403 HTML: auth/cabinet/storefront
    html_instead_of_json: set[str] = field(default_factory=set)  # areas answering 200 HTML
    delay_seconds: float = 0.0  # every answer of the protocol areas comes this late
    fail_next: dict[str, list[int]] = field(default_factory=dict)  # area -> statuses to answer next
    storefront_ban_page: bool = False  # a banned IP gets the HTML bot wall (403) instead of JSON
    batch_without_id: bool = False  # the batch pricefeed answers 200 `{}`, applying it all the same


@dataclass
class Limits:
    storefront_per_second: int = 15  # more within one second: 403 for storefront_block_seconds
    storefront_block_seconds: float = 10.0
    pricefeed_per_second: int = 3  # more within one second: 429 and a lock of lock_seconds
    lock_seconds: float = 1800.0
    # Changes (items) per merchant in any rolling window; more: 429 and the lock, as above.
    changes_per_window: int = 250
    changes_window_seconds: float = 1800.0
    apply_delay_seconds: float = 2.0  # pricefeed changes show up this much later
    max_code_sends: int = 3  # per phone/email in code_window_seconds, then MFA_SEND_FLOOD
    code_window_seconds: float = 600.0
    flood_break_seconds: int = 300


@dataclass(frozen=True)
class Received:
    """One request of a protocol area as the sandbox answered it."""

    area: str
    method: str
    path: str
    status: int
    ip: str


@dataclass
class SsoStep:
    stage: str  # "start" (the login page was opened), "email_code", "sms_code", "authenticated"
    uid: str = ""
    who: str = ""
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


class SandboxState:
    def __init__(self, seed: Seed | None = None) -> None:
        self.seed = seed or demo_seed()
        self.reset_happened = asyncio.Event()
        self.reset()

    def reset(self) -> None:
        # Answers still held back by `delay_seconds` belong to the state being dropped: end them
        # now, so they do not reach into the next test's data (and counters) seconds later.
        self.reset_happened.set()
        self.reset_happened = asyncio.Event()
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
        self.flood_until: dict[str, float] = {}  # phone/email -> end of its MFA_SEND_FLOOD break
        self.logins: Counter[str] = Counter()
        self.pricefeed: list[dict[str, Any]] = []
        # Uploads Kaspi has taken but not applied yet: (due on the clock, merchant uid, items).
        # A reset drops them with the data they were meant for.
        self.scheduled: list[tuple[float, str, list[dict[str, Any]]]] = []
        self.requests: Counter[str] = Counter()  # arrived, by area
        self.answered: Counter[str] = Counter()  # answered (past any delay), by area
        self.received: list[Received] = []  # every protocol request, answered, in order
        self._storefront_hits: dict[str, deque[float]] = {}
        self._storefront_blocked: dict[str, float] = {}
        self._pricefeed_hits: dict[str, deque[float]] = {}
        self._changes: dict[str, deque[tuple[float, int]]] = {}  # uid -> (when, items) accepted
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

    async def hold(self, seconds: float) -> bool:
        """Wait `seconds` before answering (a slow Kaspi); False when a reset ended the wait."""
        reset = self.reset_happened
        try:
            await asyncio.wait_for(reset.wait(), seconds)
        except TimeoutError:
            return True
        return False

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def last_code(self, who: str) -> str:
        return self.codes[who]

    def count(self, path_end: str, *, status: int | None = None, ip: str | None = None) -> int:
        """Requests received on a path ending with `path_end` (answered `status`, from `ip`)."""
        return sum(
            1
            for r in self.received
            if r.path.endswith(path_end)
            and (status is None or r.status == status)
            and (ip is None or r.ip == ip)
        )

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
            # Asking during the ban only prolongs it, as Kaspi does.
            self._storefront_blocked[ip] = now + self.limits.storefront_block_seconds
            return True
        hits = _recent(self._storefront_hits.setdefault(ip, deque()), now)
        if len(hits) > self.limits.storefront_per_second:
            self._storefront_blocked[ip] = now + self.limits.storefront_block_seconds
            return True
        return False

    def pricefeed_refused(self, uid: str) -> bool:
        now = clock.monotonic()
        if self.locked_until.get(uid, 0) > now:
            return self._lock(uid, now)  # every request during the lock starts it again
        hits = _recent(self._pricefeed_hits.setdefault(uid, deque()), now)
        if len(hits) > self.limits.pricefeed_per_second:
            return self._lock(uid, now)
        return False

    def changes_refused(self, uid: str, changes: int) -> bool:
        """More than `changes_per_window` items in the rolling window: 429 and the lock."""
        now = clock.monotonic()
        taken = self._changes.setdefault(uid, deque())
        while taken and taken[0][0] <= now - self.limits.changes_window_seconds:
            taken.popleft()
        if sum(n for _, n in taken) + changes > self.limits.changes_per_window:
            return self._lock(uid, now)
        taken.append((now, changes))
        return False

    def _lock(self, uid: str, now: float) -> bool:
        self.locked_until[uid] = now + self.limits.lock_seconds
        self.refused["pricefeed"] += 1
        return True

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
        if self.flood_until.get(who, 0) > now:
            # Asking during the break earns a fresh break, as Kaspi does.
            return self._flood(who, now)
        sends = self.code_sends.setdefault(who, deque())
        while sends and sends[0] <= now - self.limits.code_window_seconds:
            sends.popleft()
        if len(sends) >= self.limits.max_code_sends:
            sends.clear()  # the break is the penalty: after it the sends count afresh
            return self._flood(who, now)
        sends.append(now)
        self.codes[who] = self.fixed_code or f"{secrets.randbelow(10**6):06d}"
        print(f"[kaspi-sandbox] code for {who}: {self.codes[who]}", flush=True)
        return None

    def _flood(self, who: str, now: float) -> int:
        self.flood_until[who] = now + self.limits.flood_break_seconds
        self.refused["auth"] += 1
        return self.limits.flood_break_seconds

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


def client_ip(request: Request) -> str:
    """Behind a proxy every caller is 127.0.0.1 here: the test proxies name their outgoing
    "IP" in X-Forwarded-For, as a real proxy chain would."""
    forwarded = request.headers.get("x-forwarded-for", "").split(",")[0].strip()
    return forwarded or (request.client.host if request.client else "?")


def sandbox_state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.kaspi
    return state


StateDep = Annotated[SandboxState, Depends(sandbox_state)]
