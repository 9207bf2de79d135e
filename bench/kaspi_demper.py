"""Demper speed against the Kaspi sandbox: storefront rate achieved / allowed, 403/429 received,
decisions checked for every offer, and the rate with 1 IP (direct) and with N proxies.

The sandbox (10 000 on-sale offers with 1-5 competitors each, 10 lookups/s per IP, 2 pricefeed
requests/s per merchant, 50 ms latency on every call) and N local forward proxies run in their
own processes; the demper runs here, as `run_demper` does in the worker. Each phase is capped
at `--duration` seconds (a demper run stops then; the offers it did not reach stay due), and the
rate is measured on the sandbox's own counters over the steady state (first 3 s left out).

Before each phase the script calls `gc.freeze()`, as the worker does after start-up: the
collector's full passes over the hundreds of thousands of long-lived objects otherwise pause the
process for 100 ms and more, the paced lookups then leave in a burst and Kaspi (the sandbox)
answers 403 (`--no-gc-freeze` shows it).

    uv run python bench/kaspi_demper.py                       # 10 000 offers, 60 s direct, 60 s via 4 proxies
    uv run python bench/kaspi_demper.py --duration 20 --proxies 4 --margin 0.05
"""

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import delete, select, text, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sauda.cli import run_migrations  # noqa: E402
from sauda.config import DatabaseSettings, KaspiSettings, RedisSettings, Settings  # noqa: E402
from sauda.db import create_engine, create_sessionmaker, transaction  # noqa: E402
from sauda.kaspi.client.gateway import KaspiGateway  # noqa: E402
from sauda.kaspi.demper.rules import Rival, Rules, decide  # noqa: E402
from sauda.kaspi.demper.run import run_demper  # noqa: E402
from sauda.kaspi.models import KaspiOffer, KaspiPriceHistory, KaspiProxy, KaspiStore, PriceAction  # noqa: E402
from sauda.kaspi.stores import service  # noqa: E402
from sauda.kaspi.stores.schemas import PasswordLoginIn  # noqa: E402
from sauda.network.models import Company  # noqa: E402
from sauda.network.schemas import CompanyCreate  # noqa: E402
from sauda.network.service import create_company  # noqa: E402
from sauda.sandboxes.kaspi import SandboxState, create_sandbox, demo_seed  # noqa: E402

DB_URL = os.environ.get(
    "SAUDA_BENCH_KASPI_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/sauda_bench_kaspi"
)
REDIS_URL = os.environ.get("SAUDA_BENCH_KASPI_REDIS_URL", "redis://127.0.0.1:6379/6")
SANDBOX_PORT, PROXY_PORT = 8451, 8461
PER_IP, PER_MERCHANT, LATENCY = 10, 2, 0.05
UID, EMAIL, PASSWORD = "30067228", "merchant@sandbox.kaspi", "sandbox-pass-1"


def seeded(offers: int) -> SandboxState:
    return SandboxState(demo_seed(offers=offers, archived=0))


def serve_sandbox(offers: int) -> None:
    import uvicorn

    uvicorn.run(create_sandbox(seeded(offers)), host="127.0.0.1", port=SANDBOX_PORT, log_level="warning")


def serve_proxies(count: int) -> None:
    from tests.kaspi.forward_proxy import ForwardProxy

    async def main() -> None:
        for n in range(count):
            await ForwardProxy(f"10.0.0.{n + 1}").start(PROXY_PORT + n)
        await asyncio.Event().wait()

    asyncio.run(main())


def spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, *args], cwd=ROOT)


