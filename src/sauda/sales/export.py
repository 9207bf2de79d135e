"""Export of a filtered sales list as CSV (streamed row batches) or XLSX (openpyxl write-only).

The export runs in a transaction of its own: the response body is produced after the request's
session has committed. Columns are the import layout, so an export can be imported elsewhere.

Once the status line is sent it cannot change, so the response (`sauda.streaming.StreamedFile`)
makes the first chunk before sending it: the CSV header with the first rows, or the whole XLSX
workbook. A CSV failing later is cut, never a short file that looks whole.
"""

import asyncio
import csv
import io
import tempfile
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, case, func, literal, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.db import transaction
from sauda.network.models import Product
from sauda.sales.files import COLUMNS
from sauda.sales.models import Customer, Payment, Point, Receipt, Sale
from sauda.sales.schemas import SaleOrdering

# The import layout, so an exported file imports back; an admin's export adds `company_id`.
HEADER = tuple(c for c in COLUMNS if c != "company_id")
BATCH = 5000


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


MEDIA_TYPES = {
    ExportFormat.csv: "text/csv; charset=utf-8",
    ExportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def header(*, with_company: bool) -> tuple[str, ...]:
    return (*HEADER, "company_id") if with_company else HEADER


def _payment_cell() -> Any:
    """A receipt's payments as the import reads them: its one method, or `card=1500.00; cash=500.00`;
    empty for none (a zero total)."""
    method = sql_cast(Payment.method, String)
    split = func.string_agg(
        method + "=" + sql_cast(Payment.amount, String), aggregate_order_by(literal("; "), Payment.id)
    )
    return (
        select(case((func.count() == 1, func.min(method)), else_=split))
        .where(Payment.receipt_id == Sale.receipt_id)
        .scalar_subquery()
    )


def export_statement(
    sales: Select[Sale],
    limit: int,
    *,
    ordering: SaleOrdering = SaleOrdering.sold_at_desc,
    with_company: bool = False,
) -> Select[Any]:
    """The list's statement (filters) with the names the file needs. A receipt's lines follow one
    another in their order wherever the ordering lets them (by time: always), so the import
    numbers them alike. A line or receipt without an external id is named by its ref."""
    column = getattr(Sale, ordering.value.lstrip("-"))
    descending = ordering.value.startswith("-")
    stmt = (
        sales.with_only_columns(
            func.coalesce(Sale.external_id, sql_cast(Sale.ref, String)),
            Sale.sold_at,
            Point.code,
            Product.sku,
            Sale.quantity,
            Sale.unit_price,
            Sale.discount,
            Sale.total,
            Customer.external_id,
            Customer.name,
            Point.name,
            Product.name,
            Receipt.number,
            func.coalesce(Receipt.external_id, sql_cast(Receipt.ref, String)),
            sql_cast(Sale.kind, String),
            _payment_cell(),
            *([Sale.company_id] if with_company else []),
        )
        .join_from(Sale, Receipt, Receipt.id == Sale.receipt_id)
        .join_from(Sale, Point, Point.id == Sale.point_id)
        .join_from(Sale, Product, Product.id == Sale.product_id)
        .outerjoin_from(Sale, Customer, Customer.id == Sale.customer_id)
        .order_by(None)
        .order_by(
            column.desc() if descending else column.asc(),
            Sale.receipt_id.desc() if descending else Sale.receipt_id.asc(),
            Sale.line_no,
            Sale.id,
        )
        .limit(limit)
    )
    return cast(Select[Any], stmt)


async def _rows(
    sessionmaker: async_sessionmaker[AsyncSession], stmt: Select[Any]
) -> AsyncIterator[Sequence[Any]]:
    async with transaction(sessionmaker) as session:
        result = await session.stream(stmt.execution_options(yield_per=BATCH))
        async for partition in result.partitions(BATCH):
            yield partition


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).replace(tzinfo=None).isoformat(sep=" ")


async def csv_chunks(
    sessionmaker: async_sessionmaker[AsyncSession],
    stmt: Select[Any],
    tz: ZoneInfo,
    columns: Sequence[str] = HEADER,
) -> AsyncIterator[bytes]:
    buffer = io.StringIO("\ufeff")  # the BOM makes Excel read UTF-8
    buffer.seek(0, io.SEEK_END)
    writer = csv.writer(buffer)
    writer.writerow(columns)
    # The header goes out with the first rows: the query has run before anything is sent.
    async for rows in _rows(sessionmaker, stmt):
        writer.writerows((*row[:1], _local(row[1], tz), *row[2:]) for row in rows)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # no rows at all
        yield buffer.getvalue().encode()


async def xlsx_chunks(
    sessionmaker: async_sessionmaker[AsyncSession],
    stmt: Select[Any],
    tz: ZoneInfo,
    columns: Sequence[str] = HEADER,
) -> AsyncIterator[bytes]:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("sales")
    sheet.append(columns)

    def append(rows: Sequence[Any]) -> None:
        for row in rows:
            sheet.append((row[0], row[1].astimezone(tz).replace(tzinfo=None), *row[2:]))

    # openpyxl is synchronous: build the sheet off the event loop, one batch at a time.
    try:
        async for rows in _rows(sessionmaker, stmt):
            await asyncio.to_thread(append, rows)
    except Exception:
        _discard(sheet)
        raise
    with tempfile.TemporaryFile() as out:
        await asyncio.to_thread(workbook.save, out)
        out.seek(0)
        while chunk := out.read(256 * 1024):
            yield chunk


def _discard(sheet: Any) -> None:
    """Close a sheet that will not be saved: openpyxl would keep its temporary file until exit
    and, once garbage-collected, write to that file after closing it."""
    sheet.close()
    sheet._writer.cleanup()
