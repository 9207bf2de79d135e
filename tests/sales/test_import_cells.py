"""Cells the database cannot hold are row errors (row, column, message) like any other, in CSV
and XLSX, and never reach the database: all-or-nothing imports nothing, a partial import keeps
the good rows and the rollups stay equal to the sales."""

import io
import zipfile
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from openpyxl import Workbook
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.config import Settings
from sauda.sales.files import RowParser
from sauda.sales.models import Sale
from tests.conftest import RunWorker
from tests.sales.conftest import Shop, assert_rollup_matches
from tests.sales.test_imports import count, imported

COLUMNS = ["external_id", "sold_at", "point_code", "product_sku", "quantity", "unit_price"]
COLUMNS += ["discount", "total", "customer_name", "point_name"]
_SENTINEL = 987654.125


@dataclass(frozen=True)
class SheetNumber:
    """A number cell written as this text into the sheet's XML, whatever a float can hold."""

    text: str


@dataclass(frozen=True)
class Bad:
    column: str
    csv: Any  # the cell in a CSV file; None: the case does not apply to CSV
    xlsx: Any  # the cell in a workbook; None: a workbook cannot hold it
    message: str


OUT_OF_RANGE = "must lie between 2000-01-01 and 2099-12-31"
BAD_CELLS = {
    "1e400": Bad("unit_price", "1e400", "1e400", "is too large (at most 999999999999.99)"),
    # No float holds it: openpyxl reads the cell as infinity.
    "1e400 as an XLSX number": Bad("unit_price", None, SheetNumber("1e400"), "'inf' is not a number"),
    "1e308": Bad("quantity", "1e308", 1e308, "is too large (at most 999999999.999)"),
    "NaN": Bad("discount", "NaN", "NaN", "'NaN' is not a number"),
    "inf": Bad("total", "inf", "inf", "'inf' is not a number"),
    "quantity 1000000000": Bad("quantity", "1000000000", 1000000000, "is too large (at most 999999999.999)"),
    "price 1000000000000": Bad(
        "unit_price", "1000000000000", 1000000000000, "is too large (at most 999999999999.99)"
    ),
    "sold_at 0001-01-01": Bad("sold_at", "0001-01-01", "0001-01-01", OUT_OF_RANGE),
    "sold_at 9999-12-31": Bad("sold_at", "9999-12-31", datetime(9999, 12, 31), OUT_OF_RANGE),
    # XML 1.0 has no NUL character: a workbook cannot carry one.
    "NUL in text": Bad("customer_name", "Ай\x00гуль", None, "contains a NUL character"),
    "overlong text": Bad("point_name", "x" * 201, "x" * 201, "is longer than 200 characters"),
}
# Every cell fits its column, but quantity × unit_price does not fit `total`'s Numeric(14, 2).
TOO_LARGE_TOTAL = "quantity × unit_price − discount = 999999999999000.00 is too large"


def _good(shop: Shop, n: int) -> dict[str, Any]:
    return {
        "external_id": f"G-{n}",
        "sold_at": "2026-03-01 10:00",
        "point_code": shop.points[0].code,
        "product_sku": shop.products[0].sku,
        "quantity": "2",
        "unit_price": "100.50",
    }


