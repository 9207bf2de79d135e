"""Import a 1 000 000-line sales CSV end to end, and compare with a plain COPY of the same file.

    uv run python bench/sales_import.py [--rows 1000000] [--one-line] [--port 8102] [--keep]

Uses `sauda_bench_sales` (seeded by bench/sales_seed.py if needed, so `sales` already holds
5 000 000 rows and its indexes are full size). Each run creates a company of its own with the
same 50 points and 5 000 products, writes a CSV in the documented layout (every row valid,
external ids unique): receipts of 1-5 lines (about 300 000 for a million lines) with a receipt
number, a payment method and 3 % returns; `--one-line` writes the older layout instead (no
receipt columns: every line a receipt of its own). Then:

1. plain COPY: the file into a bare table with the same typed columns and no indexes
   (asyncpg `copy_to_table`, same machine, same run) — the floor any import has to pay;
2. end to end: the API (`sauda serve`) and a worker (`sauda worker`) as separate processes;
   the file is POSTed to /api/v1/sales/imports and the status polled until it is final. The
   time runs from the upload to the final status; the worker's peak memory is its VmHWM, and
   its log gives the time of each phase.

Targets: end to end at most 10x the plain COPY, worker peak memory < 400 MB. The run's company
(and its receipts) is deleted at the end unless --keep.
"""

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import asyncpg
import httpx
import sales_queries
from list_companies import stop_server, wait_until_up
from sales_queries import HOST, start_api
from sales_seed import DATABASE_URL, PASSWORD, REDIS_URL, dsn, prepare

from sauda.security import hash_password

BARE = """CREATE TEMP TABLE bare_copy (
    external_id text, sold_at timestamptz, point_code text, product_sku text, quantity numeric(12, 3),
    unit_price numeric(14, 2), discount numeric(14, 2), total numeric(14, 2){receipts}
)"""
RECEIPT_COLUMNS = ", receipt text, payment_method text, kind text"
METHODS = ("cash", "card", "card", "kaspi_qr", "kaspi_qr", "kaspi_red", "transfer")


async def make_company(run: str) -> tuple[int, str]:
    conn = await asyncpg.connect(dsn())
    try:
        email = f"import-{run}@sauda.demo"
        company_id = await conn.fetchval(
            "INSERT INTO companies (name, kind, email, country, city, street, house_number, level, debt) "
            "VALUES ($1, 'retail_chain', $2, 'Казахстан', 'Алматы', 'Абая', '1', 0, 0) RETURNING id",
            f"Импорт {run}",
            email,
        )
        await conn.execute(
            "INSERT INTO users (email, password_hash, full_name, role, company_id, is_active) "
            "VALUES ($1, $2, 'Импорт', 'employee', $3, true)",
            email,
            hash_password(PASSWORD),
            company_id,
        )
        await conn.copy_records_to_table(
            "points",
            records=[
                (company_id, f"PT-{n:03}", f"Точка {n:03}", "", "", "store", True) for n in range(1, 51)
            ],
            columns=("company_id", "code", "name", "city", "address", "kind", "is_active"),
        )
        await conn.copy_records_to_table(
            "products",
            records=[
                (company_id, f"SKU-{n:05}", f"Товар {n:05}", "M", date(2023, 1, 1)) for n in range(1, 5001)
            ],
            columns=("company_id", "sku", "name", "model", "release_date"),
        )
        return int(company_id), email
    finally:
        await conn.close()