async def wait_up(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            try:
                if (await http.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


MARGIN = [0.1]
GC_FREEZE = [False]


def args_margin() -> float:
    return MARGIN[0]


def bench_settings(base: str) -> Settings:
    return Settings(
        env="development",
        log_level="WARNING",
        database=DatabaseSettings(url=DB_URL),
        redis=RedisSettings(url=REDIS_URL),
        kaspi=KaspiSettings(
            auth_url=f"{base}/idmc",
            cabinet_url=f"{base}/mc",
            storefront_url=f"{base}/shop",
            login_mode="json",
            # 95 % of Kaspi's (the sandbox's) 10/s per IP and 90 % of its 2/s per merchant:
            # the margin absorbs scheduling jitter, so no request ever earns a 403 / 429.
            storefront_per_second=PER_IP * 0.95,
            storefront_window_margin_seconds=args_margin(),
            pricefeed_per_second=PER_MERCHANT * 0.9,
            pricefeed_changes_per_window=10_000_000,  # the [unsure] 250/30 min rule is not measured here
            cabinet_per_second=50,
            demper_concurrency=4,
            batch_size=100,
            page_size=100,
        ),
    )


async def prepare(settings: Settings, gateway: KaspiGateway, offers: int) -> int:
    engine = create_engine(settings)
    maker = create_sessionmaker(engine)
    try:
        async with transaction(maker) as session:
            await session.execute(text("TRUNCATE kaspi_price_history, kaspi_preorders, kaspi_proxies"))
            await session.execute(delete(KaspiStore))
            company = await session.scalar(select(Company).where(Company.name == "Kaspi bench"))
            if company is None:
                data = {"name": "Kaspi bench", "kind": "retail_chain", "email": "bench@sauda.demo"}
                data |= {"country": "Казахстан", "city": "Алматы", "street": "Абая", "house_number": "1"}
                company = await create_company(session, CompanyCreate(**data))
            store = KaspiStore(company_id=company.id, name="Bench store", city_id="750000000")
            session.add(store)
            await session.flush()
            await service.login_with_password(
                session, gateway, store, PasswordLoginIn(email=EMAIL, password=PASSWORD, mode="json")
            )
            started = time.monotonic()
            result = await service.sync_store(session, gateway, store)
            print(f"synced {result.on_sale} offers in {time.monotonic() - started:.1f} s", flush=True)
            # floor 1 % under the price, ceiling 1 % over: many offers hit a bound
            await session.execute(
                update(KaspiOffer)
                .where(KaspiOffer.store_id == store.id)
                .values(
                    demper_enabled=True,
                    demper_floor=text("(price * 0.99)::int"),
                    demper_ceiling=text("(price * 1.01)::int"),
                    demper_step=1,
                )
            )
            return store.id
    finally:
        await engine.dispose()


async def add_proxies(settings: Settings, gateway: KaspiGateway, store_id: int, count: int) -> None:
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            store = await session.get_one(KaspiStore, store_id)
            for n in range(count):
                url = f"http://127.0.0.1:{PROXY_PORT + n}"
                session.add(
                    KaspiProxy(company_id=store.company_id, label=url, url_encrypted=gateway.encrypt(url))
                )
    finally:
        await engine.dispose()


async def stats(base: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        body: dict[str, Any] = (await http.get(f"{base}/_sandbox/stats")).json()
        return body


async def phase(
    settings: Settings, gateway: KaspiGateway, base: str, store_id: int, routes: int, duration: float
) -> dict[str, Any]:
    settings.kaspi.demper_run_seconds = int(duration)
    if GC_FREEZE[0]:
        import gc

        gc.collect()
        gc.freeze()
    engine = create_engine(settings)
    maker = create_sessionmaker(engine)
    samples: list[tuple[float, int]] = []

    async def sample() -> None:
        while True:
            s = await stats(base)
            samples.append((time.monotonic(), sum(s["storefront_by_ip"].values())))
            await asyncio.sleep(1.0)

    sampler = asyncio.create_task(sample())
    before = await stats(base)
    try:
        report = await run_demper(maker, gateway, store_id, force=True)
    finally:
        sampler.cancel()
        await engine.dispose()
    after = await stats(base)
    steady = [s for s in samples if s[0] - samples[0][0] >= 3]
    rate = (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0]) if len(steady) > 2 else 0.0
    allowed = PER_IP * routes
    refused = {
        k: after["refused"].get(k, 0) - before["refused"].get(k, 0) for k in ("storefront", "pricefeed")
    }
    per_ip = {k: v - before["storefront_by_ip"].get(k, 0) for k, v in after["storefront_by_ip"].items()}
    print(
        f"  {routes} IP(s): {report['lookups']} lookups in {report['seconds']:.1f} s; steady rate "
        f"{rate:.2f}/s of {allowed}/s allowed = {100 * rate / allowed:.1f} %; "
        f"403 received {refused['storefront']}, 429 received {refused['pricefeed']}; "
        f"pushed {report['pushed']} in {report['uploads']} uploads, held {report['held']}, "
        f"failed {report['failed']}",
        flush=True,
    )
    print(f"  lookups per IP: {dict(sorted((k, v) for k, v in per_ip.items() if v))}", flush=True)
    return {"rate": rate, "allowed": allowed, "refused": refused, "report": report}


async def verify(settings: Settings, gateway: KaspiGateway, store_id: int, offers: int) -> tuple[int, int]:
    """Recompute every recorded decision from the seed (the same competitors) and our price at
    that moment (the seeded one at the first check, the price pushed before at a later one) and
    compare; then re-sync and check Kaspi (the sandbox) holds every pushed price."""
    truth = seeded(offers)
    merchant = truth.merchant(UID)
    by_sku = {o.sku: o for o in merchant.offers.values()}
    engine = create_engine(settings)
    wrong = checked = undecided = 0
    reasons: Counter[str] = Counter()
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            rows = (
                await session.execute(
                    select(KaspiPriceHistory, KaspiOffer)
                    .join(KaspiOffer, KaspiOffer.id == KaspiPriceHistory.offer_id)
                    .where(KaspiPriceHistory.store_id == store_id)
                    .order_by(KaspiPriceHistory.id)
                )
            ).all()
            pushed = {}
            for history, offer in rows:
                if history.action is PriceAction.failed:
                    undecided += 1
                    continue
                seed = by_sku[offer.sku]
                rivals = [
                    Rival(c["merchantId"], Decimal(c["price"])) for c in truth.competitors[seed.master_sku]
                ]
                floor, ceiling = offer.demper_floor or 0, offer.demper_ceiling
                rules = Rules(floor=floor, ceiling=ceiling, step=1, own_merchants=frozenset({UID}))
                ours = pushed.get(offer.sku, seed.price)
                expected = decide(ours, [*rivals, Rival(UID, Decimal(ours))], rules)
                got = (
                    int(history.new_price) if history.new_price is not None else None,
                    history.reason,
                    history.action in (PriceAction.pushed, PriceAction.held),
                )
                checked += 1
                reasons[history.reason] += 1
                if got != (expected.new_price, expected.reason.value, True) or history.old_price != ours:
                    wrong += 1
                    if wrong <= 5:
                        print(f"  WRONG {offer.sku}: got {got}, expected {expected}", flush=True)
                if history.action is PriceAction.pushed:
                    pushed[offer.sku] = int(history.new_price or 0)
            store = await session.get_one(KaspiStore, store_id)
            await service.sync_store(session, gateway, store)
            fresh = select(KaspiOffer).execution_options(populate_existing=True)
            now = {o.sku: o.price for o in (await session.scalars(fresh)).all()}
            stale = [sku for sku, price in pushed.items() if now.get(sku) != price]
            if stale:
                print(f"  {len(stale)} pushed prices not on Kaspi, e.g. {stale[:3]}", flush=True)
            wrong += len(stale)
    finally:
        await engine.dispose()
    print(f"  decisions by reason: {dict(reasons.most_common())}", flush=True)
    if undecided:
        print(f"  {undecided} lookups failed (no decision; the offers stay due)", flush=True)
    return checked, wrong


async def main(args: argparse.Namespace) -> int:
    base = f"http://127.0.0.1:{SANDBOX_PORT}"
    children = [spawn("--serve-sandbox", "--offers", str(args.offers))]
    # The proxies run in this process: a proxy in a process of its own, starved of CPU on a busy
    # machine, relays requests in bursts that no client-side limiter can see.
    from tests.kaspi.forward_proxy import ForwardProxy

    proxies = [await ForwardProxy(f"10.0.0.{n + 1}").start(PROXY_PORT + n) for n in range(args.proxies)]
    redis = Redis.from_url(REDIS_URL)
    try:
        await wait_up(f"{base}/_sandbox/stats")
        async with httpx.AsyncClient() as http:
            await http.post(
                f"{base}/_sandbox/limits",
                json={
                    "storefront_per_second": PER_IP,
                    "pricefeed_per_second": PER_MERCHANT,
                    "changes_per_window": 10_000_000,  # the [unsure] 250/30 min rule: not measured here
                    "apply_delay_seconds": 0,
                },
            )
            await http.post(f"{base}/_sandbox/faults", json={"delay_seconds": LATENCY})
        settings = bench_settings(base)
        await asyncio.to_thread(run_migrations, settings)
        await redis.flushdb()
        gateway = KaspiGateway(settings, redis)
        store_id = await prepare(settings, gateway, args.offers)
        print(f"phase 1: direct, {args.duration:.0f} s", flush=True)
        one = await phase(settings, gateway, base, store_id, 1, args.duration)
        await add_proxies(settings, gateway, store_id, args.proxies)
        long = args.proxy_duration or args.duration
        print(f"phase 2: {args.proxies} proxies, {long:.0f} s", flush=True)
        many = await phase(settings, gateway, base, store_id, args.proxies, long)
        checked, wrong = await verify(settings, gateway, store_id, args.offers)
        print(
            f"decisions checked {checked}, wrong {wrong}; scaling with {args.proxies} proxies: "
            f"x{many['rate'] / one['rate']:.2f} (ideal x{args.proxies})",
            flush=True,
        )
        refused = sum(one["refused"].values()) + sum(many["refused"].values())
        ok = (
            wrong == 0
            and refused == 0
            and min(one["rate"] / one["allowed"], many["rate"] / many["allowed"]) > 0.9
        )
        print("PASS" if ok else "FAIL", flush=True)
        return 0 if ok else 1
    finally:
        await redis.aclose()
        for proxy in proxies:
            await proxy.stop()
        for child in children:
            child.terminate()
            child.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--offers", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per phase (cap)")
    parser.add_argument("--proxies", type=int, default=4)
    parser.add_argument("--proxy-duration", type=float, default=0, help="phase 2 cap (default: --duration)")
    parser.add_argument("--no-gc-freeze", dest="gc_freeze", action="store_false", help="skip gc.freeze()")
    parser.add_argument("--margin", type=float, default=0.1, help="limiter window margin, seconds")
    parser.add_argument("--serve-sandbox", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-proxies", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    MARGIN[0] = args.margin
    GC_FREEZE[0] = args.gc_freeze
    if args.serve_sandbox:
        serve_sandbox(args.offers)
    elif "--serve-proxies" in sys.argv:
        serve_proxies(args.serve_proxies)
    else:
        raise SystemExit(asyncio.run(main(args)))
