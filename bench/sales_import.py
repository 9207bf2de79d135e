"""Import a 1 000 000-row sales CSV end to end, and compare with a plain COPY of the same file.

    uv run python bench/sales_import.py [--rows 1000000] [--keep]

Uses `sauda_bench_sales` (seeded by bench/sales_seed.py if needed, so `sales` already holds
5 000 000 rows and its indexes are full size). Each run creates a company of its own with the
same 50 points and 5 000 products, writes a CSV in the documented layout (every row valid,
external ids unique), then:

1. plain COPY: the file into a bare table with the same typed columns and no indexes
   (asyncpg `copy_to_table`, same machine, same run) — the floor any import has to pay;
2. end to end: the API (`sauda serve`) and a worker (`sauda worker`) as separate processes;
   the file is POSTed to /api/v1/sales/imports and the status polled until it is final. The
   time runs from the upload to the final status; the worker's peak memory is its VmHWM.

Targets: end to end < 90 s, worker peak memory < 400 MB. The run's company (and its sales) is
deleted at the end unless --keep.
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
from list_companies import stop_server, wait_until_up
from sales_queries import HOST, PORT, start_api
from sales_seed import DATABASE_URL, PASSWORD, REDIS_URL, dsn, prepare

from sauda.security import hash_password

BARE = """CREATE TEMP TABLE bare_copy (
    external_id text, sold_at timestamptz, point_code text, product_sku text, quantity numeric(12, 3),
    unit_price numeric(14, 2), discount numeric(14, 2), total numeric(14, 2)
)"""


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


def write_csv(path: Path, rows: int, run: str) -> None:
    rng = random.Random(run)
    with path.open("w", encoding="utf-8") as out:
        out.write("external_id,sold_at,point_code,product_sku,quantity,unit_price,discount,total\n")
        for n in range(rows):
            day = 1 + n * 365 // rows
            d = date.fromordinal(date(2025, 1, 1).toordinal() + day - 1)
            q, price = rng.choice((1, 1, 2, 3)), rng.randint(200, 200_000)
            seconds = rng.randrange(9 * 3600, 23 * 3600)
            out.write(
                f"I{run}-{n},{d} {seconds // 3600:02}:{seconds // 60 % 60:02}:{seconds % 60:02},"
                f"PT-{rng.randint(1, 50):03},SKU-{rng.randint(1, 5000):05},"
                f"{q},{price}.00,0.00,{q * price}.00\n"
            )


async def plain_copy(path: Path) -> float:
    conn = await asyncpg.connect(dsn())
    try:
        await conn.execute("SET TIME ZONE 'Asia/Almaty'")
        await conn.execute(BARE)
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
        "SAUDA_LOG_LEVEL": "WARNING",
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
    base = f"http://{HOST}:{PORT}"
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


async def drop_company(company_id: int) -> None:
    conn = await asyncpg.connect(dsn())
    try:
        await conn.execute("DELETE FROM sales WHERE company_id = $1", company_id)
        await conn.execute("DELETE FROM users WHERE company_id = $1", company_id)
        await conn.execute("DELETE FROM companies WHERE id = $1", company_id)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the run's company and its sales")
    args = parser.parse_args()
    prepare()
    run = time.strftime("%Y%m%d%H%M%S")
    company_id, email = asyncio.run(make_company(run))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sales.csv"
        write_csv(path, args.rows, run)
        print(f"file: {args.rows} rows, {path.stat().st_size / 1e6:.1f} MB", flush=True)
        copy_seconds = asyncio.run(plain_copy(path))
        print(f"plain COPY into a bare table: {copy_seconds:.1f} s", flush=True)
        api, worker = start_api(Path(tmp) / "api.log"), start_worker(Path(tmp) / "worker.log")
        try:
            wait_until_up(f"http://{HOST}:{PORT}", api)
            seconds, status = end_to_end(path, email)
            peak = worker_peak_mb(worker.pid)
        finally:
            stop_server(api)
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
        print(
            f"import: {status['status']}, inserted {status['rows_inserted']}, failed {status['rows_failed']}"
        )
        verdict = "OK" if seconds < 90 and peak < 400 else "OVER TARGET"
        print(
            f"end to end: {seconds:.1f} s (target < 90 s), "
            f"worker peak memory {peak:.0f} MB (target < 400 MB): "
            f"{verdict}; ratio to plain COPY: {seconds / copy_seconds:.1f}x",
            flush=True,
        )
        if status["status"] != "succeeded":
            print((Path(tmp) / "worker.log").read_text()[-3000:], file=sys.stderr)
    if not args.keep:
        asyncio.run(drop_company(company_id))


if __name__ == "__main__":
    main()
