"""Load `GET /api/v1/companies?city=...` as an admin with wrk and print latency percentiles.

    uv run python bench/list_companies.py [--workers 2] [--connections 1,16] [--duration 20]

Starts the API on 127.0.0.1:8101 against the `sauda_bench` database (seeded with 100 000
companies if needed), logs in a bench admin, then runs Debian's wrk from a second process with
bench/list_companies.lua, which rotates over the busiest cities, a few small ones, and pages 1-5.
Target: p95 < 30 ms. Localhost only, bounded in time; the server is stopped at the end.
"""

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from common import (
    BENCH_COMPANIES,
    BENCH_DATABASE_URL,
    BENCH_REDIS_URL,
    bench_settings,
    prepare,
    vacuum,
)
from sqlalchemy import func, select

from sauda.auth.repository import UserRepository
from sauda.auth.service import create_admin
from sauda.config import Settings
from sauda.db import create_engine, create_sessionmaker, transaction
from sauda.network.models import Company

BENCH_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"
ADMIN_EMAIL = "bench-admin@sauda.demo"
ADMIN_PASSWORD = "bench-admin-2026!"
PAGES = range(1, 6)


async def ensure_admin_and_cities(settings: Settings) -> list[str]:
    """The bench admin, and the cities to rotate over: the 8 busiest and 4 smaller ones."""
    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            if await UserRepository(session).by_email(ADMIN_EMAIL) is None:
                await create_admin(session, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
            stmt = (
                select(Company.city, func.count())
                .group_by(Company.city)
                .having(func.count() >= 100)
                .order_by(func.count().desc(), Company.city)
            )
            cities = [row.city for row in await session.execute(stmt)]
    finally:
        await engine.dispose()
    return cities[:8] + cities[8::5][:4]


def start_server(port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "SAUDA_ENV": "development",
        "SAUDA_DATABASE__URL": BENCH_DATABASE_URL,
        "SAUDA_REDIS__URL": BENCH_REDIS_URL,
        "SAUDA_LOG_LEVEL": "WARNING",  # no access log: it would measure the terminal, not the API
    }
    command = ["uv", "run", "sauda", "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)]
    with log.open("wb") as out:
        # A session of its own, so the whole group (uv, uvicorn, its workers) stops together.
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=5)


def wait_until_up(base: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the API exited with code {server.returncode}; see its log")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    sys.exit("the API did not start in time")


def login(base: str) -> str:
    answer = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, timeout=10
    )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def bench_paths(cities: list[str]) -> list[str]:
    return [
        "/api/v1/companies?" + urlencode({"city": city, "page": page, "limit": 50})
        for city in cities
        for page in PAGES
    ]


def check(base: str, token: str, path: str) -> None:
    answer = httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    answer.raise_for_status()
    body = answer.json()
    print(f"check: {path} -> {len(body['items'])} items of {body['total']}")


def run_wrk(base: str, token: str, paths: list[str], connections: int, duration: int) -> None:
    threads = min(2, connections)
    print(f"\nwrk: {connections} connections, {threads} threads, {duration} s", flush=True)
    env = os.environ | {"BENCH_TOKEN": token, "BENCH_PATHS": " ".join(paths)}
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "5s",
        "-s",
        str(BENCH_DIR / "list_companies.lua"),
        base,
    ]
    subprocess.run(command, env=env, check=True, timeout=duration + 30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", default="1,16", help="comma-separated; one wrk run each")
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk run")
    parser.add_argument("--companies", type=int, default=BENCH_COMPANIES)
    parser.add_argument(
        "--no-vacuum", action="store_true", help="skip VACUUM companies (to measure right after a debt run)"
    )
    args = parser.parse_args()

    settings = bench_settings()
    prepare(settings, args.companies)
    cities = asyncio.run(ensure_admin_and_cities(settings))
    if not args.no_vacuum:
        asyncio.run(vacuum(settings, "companies"))
    print(f"cities: {', '.join(cities)}")
    base = f"http://{HOST}:{args.port}"
    log = Path(tempfile.gettempdir()) / f"sauda-bench-api-{args.port}.log"
    server = start_server(args.port, args.workers, log)
    try:
        wait_until_up(base, server)
        token = login(base)
        paths = bench_paths(cities)
        check(base, token, paths[0])
        print(f"API: {args.workers} worker(s) on {base}, log {log}")
        for connections in (int(c) for c in args.connections.split(",")):
            run_wrk(base, token, paths, connections, args.duration)
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