def _csv(rows: list[list[Any]]) -> bytes:
    lines = [",".join("" if v is None else str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def _xlsx(rows: list[list[Any]]) -> bytes:
    workbook = Workbook()
    numbers = [v for row in rows for v in row if isinstance(v, SheetNumber)]
    for row in rows:
        workbook.active.append([_SENTINEL if isinstance(v, SheetNumber) else v for v in row])
    out = io.BytesIO()
    workbook.save(out)
    content = out.getvalue()
    for number in numbers:  # in the order the sheet holds them
        content = _patch_sheet(content, f"<v>{_SENTINEL}</v>", f"<v>{number.text}</v>")
    return content


def _patch_sheet(workbook: bytes, old: str, new: str) -> bytes:
    source, out = zipfile.ZipFile(io.BytesIO(workbook)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as patched:
        for item in source.infolist():
            data = source.read(item)
            if "worksheets/sheet" in item.filename:
                data = data.replace(old.encode(), new.encode(), 1)
            patched.writestr(item, data)
    return out.getvalue()


def _file(fmt: str, rows: list[dict[str, Any]], *, extra: dict[int, Any] | None = None) -> bytes:
    """Header and rows; `extra` adds a cell past the header to the row at that index."""
    table: list[list[Any]] = [list(COLUMNS)]
    for i, row in enumerate(rows):
        table.append([row.get(c) for c in COLUMNS] + ([extra[i]] if extra and i in extra else []))
    return _csv(table) if fmt == "csv" else _xlsx(table)


def _rows_with(shop: Shop, bad: dict[str, Any], *, before: int) -> list[dict[str, Any]]:
    good = [_good(shop, n) for n in range(before)]
    return [*good, _good(shop, before) | {"external_id": "BAD"} | bad, _good(shop, before + 1)]


async def _check_outcome(
    body: dict[str, Any],
    expected_errors: list[dict[str, Any]],
    *,
    good_rows: int,
    all_or_nothing: bool,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    assert body["errors"] == expected_errors
    assert body["rows_failed"] == 1
    imported_rows = 0 if all_or_nothing else good_rows
    if all_or_nothing:
        assert (body["status"], body["error"]) == (
            "failed",
            "Nothing was imported: the file has rows with errors",
        )
    else:
        assert (body["status"], body["error"]) == ("succeeded", None)
    assert body["rows_inserted"] == imported_rows
    assert await count(sessionmaker, Sale) == imported_rows
    assert await count(sessionmaker, Sale, external_id="BAD") == 0
    assert await assert_rollup_matches(sessionmaker, settings) == imported_rows


@pytest.mark.parametrize("all_or_nothing", [True, False], ids=["all_or_nothing", "partial"])
@pytest.mark.parametrize(
    ("kind", "fmt"),
    [(k, f) for k, bad in BAD_CELLS.items() for f in ("csv", "xlsx") if getattr(bad, f) is not None],
)
async def test_a_cell_the_database_cannot_hold_is_a_row_error(
    client: httpx.AsyncClient,
    shop: Shop,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    kind: str,
    fmt: str,
    all_or_nothing: bool,
) -> None:
    bad = BAD_CELLS[kind]
    value = getattr(bad, fmt)
    # A NUL in the first 64 KB of a CSV refuses the file as binary at upload: this one is deeper.
    before = 1500 if fmt == "csv" and "\x00" in str(value) else 1
    rows = _rows_with(shop, {bad.column: value}, before=before)
    body = await imported(
        client, shop, run_worker, _file(fmt, rows), f"sales.{fmt}", all_or_nothing=all_or_nothing
    )
    expected = [{"row": before + 2, "column": bad.column, "message": bad.message}]
    await _check_outcome(
        body,
        expected,
        good_rows=before + 1,
        all_or_nothing=all_or_nothing,
        sessionmaker=sessionmaker,
        settings=settings,
    )


@pytest.mark.parametrize("all_or_nothing", [True, False], ids=["all_or_nothing", "partial"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_a_total_too_large_for_its_column_is_a_row_error(
    client: httpx.AsyncClient,
    shop: Shop,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    fmt: str,
    all_or_nothing: bool,
) -> None:
    rows = _rows_with(shop, {"quantity": "1000", "unit_price": "999999999999"}, before=1)
    body = await imported(
        client, shop, run_worker, _file(fmt, rows), f"sales.{fmt}", all_or_nothing=all_or_nothing
    )
    expected = [{"row": 3, "column": "total", "message": TOO_LARGE_TOTAL}]
    await _check_outcome(
        body,
        expected,
        good_rows=2,
        all_or_nothing=all_or_nothing,
        sessionmaker=sessionmaker,
        settings=settings,
    )


@pytest.mark.parametrize("all_or_nothing", [True, False], ids=["all_or_nothing", "partial"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_a_row_with_more_cells_than_the_header_is_a_row_error(
    client: httpx.AsyncClient,
    shop: Shop,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    fmt: str,
    all_or_nothing: bool,
) -> None:
    rows = _rows_with(shop, {}, before=1)
    # Row 3 has a value past the header; row 4 an empty cell there, which is no error.
    content = _file(fmt, rows, extra={1: "stray", 2: ""})
    body = await imported(client, shop, run_worker, content, f"sales.{fmt}", all_or_nothing=all_or_nothing)
    message = f"has {len(COLUMNS) + 1} cells, but the header has {len(COLUMNS)} columns"
    await _check_outcome(
        body,
        [{"row": 3, "column": None, "message": message}],
        good_rows=2,
        all_or_nothing=all_or_nothing,
        sessionmaker=sessionmaker,
        settings=settings,
    )


async def test_an_unexpected_error_fails_the_import_with_a_message(
    client: httpx.AsyncClient,
    shop: Shop,
    run_worker: RunWorker,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(RowParser, "parse", broken)
    rows = [_good(shop, 1)]
    body = await imported(client, shop, run_worker, _file("csv", rows), all_or_nothing=False)
    assert body["status"] == "failed"
    assert body["error"] == "Internal error while importing; the administrators have the details"
    assert await count(sessionmaker, Sale) == 0
