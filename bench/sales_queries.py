"""Latency of the sales metrics and the sales list over 5 000 000 sales.

    uv run python bench/sales_queries.py [--requests 300]

Seeds `sauda_bench_sales` if needed (bench/sales_seed.py), starts the API on 127.0.0.1:8102,
logs in the bench employee and sends requests one after another (one connection), timing each:

- metrics: month granularity, one year, grouped by point (target p95 < 100 ms), rotating over
  the two years of data and start months;
- list: one page of 50 sales filtered by a month and a point (target p95 < 30 ms), rotating
  over the 50 points, 24 months and pages 1-3.

The times are client-side (request sent to body received) over localhost HTTP.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import httpx
from list_companies import stop_server, wait_until_up
from sales_seed import DATABASE_URL, EMAIL, PASSWORD, REDIS_URL, prepare

HOST, PORT = "127.0.0.1", 8102


def start_api(log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "SAUDA_ENV": "development",
        "SAUDA_DATABASE__URL": DATABASE_URL,
        "SAUDA_REDIS__URL": REDIS_URL,
        "SAUDA_LOG_LEVEL": "WARNING",
    }
    command = ["uv", "run", "sauda", "serve", "--host", HOST, "--port", str(PORT)]
    with log.open("wb") as out:
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def login(base: str) -> dict[str, str]:
    answer = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": EMAIL, "password": PASSWORD}, timeout=10
    )
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def metrics_paths() -> list[str]:
    paths = []
    for year in (2024, 2025):
        for month in (1, 4, 7, 10):
            start = date(year, month, 1)
            end = date(year + 1, month, 1).toordinal() - 1
            params = {
                "granularity": "month",
                "date_from": start.isoformat(),
                "date_to": date.fromordinal(end).isoformat(),
                "group_by": "point",
            }
            paths.append("/api/v1/sales/metrics?" + urlencode(params))
    return paths


def list_paths(point_ids: list[int]) -> list[str]:
    paths = []
    for n, point in enumerate(point_ids):
        year, month = 2024 + (n // 12) % 2, n % 12 + 1
        first = date(year, month, 1)
        last = date.fromordinal(date(year + month // 12, month % 12 + 1, 1).toordinal() - 1)
        for page in (1, 2, 3):
            params = {"date_from": first, "date_to": last, "point_id": point, "page": page, "limit": 50}
            paths.append("/api/v1/sales?" + urlencode(params))
    return paths


def measure(client: httpx.Client, paths: list[str], requests: int) -> list[float]:
    for path in paths[:10]:  # warm-up: connections, caches, prepared statements
        client.get(path).raise_for_status()
    times = []
    for n in range(requests):
        started = time.perf_counter()
        response = client.get(paths[n % len(paths)])
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return times


def report(name: str, times: list[float], target: float) -> None:
    cuts = statistics.quantiles(times, n=100)
    p50, p95, p99 = cuts[49], cuts[94], cuts[98]
    verdict = "OK" if p95 < target else "OVER TARGET"
    print(
        f"{name:<40} n={len(times)}  p50={p50:6.1f} ms  p95={p95:6.1f} ms  p99={p99:6.1f} ms  "
        f"max={max(times):6.1f} ms  (target p95 < {target:.0f} ms: {verdict})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    prepare()
    base = f"http://{HOST}:{PORT}"
    with tempfile.TemporaryDirectory() as tmp:
        server = start_api(Path(tmp) / "api.log")
        try:
            wait_until_up(base, server)
            with httpx.Client(base_url=base, headers=login(base), timeout=30) as client:
                points = client.get("/api/v1/points", params={"limit": 50}).json()["items"]
                body = client.get(metrics_paths()[4]).json()
                print(
                    f"one year grouped by point: {len(body['groups'])} points, "
                    f"{body['totals']['sales']} sales"
                )
                report(
                    "metrics month / 1 year / group_by=point",
                    measure(client, metrics_paths(), args.requests),
                    100,
                )
                listing = list_paths([p["id"] for p in points])
                print(f"list page: total={client.get(listing[0]).json()['total']} sales in one point-month")
                report("list 50, period (month) + point", measure(client, listing, args.requests), 30)
        finally:
            stop_server(server)
            if server.returncode not in (0, -15, None):
                print((Path(tmp) / "api.log").read_text()[-2000:], file=sys.stderr)


if __name__ == "__main__":
    main()
