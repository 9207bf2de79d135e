"""Import of sales files: the upload (request side) and the load (worker side).

Upload: the file is checked at once (type, encoding, header) so a malformed file is a 422
without any job; then it is stored in `sales_import_chunks` and a job is queued after commit.

Load, in one transaction: stream the file row by row, validate, COPY valid rows into a
temporary staging table in batches, resolve point codes / SKUs / customer ids in SQL (creating
missing ones if asked), then each good row becomes a one-line receipt (INSERT ... ON CONFLICT
(company_id, external_id) DO NOTHING), and the new receipts' aggregate is added to the rollups
(in the writers' lock order).
All-or-nothing by default: any bad row and nothing is written. Progress (rows read) is committed
separately so pollers see it move.
"""

import asyncio
import logging
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import UploadFile
from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.auth.models import User
from sauda.config import Settings
from sauda.db import transaction
from sauda.errors import InvalidInput, SaudaError
from sauda.network.service import owner_company
from sauda.sales.files import (
    ENCODINGS,
    STAGING_COLUMNS,
    InvalidFile,
    RowError,
    RowParser,
    SalesFile,
    detect_format,
    sniff,
)
from sauda.sales.models import ImportFormat, ImportStatus, SalesImport, SalesImportChunk
from sauda.sales.repository import hold_company, lock_company_batch
from sauda.sales.rollups import RollupRepository
from sauda.tenancy import Scope
from sauda.worker import enqueue_after_commit

log = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
HEADER_SAMPLE_BYTES = 256 * 1024
STAGING = "sales_import_staging"


class FileTooLarge(SaudaError):
    status_code = 413
    code = "file_too_large"


# --- upload ----------------------------------------------------------------------------------


async def accept_upload(
    session: AsyncSession,
    settings: Settings,
    scope: Scope,
    actor: User,
    upload: UploadFile,
    *,
    company_id: int | None,
    encoding: str,
    all_or_nothing: bool,
    create_missing: bool,
) -> SalesImport:
    owner = await owner_company(session, scope, actor, company_id)
    await upload.seek(0)
    head = await upload.read(64 * 1024)
    fmt = detect_format(head, upload.filename or "")
    if fmt is ImportFormat.csv:
        sniff(head, encoding)
    await upload.seek(0)
    await asyncio.to_thread(_check_header, upload, fmt, encoding)
    record = SalesImport(
        id=uuid.uuid4(),
        company_id=owner,
        user_id=actor.id,
        filename=(upload.filename or "upload")[:255],
        format=fmt,
        encoding=encoding,
        size_bytes=0,
        all_or_nothing=all_or_nothing,
        create_missing=create_missing,
        status=ImportStatus.queued,
        errors=[],
    )
    session.add(record)
    await session.flush()
    record.size_bytes = await _store_chunks(session, settings, record.id, upload)
    await session.flush()
    enqueue_after_commit(session, "import_sales", str(record.id), job_id=f"sales-import:{record.id}")
    return record


def _check_header(upload: UploadFile, fmt: ImportFormat, encoding: str) -> None:
    """Read just the header of the spooled upload (openpyxl needs a real path for XLSX)."""
    with tempfile.NamedTemporaryFile(suffix=f".{fmt.value}") as copy:
        upload.file.seek(0)
        if fmt is ImportFormat.xlsx:
            while chunk := upload.file.read(CHUNK_BYTES):
                copy.write(chunk)
        else:
            sample = upload.file.read(HEADER_SAMPLE_BYTES)
            # A cut file ends at its last whole line; a whole one is kept as it is.
            copy.write(sample.rsplit(b"\n", 1)[0] if len(sample) == HEADER_SAMPLE_BYTES else sample)
        copy.flush()
        with SalesFile(Path(copy.name), fmt, encoding) as sales_file:
            sales_file.header()
            if next(sales_file.rows(), None) is None:
                raise InvalidFile("The file has a header but no rows")
    upload.file.seek(0)


async def _store_chunks(
    session: AsyncSession, settings: Settings, import_id: uuid.UUID, upload: UploadFile
) -> int:
    size, seq = 0, 0
    while chunk := await upload.read(CHUNK_BYTES):
        size += len(chunk)
        if size > settings.sales.import_max_bytes:
            raise FileTooLarge(
                f"The file is larger than {settings.sales.import_max_bytes // (1024 * 1024)} MB"
            )
        session.add(SalesImportChunk(import_id=import_id, seq=seq, data=chunk))
        seq += 1
        if seq % 16 == 0:
            await session.flush()
    if size == 0:
        raise InvalidFile("The file is empty")
    return size


