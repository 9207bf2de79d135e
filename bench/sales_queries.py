"""Latency of the sales metrics and the sales list over 5 000 000 receipt lines.

    uv run python bench/sales_queries.py [--requests 300]

Seeds `sauda_bench_sales` if needed (bench/sales_seed.py: ~1.7 M receipts, ~3 % returns, four
payment methods), starts the API on 127.0.0.1:8102, logs in the bench employee and sends requests
one after another (one connection), timing each, `--requests` per case:

- metrics: month granularity, one year, grouped by point (gross, returns, net, receipts, average
  receipt, units per receipt, return rate; target p95 < 100 ms), rotating over start months;
- metrics: the same grouped by product (5 000 products; the 100 best come back);
- metrics: day granularity, one month, the whole company (p95 < 100 ms);
- payment split, one year (p95 < 100 ms); hours of the day, one year (p95 < 100 ms);
- top products, one year: calendar years and rolling years from the first of a month (whole
  months: monthly rollup rows only), and years from the middle of a month (plus ~30 days of daily
  rollup rows at the edges) (p95 < 100 ms);
- top products of one point, one month and one year (from the lines; p95 < 100 ms);
- lists: one page of 50 sales, and of 50 receipts (`GET /api/v1/receipts`, with their
  payments), filtered by a month and a point (target p95 < 30 ms), rotating over the 50 points,
  24 months and pages 1-3. (bench/receipts_list.py measures the receipts list's other filters.)

`--only WORD` runs the cases whose name contains it (repeatable).

The times are client-side (request sent to body received) over localhost HTTP.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
from list_companies import stop_server, wait_until_up
from sales_seed import DATABASE_URL, EMAIL, PASSWORD, REDIS_URL, prepare

HOST, PORT = "127.0.0.1", int(os.environ.get("SAUDA_BENCH_SALES_PORT", "8102"))


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


def _years(*, whole_months: bool = True, mid_month: bool = True) -> list[tuple[date, date]]:
    """One-year periods inside the data (2024-2025) and just past it: calendar years and rolling
    years from the first of a month (whole months), and years from the middle of a month."""
    starts = []
    if whole_months:
        starts += [(2024, 1, 1), (2025, 1, 1), (2024, 4, 1), (2024, 7, 1), (2024, 10, 1)]
    if mid_month:
        starts += [(2024, 3, 15), (2024, 6, 10), (2024, 9, 20), (2025, 2, 5)]
    return [(date(y, m, d), date(y + 1, m, d) - timedelta(days=1)) for y, m, d in starts]


def _months() -> list[tuple[date, date]]:
    starts = [date(2024 + n // 12, n % 12 + 1, 1) for n in range(24)]
    return [(s, (s + timedelta(days=32)).replace(day=1) - timedelta(days=1)) for s in starts]


def _paths(route: str, periods: list[tuple[date, date]], **params: object) -> list[str]:
    return [
        f"/api/v1/sales/{route}?" + urlencode({"date_from": a, "date_to": b} | params) for a, b in periods
    ]


def list_paths(point_ids: list[int], route: str = "sales") -> list[str]:
    paths = []
    for n, point in enumerate(point_ids):
        first, last = _months()[n % 24]
        for page in (1, 2, 3):
            params = {"date_from": first, "date_to": last, "point_id": point, "page": page, "limit": 50}
            paths.append(f"/api/v1/{route}?" + urlencode(params))
    return paths


def point_periods(point_ids: list[int], periods: list[tuple[date, date]]) -> list[str]:
    return [
        "/api/v1/sales/metrics/top-products?"
        + urlencode({"date_from": a, "date_to": b, "point_id": point_ids[n % len(point_ids)]})
        for n, (a, b) in enumerate(periods)
    ]


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
    parser.add_argument("--only", action="append", default=[], help="cases whose name contains this")
    args = parser.parse_args()
    prepare()
    base = f"http://{HOST}:{PORT}"
    with tempfile.TemporaryDirectory() as tmp:
        server = start_api(Path(tmp) / "api.log")
        try:
            wait_until_up(base, server)
            with httpx.Client(base_url=base, headers=login(base), timeout=30) as client:
                points = [p["id"] for p in client.get("/api/v1/points", params={"limit": 50}).json()["items"]]
                year = client.get(_paths("metrics", _years(), granularity="month")[0]).json()["totals"]
                print(
                    f"2024: {year['receipts']} receipts ({year['return_receipts']} returns), "
                    f"{year['sales']} sale lines, net {year['net_sales']}, average receipt "
                    f"{year['average_receipt']}, units per receipt {year['units_per_receipt']}, "
                    f"return rate {year['return_rate']} %"
                )
                listing = list_paths(points)
                print(f"list page: total={client.get(listing[0]).json()['total']} sales in one point-month")
                cases = [
                    (
                        "metrics month / 1 year / group_by=point",
                        _paths("metrics", _years(), granularity="month", group_by="point"),
                        100,
                    ),
                    (
                        "metrics month / 1 year / group_by=product",
                        _paths("metrics", _years(), granularity="month", group_by="product"),
                        100,
                    ),
                    ("metrics day / 1 month / company", _paths("metrics", _months()), 100),
                    ("payment split / 1 year", _paths("metrics/payments", _years()), 100),
                    ("hours of the day / 1 year", _paths("metrics/hours", _years()), 100),
                    (
                        "top products / 1 year of whole months",
                        _paths("metrics/top-products", _years(mid_month=False)),
                        100,
                    ),
                    (
                        "top products / 1 year from mid-month",
                        _paths("metrics/top-products", _years(whole_months=False)),
                        100,
                    ),
                    ("top products / 1 month + point (lines)", point_periods(points, _months()), 100),
                    ("top products / 1 year + point (lines)", point_periods(points, _years()), 100),
                    ("list 50, period (month) + point", listing, 30),
                    ("list receipts 50, period (month) + point", list_paths(points, "receipts"), 30),
                ]
                for name, paths, target in cases:
                    if not args.only or any(word in name for word in args.only):
                        report(name, measure(client, paths, args.requests), target)
        finally:
            stop_server(server)
            if server.returncode not in (0, -15, None):
                print((Path(tmp) / "api.log").read_text()[-2000:], file=sys.stderr)


if __name__ == "__main__":
    main()
