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

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.db import transaction
from sauda.network.models import Product
from sauda.sales.files import STAGING_COLUMNS
from sauda.sales.models import Customer, Point, Sale

# The import layout, so an exported file imports back.
HEADER = STAGING_COLUMNS[1:]
BATCH = 5000


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


MEDIA_TYPES = {
    ExportFormat.csv: "text/csv; charset=utf-8",
    ExportFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_statement(sales: Select[Sale], limit: int) -> Select[Any]:
    """The list's statement (filters, order) with the names the file needs."""
    stmt = (
        sales.with_only_columns(
            Sale.external_id,
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
        )
        .join_from(Sale, Point, Point.id == Sale.point_id)
        .join_from(Sale, Product, Product.id == Sale.product_id)
        .outerjoin_from(Sale, Customer, Customer.id == Sale.customer_id)
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
    sessionmaker: async_sessionmaker[AsyncSession], stmt: Select[Any], tz: ZoneInfo
) -> AsyncIterator[bytes]:
    buffer = io.StringIO("\ufeff")  # the BOM makes Excel read UTF-8
    buffer.seek(0, io.SEEK_END)
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    # The header goes out with the first rows: the query has run before anything is sent.
    async for rows in _rows(sessionmaker, stmt):
        writer.writerows((*row[:1], _local(row[1], tz), *row[2:]) for row in rows)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # no rows at all
        yield buffer.getvalue().encode()


async def xlsx_chunks(
    sessionmaker: async_sessionmaker[AsyncSession], stmt: Select[Any], tz: ZoneInfo
) -> AsyncIterator[bytes]:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("sales")
    sheet.append(HEADER)

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