def check_encoding(encoding: str) -> str:
    if encoding not in ENCODINGS:
        raise InvalidInput.for_field("encoding", f"one of {', '.join(ENCODINGS)}")
    return encoding


# --- load (worker) ---------------------------------------------------------------------------

_CREATE_STAGING = """
CREATE TEMP TABLE sales_import_staging (
    row_no integer NOT NULL,
    external_id text NOT NULL,
    sold_at timestamptz NOT NULL,
    point_code text NOT NULL,
    product_sku text NOT NULL,
    quantity numeric(12, 3) NOT NULL,
    unit_price numeric(14, 2) NOT NULL,
    discount numeric(14, 2) NOT NULL,
    total numeric(14, 2) NOT NULL,
    customer_external_id text,
    customer_name text,
    point_name text,
    product_name text
) ON COMMIT DROP
"""

# Codes are resolved through small temporary maps (code -> id) built from the distinct codes of
# the file and analyzed: joining the big staging table to `points`/`products` directly lets a
# stale estimate for a new company (rows=1) pick a nested loop over the whole staging table.
_KINDS = {
    # kind: (map table, staging column, target table, target column)
    "point_code": ("import_points", "point_code", "points", "code"),
    "product_sku": ("import_products", "product_sku", "products", "sku"),
    "customer_external_id": ("import_customers", "customer_external_id", "customers", "external_id"),
}

_MAP = """CREATE TEMP TABLE {map} ON COMMIT DROP AS
    SELECT t.{target_column} AS code, t.id FROM (SELECT DISTINCT {column} FROM sales_import_staging) AS s
    JOIN {target} t ON t.company_id = :company_id AND t.{target_column} = s.{column}"""

_CREATE_MISSING = {
    "point_code": """INSERT INTO points (company_id, code, name, city, address, kind, is_active)
        SELECT DISTINCT ON (point_code) :company_id, point_code, left(coalesce(point_name, point_code), 200),
            '', '', 'store', true
        FROM sales_import_staging ORDER BY point_code, row_no
        ON CONFLICT (company_id, code) DO NOTHING""",
    "product_sku": """INSERT INTO products (company_id, sku, name, model, release_date)
        SELECT DISTINCT ON (product_sku) :company_id, product_sku,
            left(coalesce(product_name, product_sku), 200), '', CURRENT_DATE
        FROM sales_import_staging ORDER BY product_sku, row_no
        ON CONFLICT (company_id, sku) DO NOTHING""",
    "customer_external_id": """INSERT INTO customers (company_id, external_id, name)
        SELECT DISTINCT ON (customer_external_id) :company_id, customer_external_id,
            left(coalesce(customer_name, customer_external_id), 200)
        FROM sales_import_staging WHERE customer_external_id IS NOT NULL
        ORDER BY customer_external_id, row_no
        ON CONFLICT (company_id, external_id) DO NOTHING""",
}

_UNKNOWN = {
    "point_code": """SELECT row_no, 'no point with code ' || quote_literal(point_code)
        FROM sales_import_staging s
        WHERE NOT EXISTS (SELECT 1 FROM import_points m WHERE m.code = s.point_code)""",
    "product_sku": """SELECT row_no, 'no product with SKU ' || quote_literal(product_sku)
        FROM sales_import_staging s
        WHERE NOT EXISTS (SELECT 1 FROM import_products m WHERE m.code = s.product_sku)""",
    "customer_external_id": """SELECT row_no, 'no customer with external id '
            || quote_literal(customer_external_id)
        FROM sales_import_staging s WHERE customer_external_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM import_customers m WHERE m.code = s.customer_external_id)""",
}

_REPEATED = """
SELECT row_no, 'external_id', 'external id ' || quote_literal(external_id) || ' already in row ' || first
FROM (
    SELECT row_no, external_id, min(row_no) OVER (PARTITION BY external_id) AS first
    FROM sales_import_staging
) AS t
WHERE row_no <> first
"""