def write_csv(path: Path, rows: int, run: str, *, one_line: bool = False) -> None:
    rng = random.Random(run)
    header = "external_id,sold_at,point_code,product_sku,quantity,unit_price,discount,total"
    with path.open("w", encoding="utf-8") as out:
        out.write(header + ("\n" if one_line else ",receipt,payment_method,kind\n"))
        n = number = 0
        while n < rows:
            number += 1
            size = 1 if one_line else min(rng.choice((1, 2, 3, 4, 5, 5)), rows - n)
            d = date.fromordinal(date(2025, 1, 1).toordinal() + n * 365 // rows)
            seconds = rng.randrange(9 * 3600, 23 * 3600)
            when = f"{d} {seconds // 3600:02}:{seconds // 60 % 60:02}:{seconds % 60:02}"
            point = f"PT-{rng.randint(1, 50):03}"
            tail = f",{number},{rng.choice(METHODS)},{'return' if rng.random() < 0.03 else 'sale'}"
            for _ in range(size):
                q, price = rng.choice((1, 1, 2, 3)), rng.randint(200, 200_000)
                sku = f"SKU-{rng.randint(1, 5000):05}"
                line = f"I{run}-{n},{when},{point},{sku},{q},{price}.00,0.00,{q * price}.00"
                out.write(line + ("\n" if one_line else tail + "\n"))
                n += 1


async def plain_copy(path: Path, *, one_line: bool) -> float:
    conn = await asyncpg.connect(dsn())
    try:
        await conn.execute("SET TIME ZONE 'Asia/Almaty'")
        await conn.execute(BARE.format(receipts="" if one_line else RECEIPT_COLUMNS))
        started = time.perf_counter()
        await conn.copy_to_table("bare_copy", source=path, format="csv", header=True)
        return time.perf_counter() - started
    finally:
        await conn.close()


def start_worker(log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "SAUDA_ENV": "development",
        "SAUDA_DATABASE__URL": DATABASE_URL,
        "SAUDA_REDIS__URL": REDIS_URL,
        "SAUDA_LOG_LEVEL": "INFO",  # the import logs each phase
        "SAUDA_WORKER__JOB_TIMEOUT_SECONDS": "900",
    }
    # The Python process itself (no `uv run` in between), so its VmHWM is the worker's peak.
    command = [sys.executable, "-c", "from sauda.cli import app; app()", "worker"]
    with log.open("wb") as out:
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def worker_peak_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def end_to_end(path: Path, email: str) -> tuple[float, dict[str, object]]:
    base = f"http://{HOST}:{sales_queries.PORT}"
    token = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": email, "password": PASSWORD}, timeout=10
    )
    token.raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    started = time.perf_counter()
    with path.open("rb") as upload:
        answer = httpx.post(
            f"{base}/api/v1/sales/imports",
            files={"file": ("sales.csv", upload)},
            headers=headers,
            timeout=300,
        )
    answer.raise_for_status()
    uploaded = time.perf_counter()
    print(f"upload accepted (202) after {uploaded - started:.1f} s", flush=True)
    url = f"{base}/api/v1/sales/imports/{answer.json()['id']}"
    while True:
        status = httpx.get(url, headers=headers, timeout=30).json()
        if status["status"] in ("succeeded", "failed"):
            return time.perf_counter() - started, status
        time.sleep(0.5)


def load() -> str:
    return ", ".join(f"{n:.2f}" for n in os.getloadavg())


def phases(log: Path) -> list[str]:
    """The worker's log lines of the import's phases ("... after 12.3 s")."""
    return [line.split("import ", 1)[1] for line in log.read_text().splitlines() if " after " in line]


async def drop_company(company_id: int) -> None:
    conn = await asyncpg.connect(dsn())
    try:
        await conn.execute("DELETE FROM sales WHERE company_id = $1", company_id)
        await conn.execute("DELETE FROM users WHERE company_id = $1", company_id)
        await conn.execute("DELETE FROM companies WHERE id = $1", company_id)
        # The deletion's tombstones for 1C: nobody reads this company's feed.
        await conn.execute("DELETE FROM exchange_changes WHERE company_id = $1", company_id)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--one-line", action="store_true", help="the older layout: no receipt columns")
    parser.add_argument("--port", type=int, default=sales_queries.PORT, help="of the API started here")
    parser.add_argument("--keep", action="store_true", help="keep the run's company and its sales")
    args = parser.parse_args()
    sales_queries.PORT = args.port
    prepare()
    run = time.strftime("%Y%m%d%H%M%S")
    company_id, email = asyncio.run(make_company(run))
    print(f"load average at start: {load()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sales.csv"
        write_csv(path, args.rows, run, one_line=args.one_line)
        print(f"file: {args.rows} lines, {path.stat().st_size / 1e6:.1f} MB", flush=True)
        copy_seconds = asyncio.run(plain_copy(path, one_line=args.one_line))
        print(f"plain COPY into a bare table: {copy_seconds:.2f} s", flush=True)
        worker_log = Path(tmp) / "worker.log"
        api, worker = start_api(Path(tmp) / "api.log"), start_worker(worker_log)
        try:
            wait_until_up(f"http://{HOST}:{args.port}", api)
            seconds, status = end_to_end(path, email)
            peak = worker_peak_mb(worker.pid)
        finally:
            stop_server(api)
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
        print(
            f"import: {status['status']}, inserted {status['rows_inserted']}, failed {status['rows_failed']}"
        )
        print("worker phases:\n  " + "\n  ".join(phases(worker_log)))
        ratio = seconds / copy_seconds
        verdict = "OK" if ratio <= 10 and peak < 400 else "OVER TARGET"
        print(
            f"end to end: {seconds:.1f} s, {ratio:.1f}x the plain COPY (target <= 10x), "
            f"worker peak memory {peak:.0f} MB (target < 400 MB): {verdict}",
            flush=True,
        )
        print(f"load average at the end: {load()}", flush=True)
        if status["status"] != "succeeded":
            print(worker_log.read_text()[-3000:], file=sys.stderr)
    if not args.keep:
        asyncio.run(drop_company(company_id))


if __name__ == "__main__":
    main()
