"""Reading sales files (CSV, XLSX) as a stream of validated rows.

The column layout is documented in the README ("Import file format"); samples are in docs/.
Nothing here touches the database: `SalesFile` turns a file into header + row tuples, and
`RowParser` turns one row into a staging record or a list of (row, column, message) errors.
"""

import codecs
import csv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from sauda.errors import SaudaError
from sauda.money import KOPECK
from sauda.network.models import Product
from sauda.sales.models import Customer, ImportFormat, Point, Sale
from sauda.types import BUSINESS_DATE_MAX, BUSINESS_DATE_MIN

REQUIRED = ("external_id", "sold_at", "point_code", "product_sku", "quantity", "unit_price")
OPTIONAL = ("discount", "total", "customer_external_id", "customer_name", "point_name", "product_name")
COLUMNS = REQUIRED + OPTIONAL
ENCODINGS = ("utf-8", "cp1251")
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls
MAX_FIELD = 10_000
# The column each value ends up in: its length or precision bounds what a row may hold, so a
# value the database cannot store is a row error here and never a failed COPY or INSERT.
_TEXT_COLUMNS: dict[str, Any] = {
    "external_id": Sale.external_id,
    "point_code": Point.code,
    "product_sku": Product.sku,
    "customer_external_id": Customer.external_id,
    "customer_name": Customer.name,
    "point_name": Point.name,
    "product_name": Product.name,
}
_NUMBER_COLUMNS: dict[str, Any] = {
    "quantity": Sale.quantity,
    "unit_price": Sale.unit_price,
    "discount": Sale.discount,
    "total": Sale.total,
}


def _number_limit(column: Any) -> tuple[int, Decimal]:
    """The decimal places of a Numeric(precision, scale) column and its first value too large."""
    precision, scale = column.type.precision, column.type.scale
    return scale, Decimal(10) ** (precision - scale)


_TEXT_LIMITS: dict[str, int] = {c: col.type.length for c, col in _TEXT_COLUMNS.items()}
_NUMBER_LIMITS = {c: _number_limit(col) for c, col in _NUMBER_COLUMNS.items()}
_DATE_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M")

# The staging record, in the order of the staging table's columns (see sauda.sales.imports).
STAGING_COLUMNS = (
    "row_no",
    "external_id",
    "sold_at",
    "point_code",
    "product_sku",
    "quantity",
    "unit_price",
    "discount",
    "total",
    "customer_external_id",
    "customer_name",
    "point_name",
    "product_name",
)


class InvalidFile(SaudaError):
    """The file as a whole cannot be read: wrong type, encoding or header, empty."""

    status_code = 422
    code = "invalid_file"


@dataclass(frozen=True)
class RowError:
    row: int
    column: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


def detect_format(head: bytes, filename: str) -> ImportFormat:
    """What the first bytes say the file is (the name only decides between wrong guesses)."""
    if not head:
        raise InvalidFile("The file is empty")
    if head.startswith(XLSX_MAGIC):
        return ImportFormat.xlsx
    if head.startswith(OLE_MAGIC):
        raise InvalidFile("This is an old binary .xls workbook; save it as .xlsx or CSV (UTF-8)")
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise InvalidFile("The file is named .xlsx but is not an Excel workbook")
    return ImportFormat.csv


