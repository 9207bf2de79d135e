"""Import of sales files: the upload (request side) and the load (worker side).

Upload: the file is checked at once (type, encoding, header) so a malformed file is a 422
without any job; then it is stored in `sales_import_chunks` and a job is queued after commit.

Load, in one transaction: stream the file row by row, validate (sauda.sales.files), group the
lines into receipts (sauda.sales.grouping), COPY the good lines and one row per receipt into
temporary staging tables in batches; then, holding every company of the file (writers' lock
order), resolve point codes / SKUs / customer ids in SQL (creating missing ones if asked),
check each receipt (totals, payments, what the company has already), and write the new
receipts, their lines and payments with plain INSERTs, and their aggregate into the rollups.
All-or-nothing by default: any bad row and nothing is written; otherwise a receipt with a bad
line is left out whole. Idempotent: a receipt already there is skipped. Progress (rows read) is
committed separately so pollers see it move.
"""

import asyncio
import csv
import io
import logging
import tempfile
import time
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
from sauda.money import MONEY_MAX
from sauda.network.models import Company
from sauda.network.service import owner_company
from sauda.sales.files import (
    ENCODINGS,
    InvalidFile,
    RowError,
    RowParser,
    SalesFile,
    detect_format,
    sniff,
)
from sauda.sales.grouping import LINE_COLUMNS, RECEIPT_COLUMNS, Receipts, StagedLine, StagedReceipt
from sauda.sales.models import ImportFormat, ImportStatus, SalesImport, SalesImportChunk
from sauda.sales.repository import hold_company, lock_company_batch
from sauda.sales.rollups import RollupRepository
from sauda.tenancy import Scope
from sauda.worker import enqueue_after_commit

log = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
HEADER_SAMPLE_BYTES = 256 * 1024


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
    await upload.seek(0)
    head = await upload.read(64 * 1024)
    fmt = detect_format(head, upload.filename or "")
    if fmt is ImportFormat.csv:
        sniff(head, encoding)
    await upload.seek(0)
    header = await asyncio.to_thread(_check_header, upload, fmt, encoding)
    owner = await _target(session, scope, actor, company_id, header)
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


async def _target(
    session: AsyncSession, scope: Scope, actor: User, company_id: int | None, header: dict[str, int]
) -> int | None:
    """The company the import writes into; None for an admin's file with a `company_id` column
    and no company named: each row goes into the company it names."""
    if company_id is None and actor.company_id is None and scope.is_global and "company_id" in header:
        return None
    if company_id is None and actor.company_id is None:
        raise InvalidInput.for_field(
            "company_id", "required: you belong to no company (or give the file a company_id column)"
        )
    return await owner_company(session, scope, actor, company_id)


def _check_header(upload: UploadFile, fmt: ImportFormat, encoding: str) -> dict[str, int]:
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
            header = sales_file.header()
            if next(sales_file.rows(), None) is None:
                raise InvalidFile("The file has a header but no rows")
    upload.file.seek(0)
    return header


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

# The file as staged: its good lines, and one row per receipt (from its first good line).
_CREATE_STAGING = (
    """CREATE TEMP TABLE import_lines (
        row_no integer NOT NULL,
        receipt_no integer NOT NULL,
        line_no smallint NOT NULL,
        company_id integer NOT NULL,
        external_id text NOT NULL,
        product_sku text NOT NULL,
        quantity numeric(12, 3) NOT NULL,
        unit_price numeric(14, 2) NOT NULL,
        discount numeric(14, 2) NOT NULL,
        total numeric(14, 2) NOT NULL,
        product_name text
    ) ON COMMIT DROP""",
    """CREATE TEMP TABLE import_receipt_rows (
        receipt_no integer NOT NULL,
        first_row integer NOT NULL,
        company_id integer NOT NULL,
        receipt_key text NOT NULL,
        key_given boolean NOT NULL,
        point_code text NOT NULL,
        point_name text,
        sold_at timestamptz NOT NULL,
        customer_external_id text,
        customer_name text,
        kind text NOT NULL,
        payments text NOT NULL,
        number text
    ) ON COMMIT DROP""",
    "CREATE TEMP TABLE import_bad (receipt_no integer PRIMARY KEY) ON COMMIT DROP",
)