# Each good row becomes a one-line receipt paid with method `unknown`, keyed by the row's external
# id (a row whose key a receipt or a line has already is a duplicate: skipped). The new receipts'
# ids are kept in `import_receipts`; the rollups then add their aggregate (sauda.sales.rollups).
_NEW_RECEIPTS = """
CREATE TEMP TABLE import_receipts ON COMMIT DROP AS
WITH ins AS (
    INSERT INTO receipts (company_id, point_id, customer_id, kind, sold_at, total, external_id)
    SELECT :company_id, p.id, c.id, 'sale', s.sold_at, s.total, s.external_id
    FROM sales_import_staging s
    JOIN import_points p ON p.code = s.point_code
    LEFT JOIN import_customers c ON c.code = s.customer_external_id
    WHERE NOT (s.row_no = ANY(CAST(:bad AS int[])))
      AND NOT EXISTS (
          SELECT 1 FROM sales l WHERE l.company_id = :company_id AND l.external_id = s.external_id
      )
    ORDER BY s.sold_at
    ON CONFLICT (company_id, external_id) DO NOTHING
    RETURNING id, external_id, point_id, customer_id, sold_at, total
)
SELECT * FROM ins
"""
_NEW_LINES = """
INSERT INTO sales (receipt_id, line_no, kind, company_id, point_id, product_id, customer_id, quantity,
                   unit_price, discount, total, sold_at, external_id)
SELECT r.id, 1, 'sale', :company_id, r.point_id, pr.id, r.customer_id, s.quantity, s.unit_price,
       s.discount, s.total, r.sold_at, r.external_id
FROM import_receipts r
JOIN sales_import_staging s ON s.external_id = r.external_id
JOIN import_products pr ON pr.code = s.product_sku
ORDER BY r.id
"""
_NEW_PAYMENTS = """
INSERT INTO receipt_payments (receipt_id, method, amount)
SELECT id, 'unknown', total FROM import_receipts WHERE total > 0 ORDER BY id
"""
_IMPORTED = {
    "l": "l.receipt_id IN (SELECT id FROM import_receipts)",
    "r": "r.id IN (SELECT id FROM import_receipts)",
}


@dataclass
class LoadResult:
    rows_read: int = 0
    rows_staged: int = 0
    rows_inserted: int = 0
    errors: list[RowError] = field(default_factory=list)
    bad_rows: set[int] = field(default_factory=set)

    def fail(self, error: RowError) -> None:
        self.errors.append(error)
        self.bad_rows.add(error.row)


class Rejected(Exception):
    """All-or-nothing import with bad rows: roll back, then record the errors."""

    def __init__(self, result: LoadResult) -> None:
        super().__init__(f"{len(result.bad_rows)} bad rows")
        self.result = result


async def run_import(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, import_id: uuid.UUID
) -> dict[str, Any]:
    async with transaction(sessionmaker) as session:
        record = await session.get(SalesImport, import_id, with_for_update=True)
        if record is None or record.status in (ImportStatus.succeeded, ImportStatus.failed):
            return {"status": record.status.value if record else "missing"}
        record.status, record.started_at = ImportStatus.running, datetime.now(UTC)
        company_id, fmt, encoding = record.company_id, record.format, record.encoding
        all_or_nothing, create_missing = record.all_or_nothing, record.create_missing
    with tempfile.TemporaryDirectory(prefix="sauda-import-") as tmp:
        path = Path(tmp) / f"upload.{fmt.value}"
        await _fetch_file(sessionmaker, import_id, path)
        try:
            async with transaction(sessionmaker) as session:
                result = await _load(
                    session,
                    sessionmaker,
                    settings,
                    import_id,
                    SalesFile(path, fmt, encoding),
                    company_id=company_id,
                    all_or_nothing=all_or_nothing,
                    create_missing=create_missing,
                )
                await _finish(session, settings, import_id, ImportStatus.succeeded, result)
        except Rejected as exc:
            await _finish_apart(
                sessionmaker,
                settings,
                import_id,
                ImportStatus.failed,
                exc.result,
                "Nothing was imported: the file has rows with errors",
            )
            return {"status": "failed", "rows_failed": len(exc.result.bad_rows)}
        except InvalidFile as exc:
            await _finish_apart(
                sessionmaker, settings, import_id, ImportStatus.failed, LoadResult(), exc.message
            )
            return {"status": "failed", "error": exc.message}
        except Exception:
            log.exception("import %s failed", import_id)
            await _finish_apart(
                sessionmaker,
                settings,
                import_id,
                ImportStatus.failed,
                LoadResult(),
                "Internal error while importing; the administrators have the details",
            )
            raise
    return {"status": "succeeded", "rows_inserted": result.rows_inserted}


async def _fetch_file(
    sessionmaker: async_sessionmaker[AsyncSession], import_id: uuid.UUID, path: Path
) -> None:
    async with sessionmaker() as session:
        stmt = (
            select(SalesImportChunk.data)
            .where(SalesImportChunk.import_id == import_id)
            .order_by(SalesImportChunk.seq)
        )
        with path.open("wb") as out:
            async for data in await session.stream_scalars(stmt.execution_options(yield_per=4)):
                out.write(data)