class SalesFile:
    """A sales file opened for streaming: `header()` once, then `rows()`."""

    def __init__(self, path: Path, fmt: ImportFormat, encoding: str = "utf-8") -> None:
        self.path = path
        self.format = fmt
        self.encoding = "utf-8-sig" if encoding == "utf-8" else encoding
        self._rows: Iterator[tuple[int, tuple[Any, ...]]] | None = None
        self._close: Any = None

    def __enter__(self) -> "SalesFile":
        self._rows = self._open()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._close is not None:
            self._close()

    def _open(self) -> Iterator[tuple[int, tuple[Any, ...]]]:
        if self.format is ImportFormat.xlsx:
            return self._xlsx_rows()
        return self._csv_rows()

    def _csv_rows(self) -> Iterator[tuple[int, tuple[Any, ...]]]:
        stream: IO[str] = self.path.open(newline="", encoding=self.encoding, errors="strict")
        self._close = stream.close
        try:
            first = stream.readline(64 * 1024)
        except UnicodeDecodeError as exc:
            raise _encoding_error(self.encoding, 1) from exc
        delimiter = max((";", ",", "\t"), key=first.count)
        stream.seek(0)
        reader = csv.reader(stream, delimiter=delimiter, strict=True)
        return self._numbered_csv(reader)

    def _numbered_csv(self, reader: Any) -> Iterator[tuple[int, tuple[Any, ...]]]:
        csv.field_size_limit(MAX_FIELD)
        line = 0
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                raise _encoding_error(self.encoding, reader.line_num + 1) from exc
            except csv.Error as exc:
                raise InvalidFile(f"Line {reader.line_num}: not a readable CSV line ({exc})") from exc
            line += 1
            yield line, tuple(values)

    def _xlsx_rows(self) -> Iterator[tuple[int, tuple[Any, ...]]]:
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(self.path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise InvalidFile("The file is not a readable .xlsx workbook") from exc
        self._close = workbook.close
        if not workbook.worksheets:
            raise InvalidFile("The workbook has no sheets")
        return self._sheet_rows(workbook.worksheets[0])

    @staticmethod
    def _sheet_rows(sheet: Any) -> Iterator[tuple[int, tuple[Any, ...]]]:
        number = 0
        try:
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, tuple(values)
        except Exception as exc:  # a damaged sheet fails in many ways (XML, zip, cell values)
            raise InvalidFile(
                f"The workbook is damaged: its sheet cannot be read after row {number}"
            ) from exc

    def header(self) -> dict[str, int]:
        """Column name → position; refuses a missing, unknown or repeated column."""
        assert self._rows is not None
        for _, values in self._rows:
            names = [_header_name(v) for v in values]
            while names and not names[-1]:
                names.pop()
            if names:
                return check_header(names)
        raise InvalidFile("The file is empty: no header row")

    def rows(self) -> Iterator[tuple[int, tuple[Any, ...]]]:
        assert self._rows is not None
        for number, values in self._rows:
            if any(v not in (None, "") for v in values):
                yield number, values


def _header_name(value: Any) -> str:
    return str(value).strip().lower().replace(" ", "_") if value is not None else ""


def _encoding_error(encoding: str, line: int) -> InvalidFile:
    name = "UTF-8" if encoding == "utf-8-sig" else encoding
    hint = " (a Windows export? try encoding=cp1251)" if name == "UTF-8" else ""
    return InvalidFile(f"The file is not {name} text: unreadable bytes near line {line}{hint}")


def check_header(names: list[str]) -> dict[str, int]:
    unknown = [n or "(blank)" for n in names if n not in COLUMNS]
    missing = [c for c in REQUIRED if c not in names]
    repeated = sorted({n for n in names if names.count(n) > 1 and n})
    problems = []
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown columns: {', '.join(unknown[:10])}")
    if repeated:
        problems.append(f"repeated columns: {', '.join(repeated)}")
    if problems:
        raise InvalidFile(f"Wrong header ({'; '.join(problems)}); expected columns: {', '.join(COLUMNS)}")
    return {name: i for i, name in enumerate(names)}


class RowParser:
    """One file row → a staging record, or the errors that make it unusable."""

    def __init__(self, header: dict[str, int], tz: ZoneInfo) -> None:
        self.positions = [(c, header.get(c)) for c in COLUMNS]
        self.width = len(header)
        self.tz = tz

    def parse(self, row_no: int, values: tuple[Any, ...]) -> tuple[tuple[Any, ...] | None, list[RowError]]:
        raw = {c: (values[i] if i is not None and i < len(values) else None) for c, i in self.positions}
        errors: list[RowError] = []

        def fail(column: str | None, message: str) -> None:
            errors.append(RowError(row_no, column, message))

        self._check_width(values, fail)
        text = {c: self._text(raw[c], c, fail) for c in _TEXT_LIMITS}
        for column in ("external_id", "point_code", "product_sku"):
            if not text[column]:
                fail(column, "is required")
        sold_at = self._moment(raw["sold_at"], fail)
        quantity = self._number(raw["quantity"], "quantity", fail, required=True, positive=True)
        price = self._number(raw["unit_price"], "unit_price", fail, required=True)
        discount = self._number(raw["discount"], "discount", fail) or Decimal("0.00")
        sent_total = self._number(raw["total"], "total", fail)
        total = None
        if quantity is not None and price is not None:
            total = _line_total(quantity, price, discount, sent_total, fail)
        if errors:
            return None, errors
        record = (
            row_no,
            text["external_id"],
            sold_at,
            text["point_code"],
            text["product_sku"],
            quantity,
            price,
            discount,
            total,
            text["customer_external_id"],
            text["customer_name"],
            text["point_name"],
            text["product_name"],
        )
        return record, []

    def _check_width(self, values: tuple[Any, ...], fail: Any) -> None:
        """Cells past the header's last column belong to no column: the row is misaligned."""
        used = len(values)
        while used > self.width and values[used - 1] in (None, ""):
            used -= 1
        if used > self.width:
            fail(None, f"has {used} cells, but the header has {self.width} columns")

    @staticmethod
    def _text(value: Any, column: str, fail: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = str(value).strip()
        if "\x00" in text:
            fail(column, "contains a NUL character")
        elif len(text) > _TEXT_LIMITS[column]:
            fail(column, f"is longer than {_TEXT_LIMITS[column]} characters")
        return text or None

    def _moment(self, value: Any, fail: Any) -> datetime | None:
        moment = _as_datetime(value)
        if moment is None:
            if value in (None, ""):
                fail("sold_at", "is required")
            else:
                fail("sold_at", f"{str(value)[:40]!r} is not a date and time (use 2026-11-25 14:30:00)")
            return None
        if not BUSINESS_DATE_MIN <= moment.date() <= BUSINESS_DATE_MAX:
            fail("sold_at", f"must lie between {BUSINESS_DATE_MIN} and {BUSINESS_DATE_MAX}")
            return None
        return moment.replace(tzinfo=self.tz) if moment.tzinfo is None else moment

    @staticmethod
    def _number(
        value: Any, column: str, fail: Any, *, required: bool = False, positive: bool = False
    ) -> Decimal | None:
        if value is None or value == "":
            if required:
                fail(column, "is required")
            return None
        number = _as_decimal(value)
        places, too_large = _NUMBER_LIMITS[column]
        if number is None:
            fail(column, f"{str(value)[:40]!r} is not a number")
        elif number < 0 or (positive and number == 0):
            fail(column, "must be greater than 0" if positive else "must not be negative")
        elif number >= too_large:  # before rounding, which fails past 28 digits
            fail(column, f"is too large (at most {too_large - Decimal(1).scaleb(-places)})")
        elif number != round(number, places):
            fail(column, f"has more than {places} decimal places")
        else:
            return number
        return None


def _line_total(
    quantity: Decimal, price: Decimal, discount: Decimal, sent: Decimal | None, fail: Any
) -> Decimal | None:
    """quantity × unit_price − discount, if it is consistent and fits the `total` column."""
    gross = (quantity * price).quantize(KOPECK, rounding=ROUND_HALF_UP)
    total = (quantity * price - discount).quantize(KOPECK, rounding=ROUND_HALF_UP)
    if discount > gross:
        fail("discount", f"is larger than quantity × unit_price ({gross})")
    elif sent is not None and sent != total:
        fail("total", f"is {sent}, but quantity × unit_price − discount = {total}")
    elif total >= _NUMBER_LIMITS["total"][1]:
        fail("total", f"quantity × unit_price − discount = {total} is too large")
    else:
        return total
    return None


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    text = repr(value) if isinstance(value, float) else str(value)
    try:
        number = Decimal(text)  # the common case: a plain "1234.50"
    except InvalidOperation:
        try:
            number = Decimal(text.strip().replace("\u00a0", "").replace(" ", "").replace(",", "."))
        except InvalidOperation:
            return None
    return number if number.is_finite() else None


def sniff(head: bytes, encoding: str) -> None:
    """Refuse at once a CSV whose first bytes are not text in the declared encoding."""
    if b"\x00" in head:
        raise InvalidFile("The file holds binary data (NUL bytes): not a CSV text file")
    name = "utf-8-sig" if encoding == "utf-8" else encoding
    try:
        codecs.getincrementaldecoder(name)().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise _encoding_error(name, head[: exc.start].count(b"\n") + 1) from exc