# Codes are resolved through small temporary maps (company, code -> id) built from the distinct
# codes of the file and analyzed: joining the big staging tables to `points`/`products` directly
# lets a stale estimate for a new company (rows=1) pick a nested loop over the whole staging.
_REFERENCES = {
    # column: (map table, staging table, target table, target column)
    "point_code": ("import_points", "import_receipt_rows", "points", "code"),
    "product_sku": ("import_products", "import_lines", "products", "sku"),
    "customer_external_id": ("import_customers", "import_receipt_rows", "customers", "external_id"),
}
_MAP = """CREATE TEMP TABLE {map} ON COMMIT DROP AS
    SELECT t.company_id, t.{target_column} AS code, t.id
    FROM (SELECT DISTINCT company_id, {column} FROM {staging}) AS s
    JOIN {target} t ON t.company_id = s.company_id AND t.{target_column} = s.{column}"""

_CREATE_MISSING = {
    "point_code": """INSERT INTO points (company_id, code, name, city, address, kind, is_active)
        SELECT DISTINCT ON (company_id, point_code) company_id, point_code,
            left(coalesce(point_name, point_code), 200), '', '', 'store', true
        FROM import_receipt_rows WHERE company_id = ANY(CAST(:companies AS int[]))
        ORDER BY company_id, point_code, first_row
        ON CONFLICT (company_id, code) DO NOTHING""",
    "product_sku": """INSERT INTO products (company_id, sku, name, model, release_date)
        SELECT DISTINCT ON (company_id, product_sku) company_id, product_sku,
            left(coalesce(product_name, product_sku), 200), '', CURRENT_DATE
        FROM import_lines WHERE company_id = ANY(CAST(:companies AS int[]))
        ORDER BY company_id, product_sku, row_no
        ON CONFLICT (company_id, sku) DO NOTHING""",
    "customer_external_id": """INSERT INTO customers (company_id, external_id, name)
        SELECT DISTINCT ON (company_id, customer_external_id) company_id, customer_external_id,
            left(coalesce(customer_name, customer_external_id), 200)
        FROM import_receipt_rows
        WHERE customer_external_id IS NOT NULL AND company_id = ANY(CAST(:companies AS int[]))
        ORDER BY company_id, customer_external_id, first_row
        ON CONFLICT (company_id, external_id) DO NOTHING""",
}

# Row checks in SQL: each gives (row, receipt_no, column, message). Receipt-level ones name the
# receipt's first row; its other lines are then left out with it.
_UNKNOWN = {
    "point_code": """SELECT first_row, receipt_no, 'point_code',
            'no point with code ' || quote_literal(point_code)
        FROM import_receipt_rows s WHERE company_id = ANY(CAST(:companies AS int[])) AND NOT EXISTS (
            SELECT 1 FROM import_points m WHERE m.company_id = s.company_id AND m.code = s.point_code)""",
    "product_sku": """SELECT row_no, receipt_no, 'product_sku',
            'no product with SKU ' || quote_literal(product_sku)
        FROM import_lines s WHERE company_id = ANY(CAST(:companies AS int[])) AND NOT EXISTS (
            SELECT 1 FROM import_products m WHERE m.company_id = s.company_id AND m.code = s.product_sku)""",
    "customer_external_id": """SELECT first_row, receipt_no, 'customer_external_id',
            'no customer with external id ' || quote_literal(customer_external_id)
        FROM import_receipt_rows s
        WHERE customer_external_id IS NOT NULL AND company_id = ANY(CAST(:companies AS int[]))
        AND NOT EXISTS (SELECT 1 FROM import_customers m
                        WHERE m.company_id = s.company_id AND m.code = s.customer_external_id)""",
}
_NO_COMPANY = """SELECT first_row, receipt_no, 'company_id', 'no company ' || company_id
    FROM import_receipt_rows WHERE NOT (company_id = ANY(CAST(:companies AS int[])))"""