def _batches(
    sales_file: SalesFile, parser: RowParser, size: int, result: LoadResult
) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row_no, values in sales_file.rows():
        result.rows_read += 1
        record, errors = parser.parse(row_no, values)
        if record is None:
            for error in errors:
                result.fail(error)
            continue
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _load(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    import_id: uuid.UUID,
    sales_file: SalesFile,
    *,
    company_id: int,
    all_or_nothing: bool,
    create_missing: bool,
) -> LoadResult:
    result = LoadResult()
    conn = await session.connection()
    # Sorts and hash aggregates of up to a million rows stay in memory.
    await conn.execute(text("SET LOCAL work_mem = '64MB'"))
    await conn.execute(text(_CREATE_STAGING))
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    with sales_file:
        parser = RowParser(await asyncio.to_thread(sales_file.header), settings.tz)
        batches = _batches(sales_file, parser, settings.sales.import_batch_rows, result)
        while (batch := await asyncio.to_thread(next, batches, None)) is not None:
            await raw.copy_records_to_table(STAGING, records=batch, columns=STAGING_COLUMNS)
            result.rows_staged += len(batch)
            await _progress(sessionmaker, import_id, result.rows_read)
    if result.rows_read == 0:
        raise InvalidFile("The file has a header but no rows")
    log.info("import %s: %s rows read and staged", import_id, result.rows_read)
    # Before the first write, in the writers' lock order (sauda.sales.repository).
    await hold_company(session, company_id)
    await lock_company_batch(session, company_id)
    await _resolve(session, company_id, create_missing, result)
    log.info("import %s: references resolved, %s bad rows", import_id, len(result.bad_rows))
    if result.errors and all_or_nothing:
        raise Rejected(result)
    result.rows_inserted = await _insert(session, settings, company_id, result.bad_rows)
    log.info("import %s: %s sales inserted", import_id, result.rows_inserted)
    return result


async def _insert(session: AsyncSession, settings: Settings, company_id: int, bad_rows: set[int]) -> int:
    """The good rows as one-line receipts, then their aggregate into the rollups; the number
    inserted."""
    params = {"company_id": company_id, "bad": sorted(bad_rows)}
    await session.execute(text(_NEW_RECEIPTS), params)
    await session.execute(text("ANALYZE import_receipts"))
    await session.execute(text(_NEW_LINES), params)
    await session.execute(text(_NEW_PAYMENTS))
    await RollupRepository(session, settings.tz).add(_IMPORTED, {})
    return int(await session.scalar(text("SELECT count(*) FROM import_receipts")) or 0)


async def _resolve(session: AsyncSession, company_id: int, create_missing: bool, result: LoadResult) -> None:
    params = {"company_id": company_id}
    await session.execute(text("ANALYZE sales_import_staging"))
    for kind, (map_table, column, target, target_column) in _KINDS.items():
        if create_missing:
            await session.execute(text(_CREATE_MISSING[kind]), params)
        sql = _MAP.format(map=map_table, column=column, target=target, target_column=target_column)
        await session.execute(text(sql), params)
        await session.execute(text(f"ANALYZE {map_table}"))
        for row_no, msg in await session.execute(text(_UNKNOWN[kind])):
            result.fail(RowError(row_no, kind, msg))
    for row_no, column, msg in await session.execute(text(_REPEATED)):
        result.fail(RowError(row_no, column, msg))


async def _progress(
    sessionmaker: async_sessionmaker[AsyncSession], import_id: uuid.UUID, rows_read: int
) -> None:
    async with transaction(sessionmaker) as session:
        await session.execute(
            update(SalesImport).where(SalesImport.id == import_id).values(rows_read=rows_read)
        )


def _summary(
    settings: Settings, status: ImportStatus, result: LoadResult, error: str | None
) -> dict[str, Any]:
    errors = sorted(result.errors, key=lambda e: (e.row, e.column or ""))
    good = result.rows_read - len(result.bad_rows)
    return {
        "status": status,
        "rows_read": result.rows_read,
        "rows_inserted": result.rows_inserted,
        "rows_duplicate": max(good - result.rows_inserted, 0) if status is ImportStatus.succeeded else 0,
        "rows_failed": len(result.bad_rows),
        "errors": [e.as_dict() for e in errors[: settings.sales.import_max_errors]],
        "error": error,
        "finished_at": datetime.now(UTC),
    }


async def _finish(
    session: AsyncSession,
    settings: Settings,
    import_id: uuid.UUID,
    status: ImportStatus,
    result: LoadResult,
    error: str | None = None,
) -> None:
    values = _summary(settings, status, result, error)
    await session.execute(update(SalesImport).where(SalesImport.id == import_id).values(**values))
    await session.execute(delete(SalesImportChunk).where(SalesImportChunk.import_id == import_id))


async def _finish_apart(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    import_id: uuid.UUID,
    status: ImportStatus,
    result: LoadResult,
    error: str,
) -> None:
    async with transaction(sessionmaker) as session:
        await _finish(session, settings, import_id, status, result, error)