# A key repeated within the file: a hash aggregate, cheaper than a window over a million rows.
_REPEATED = """
SELECT s.{row}, s.receipt_no, '{column}', '{what} ' || quote_literal(s.{key}) || ' already in row ' || d.first
FROM {table} s JOIN (
    SELECT company_id, {key}, min({row}) AS first FROM {table} GROUP BY 1, 2 HAVING count(*) > 1
) AS d USING (company_id, {key})
WHERE s.{row} <> d.first
"""
_REPEATED_LINES = _REPEATED.format(
    row="row_no", column="external_id", what="external id", key="external_id", table="import_lines"
)
_REPEATED_RECEIPTS = _REPEATED.format(
    row="first_row",
    column="receipt_external_id",
    what="receipt",
    key="receipt_key",
    table="import_receipt_rows",
)
_RECEIPTS = """
SELECT first_row, receipt_no, 'receipt_external_id',
    'receipt ' || quote_literal(receipt_key) || ' already in row ' || first
FROM (
    SELECT first_row, receipt_no, receipt_key,
        min(first_row) OVER (PARTITION BY company_id, receipt_key) AS first
    FROM import_receipt_rows
) AS t
WHERE first_row <> first
"""
_RECEIPTS = """
CREATE TEMP TABLE import_receipts ON COMMIT DROP AS
SELECT h.*, t.total, t.lines
FROM import_receipt_rows h
JOIN (SELECT receipt_no, sum(total) AS total, count(*) AS lines FROM import_lines GROUP BY receipt_no) AS t
    USING (receipt_no)
"""
_RECEIPT_SUMS = """
SELECT first_row, receipt_no, 'total', 'the receipt''s total ' || total || ' is too large'
FROM import_receipts WHERE total > :money_max
UNION ALL
SELECT first_row, receipt_no, 'payment_method',
    'the payments add up to ' || paid || ', the receipt''s total is ' || total
FROM (
    SELECT r.first_row, r.receipt_no, r.total,
        (SELECT sum(CAST(split_part(p, '=', 2) AS numeric))
         FROM unnest(string_to_array(r.payments, ';')) AS p) AS paid
    FROM import_receipts r WHERE strpos(r.payments, '=') > 0
) AS t
WHERE paid <> total
"""
_UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# What the company has already: lines by external id, receipts by key; an exported line or
# receipt without an external id carries its ref (a UUID) instead, so refs count too.
_FOUND = """
CREATE TEMP TABLE import_found ON COMMIT DROP AS
SELECT s.row_no, s.receipt_no, s.external_id, l.receipt_id
FROM import_lines s JOIN sales l ON l.company_id = s.company_id AND l.external_id = s.external_id
WHERE l.company_id = ANY(CAST(:companies AS int[]))
UNION
SELECT s.row_no, s.receipt_no, s.external_id, l.receipt_id
FROM (SELECT * FROM import_lines WHERE external_id ~ :uuid) AS s
JOIN sales l ON l.company_id = s.company_id AND l.ref = CAST(s.external_id AS uuid)
WHERE l.company_id = ANY(CAST(:companies AS int[]))
"""
_KNOWN = """
CREATE TEMP TABLE import_known ON COMMIT DROP AS
SELECT h.receipt_no, r.id AS receipt_id
FROM import_receipts h JOIN receipts r ON r.company_id = h.company_id AND r.external_id = h.receipt_key
WHERE r.company_id = ANY(CAST(:companies AS int[]))
UNION
SELECT h.receipt_no, r.id
FROM (SELECT * FROM import_receipts WHERE receipt_key ~ :uuid) AS h
JOIN receipts r ON r.company_id = h.company_id AND r.ref = CAST(h.receipt_key AS uuid)
WHERE r.company_id = ANY(CAST(:companies AS int[]))
"""
# A receipt is already there when every one of its lines is, all in one receipt of as many
# lines, which its key (if taken at all) names.
_DUPLICATES = """
CREATE TEMP TABLE import_duplicates ON COMMIT DROP AS
SELECT f.receipt_no
FROM import_found f JOIN import_receipts h USING (receipt_no)
GROUP BY f.receipt_no, h.lines
HAVING count(DISTINCT f.row_no) = h.lines AND min(f.receipt_id) = max(f.receipt_id)
   AND (SELECT count(*) FROM sales l WHERE l.receipt_id = min(f.receipt_id)) = h.lines
   AND NOT EXISTS (
       SELECT 1 FROM import_known k WHERE k.receipt_no = f.receipt_no AND k.receipt_id <> min(f.receipt_id)
   )
"""
_TAKEN = """
SELECT f.row_no, f.receipt_no, 'external_id',
    'external id ' || quote_literal(f.external_id) || ' is already imported, in a receipt with other lines'
FROM import_found f
WHERE NOT EXISTS (SELECT 1 FROM import_duplicates d WHERE d.receipt_no = f.receipt_no)
UNION ALL
SELECT h.first_row, h.receipt_no, CASE WHEN h.key_given THEN 'receipt_external_id' ELSE 'external_id' END,
    'receipt ' || quote_literal(h.receipt_key) || ' is already imported with other lines'
FROM import_known k JOIN import_receipts h USING (receipt_no)
WHERE NOT EXISTS (SELECT 1 FROM import_duplicates d WHERE d.receipt_no = k.receipt_no)
  AND NOT EXISTS (SELECT 1 FROM import_found f WHERE f.receipt_no = k.receipt_no)
"""
_LEFT_OUT = (
    "SELECT row_no, receipt_no FROM import_lines WHERE receipt_no IN (SELECT receipt_no FROM import_bad)"
)

# The receipts to write, with their ids taken from the sequence up front, then their lines and
# payments as they will be stored, in temporary tables: plain INSERTs copy them into the real
# tables (duplicates and conflicts were found above, under the company's batch lock), and the
# rollups add their aggregate from these small tables instead of finding them among all sales.
# Refs are time-ordered (UUIDv7-like: the import's start in ms, then the row's id), so they go
# into the (company_id, ref) indexes one after another rather than at random pages of them.
_NEW = (
    """CREATE TEMP TABLE import_new ON COMMIT DROP AS
    SELECT t.*, CAST(:ref_prefix || lpad(to_hex(t.id), 15, '0') AS uuid) AS ref FROM (
    SELECT nextval('receipts_id_seq') AS id, h.receipt_no, h.company_id,
        p.id AS point_id, c.id AS customer_id, CAST(h.kind AS receipt_kind) AS kind, h.number, h.sold_at,
        h.total, h.receipt_key, h.payments, h.lines
    FROM import_receipts h
    JOIN import_points p ON p.company_id = h.company_id AND p.code = h.point_code
    LEFT JOIN import_customers c ON c.company_id = h.company_id AND c.code = h.customer_external_id
    WHERE NOT EXISTS (SELECT 1 FROM import_bad b WHERE b.receipt_no = h.receipt_no)
      AND NOT EXISTS (SELECT 1 FROM import_duplicates d WHERE d.receipt_no = h.receipt_no)
    ORDER BY h.receipt_no) AS t""",
    """CREATE TEMP TABLE import_new_lines ON COMMIT DROP AS
    SELECT t.*, CAST(:ref_prefix || lpad(to_hex(t.id), 15, '0') AS uuid) AS ref FROM (
    SELECT nextval('sales_id_seq') AS id, r.id AS receipt_id, s.line_no, r.kind,
        r.company_id, r.point_id, pr.id AS product_id, r.customer_id, s.quantity, s.unit_price,
        s.discount, s.total, r.sold_at, s.external_id
    FROM import_lines s
    JOIN import_new r USING (receipt_no)
    JOIN import_products pr ON pr.company_id = s.company_id AND pr.code = s.product_sku) AS t""",
    # One method pays the whole total (nothing for a zero total); a split is as the file says.
    """CREATE TEMP TABLE import_new_payments ON COMMIT DROP AS
    SELECT receipt_id, CAST(method AS payment_method) AS method, amount FROM (
        SELECT id AS receipt_id, 1 AS n, payments AS method, total AS amount
        FROM import_new WHERE total > 0 AND strpos(payments, '=') = 0
        UNION ALL
        SELECT r.id, p.n, split_part(p.part, '=', 1), CAST(split_part(p.part, '=', 2) AS numeric)
        FROM import_new r, unnest(string_to_array(r.payments, ';')) WITH ORDINALITY AS p (part, n)
        WHERE strpos(r.payments, '=') > 0
    ) AS t
    ORDER BY receipt_id, n""",
)
_INSERTS = (
    """INSERT INTO receipts (id, ref, company_id, point_id, customer_id, kind, number, sold_at, total,
        external_id)
    SELECT id, ref, company_id, point_id, customer_id, kind, number, sold_at, total, receipt_key
    FROM import_new""",
    """INSERT INTO sales (id, ref, receipt_id, line_no, kind, company_id, point_id, product_id, customer_id,
        quantity, unit_price, discount, total, sold_at, external_id)
    SELECT id, ref, receipt_id, line_no, kind, company_id, point_id, product_id, customer_id,
        quantity, unit_price, discount, total, sold_at, external_id
    FROM import_new_lines""",
    """INSERT INTO receipt_payments (receipt_id, method, amount)
    SELECT receipt_id, method, amount FROM import_new_payments""",
)
_NEW_TABLES = {"lines": "import_new_lines", "receipts": "import_new", "payments": "import_new_payments"}
_ALL = {"l": "true", "r": "true"}


@dataclass
class LoadResult:
    rows_read: int = 0
    rows_staged: int = 0
    rows_inserted: int = 0
    errors: list[RowError] = field(default_factory=list)
    bad_rows: set[int] = field(default_factory=set)
    # receipt_no (its number in the file) -> the first of its rows with an error
    bad_receipts: dict[int, int] = field(default_factory=dict)

    def fail(self, error: RowError, receipt_no: int | None = None) -> None:
        self.errors.append(error)
        self.bad_rows.add(error.row)
        if receipt_no is not None:
            self.bad_receipts.setdefault(receipt_no, error.row)


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
                load = Load(session, sessionmaker, settings, import_id, company_id=company_id)
                result = await load.run(
                    SalesFile(path, fmt, encoding),
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


@dataclass
class Batch:
    """Staged rows as CSV text for COPY (the server parses it faster than the driver encodes
    Decimals; every empty cell is a NULL: text cells are never empty strings)."""

    lines: bytes
    receipts: bytes
    count: int
    rows_read: int


def _csv(rows: list[tuple[Any, ...]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _batches(sales_file: SalesFile, parser: RowParser, size: int, result: LoadResult) -> Iterator[Batch]:
    """The good rows, grouped into receipts, in batches of about `size` lines."""
    receipts = Receipts()
    result.bad_receipts = receipts.bad
    lines: list[StagedLine] = []
    heads: list[StagedReceipt] = []
    for row_no, values in sales_file.rows():
        result.rows_read += 1
        line, errors = parser.parse(row_no, values)
        if line is None:
            for error in errors:
                result.fail(error)
            receipts.spoil(parser.receipt_key(values), row_no)
            continue
        staged, opened, wrong = receipts.place(line)
        if wrong is not None:
            result.fail(wrong)
            continue
        lines.append(staged)
        if opened is not None:
            heads.append(opened)
        if len(lines) >= size:
            yield Batch(_csv(lines), _csv(heads), len(lines), result.rows_read)
            lines, heads = [], []
    if lines or heads:
        yield Batch(_csv(lines), _csv(heads), len(lines), result.rows_read)


class Load:
    """The worker's side of one import, in one transaction: stage, check, write."""

    def __init__(
        self,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        import_id: uuid.UUID,
        *,
        company_id: int | None,
    ) -> None:
        self.session = session
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.import_id = import_id
        self.company_id = company_id  # None: each row names its company
        self.result = LoadResult()
        self.companies: list[int] = []
        self.has_receipt_keys = False
        self.started = time.perf_counter()

    def _phase(self, what: str) -> None:
        log.info("import %s: %s after %.2f s", self.import_id, what, time.perf_counter() - self.started)

    async def run(self, sales_file: SalesFile, *, all_or_nothing: bool, create_missing: bool) -> LoadResult:
        result = self.result
        conn = await self.session.connection()
        # Sorts and hash aggregates of up to a million rows stay in memory.
        await conn.execute(text("SET LOCAL work_mem = '64MB'"))
        # JIT compiling the big statements below costs more than it saves.
        await conn.execute(text("SET LOCAL jit = off"))
        for statement in _CREATE_STAGING:
            await conn.execute(text(statement))
        await self._stage(sales_file)
        if result.rows_read == 0:
            raise InvalidFile("The file has a header but no rows")
        self._phase(f"{result.rows_read} rows read and staged")
        await self._hold()
        await self._resolve(create_missing)
        self._phase(f"references resolved, {len(result.bad_rows)} bad rows")
        await self._check_receipts()
        self._phase(f"receipts checked, {len(result.bad_rows)} bad rows")
        if result.errors and all_or_nothing:
            raise Rejected(result)
        await self._leave_out()
        result.rows_inserted = await self._insert()
        self._phase(f"{result.rows_inserted} lines inserted")
        return result

    async def _stage(self, sales_file: SalesFile) -> None:
        raw = (await (await self.session.connection()).get_raw_connection()).driver_connection
        assert raw is not None
        size = self.settings.sales.import_batch_rows
        with sales_file:
            header = await asyncio.to_thread(sales_file.header)
            parser = RowParser(
                header, self.settings.tz, company_id=self.company_id, text_cells=sales_file.text_cells
            )
            batches = _batches(sales_file, parser, size, self.result)
            # The next batch is read while the server takes the previous one.
            copying: asyncio.Task[None] | None = None
            try:
                while (batch := await asyncio.to_thread(next, batches, None)) is not None:
                    if copying is not None:
                        await copying
                    copying = asyncio.create_task(self._copy(raw, batch))
            finally:
                if copying is not None:  # never left running: it uses the transaction's connection
                    await copying
        self.has_receipt_keys = "receipt_external_id" in header

    async def _copy(self, raw: Any, batch: Batch) -> None:
        for table, data, columns in (
            ("import_lines", batch.lines, LINE_COLUMNS),
            ("import_receipt_rows", batch.receipts, RECEIPT_COLUMNS),
        ):
            if data:
                await raw.copy_to_table(table, source=io.BytesIO(data), columns=columns, format="csv")
        self.result.rows_staged += batch.count
        await _progress(self.sessionmaker, self.import_id, batch.rows_read)

    async def _hold(self) -> None:
        """Before the first write, in the writers' lock order (sauda.sales.repository): every
        company of the file, held then batch-locked, in id order."""
        if self.company_id is not None:
            self.companies = [self.company_id]
        else:
            named = await self.session.scalars(text("SELECT DISTINCT company_id FROM import_receipt_rows"))
            found = await self.session.scalars(
                select(Company.id).where(Company.id.in_(list(named))).order_by(Company.id)
            )
            self.companies = list(found)
            await self._fail_rows(_NO_COMPANY)
        for company_id in self.companies:
            await hold_company(self.session, company_id)
        for company_id in self.companies:
            await lock_company_batch(self.session, company_id)

    async def _fail_rows(self, sql: str) -> None:
        params = {"companies": self.companies, "money_max": MONEY_MAX, "uuid": _UUID}
        for row_no, receipt_no, column, message in await self.session.execute(text(sql), params):
            self.result.fail(RowError(row_no, column, message), receipt_no)

    async def _resolve(self, create_missing: bool) -> None:
        params = {"companies": self.companies}
        for table in ("import_lines", "import_receipt_rows"):
            await self.session.execute(text(f"ANALYZE {table}"))
        for column, (map_table, staging, target, target_column) in _REFERENCES.items():
            if create_missing:
                await self.session.execute(text(_CREATE_MISSING[column]), params)
            sql = _MAP.format(
                map=map_table, column=column, staging=staging, target=target, target_column=target_column
            )
            await self.session.execute(text(sql))
            await self.session.execute(text(f"ANALYZE {map_table}"))
            await self._fail_rows(_UNKNOWN[column])
        await self._fail_rows(_REPEATED_LINES)
        if self.has_receipt_keys:
            await self._fail_rows(_REPEATED_RECEIPTS)

    async def _check_receipts(self) -> None:
        """Totals and payments of each receipt, and what the company has already."""
        for statement in (_RECEIPTS, "ANALYZE import_receipts"):
            await self.session.execute(text(statement))
        await self._fail_rows(_RECEIPT_SUMS)
        for statement in (_FOUND, _KNOWN, "ANALYZE import_found", _DUPLICATES):
            await self.session.execute(text(statement), {"uuid": _UUID, "companies": self.companies})
        await self._fail_rows(_TAKEN)

    async def _leave_out(self) -> None:
        """The good lines of a receipt with a bad one stay out with it (a partial import)."""
        bad = self.result.bad_receipts
        if not bad:
            return
        raw = (await (await self.session.connection()).get_raw_connection()).driver_connection
        assert raw is not None
        await raw.copy_records_to_table("import_bad", records=[(n,) for n in bad], columns=("receipt_no",))
        for row_no, receipt_no in await self.session.execute(text(_LEFT_OUT)):
            if row_no not in self.result.bad_rows:
                message = f"left out with its receipt: row {bad[receipt_no]} has errors"
                self.result.fail(RowError(row_no, None, message))

    async def _insert(self) -> int:
        """The new receipts, their lines and payments, then their aggregate into the rollups;
        the number of lines inserted."""
        # 12 hex digits of milliseconds, version 7, 3 digits, variant 8; the id fills the rest.
        prefix = f"{time.time_ns() // 1_000_000:012x}70008"
        for statement in _NEW:
            await self.session.execute(text(statement), {"ref_prefix": prefix})
        self._phase("new receipts made")
        for statement in _INSERTS:
            await self.session.execute(text(statement))
        self._phase("receipts, lines and payments written")
        await RollupRepository(self.session, self.settings.tz).add(_ALL, {}, _NEW_TABLES)
        return int(await self.session.scalar(text("SELECT count(*) FROM import_new_lines")) or 0)


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
