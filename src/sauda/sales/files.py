"""Reading sales files (CSV, XLSX) as a stream of validated rows.

The column layout is documented in the README ("Import file format"); samples are in docs/.
Nothing here touches the database: `SalesFile` turns a file into header + row tuples, and
`RowParser` turns one row into a parsed line or a list of (row, column, message) errors.

`RowParser.parse` tries a fast path first: a CSV row whose cells are all in their plain form
(`1234.50`, `2026-11-20 10:15:00`, `card`) is converted with a few regular expressions and
caches. Anything else takes the thorough path, which accepts every documented form and names
what is wrong; both give the same line for the same row.
"""

import codecs
import csv
import operator
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, NamedTuple
from zoneinfo import ZoneInfo

from sauda.errors import SaudaError
from sauda.money import KOPECK
from sauda.network.models import Product
from sauda.sales.models import Customer, ImportFormat, PaymentMethod, Point, Receipt, ReceiptKind, Sale
from sauda.types import BUSINESS_DATE_MAX, BUSINESS_DATE_MIN, INT32_MAX

REQUIRED = ("external_id", "sold_at", "point_code", "product_sku", "quantity", "unit_price")
OPTIONAL = (
    "discount",
    "total",
    "customer_external_id",
    "customer_name",
    "point_name",
    "product_name",
    "receipt",
    "receipt_external_id",
    "kind",
    "payment_method",
    "company_id",
)
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
    "receipt": Receipt.number,
    "receipt_external_id": Receipt.external_id,
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
ZERO = Decimal("0.00")

# What a `kind` or `payment_method` cell may say (compared lower-case, spaces as `_`).
KINDS: dict[str, ReceiptKind] = {
    "sale": ReceiptKind.sale,
    "продажа": ReceiptKind.sale,
    "return": ReceiptKind.return_,
    "возврат": ReceiptKind.return_,
}
PAYMENT_METHODS: dict[str, PaymentMethod] = {m.value: m for m in PaymentMethod} | {
    "наличные": PaymentMethod.cash,
    "наличными": PaymentMethod.cash,
    "нал": PaymentMethod.cash,
    "карта": PaymentMethod.card,
    "картой": PaymentMethod.card,
    "банковская_карта": PaymentMethod.card,
    "каспи_qr": PaymentMethod.kaspi_qr,
    "kaspi_ред": PaymentMethod.kaspi_red,
    "каспи_ред": PaymentMethod.kaspi_red,
    "перевод": PaymentMethod.transfer,
    "банковский_перевод": PaymentMethod.transfer,
    "другое": PaymentMethod.other,
    "прочее": PaymentMethod.other,
    "неизвестно": PaymentMethod.unknown,
}
# A split payment: `card=1500.00; cash=500.00`.
PAYMENT_SEPARATOR, AMOUNT_SEPARATOR = ";", "="


class Line(NamedTuple):
    """One good row of a file, converted; the receipt fields are the row's own cells."""

    row_no: int
    company_id: int | None
    external_id: str
    sold_at: datetime
    point_code: str
    product_sku: str
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal
    total: Decimal
    customer_external_id: str | None
    customer_name: str | None
    point_name: str | None
    product_name: str | None
    receipt: str | None
    receipt_external_id: str | None
    kind: str
    payments: str  # a method (the whole total), or `method=amount;method=amount`


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
        self._rows: Iterator[tuple[int, list[Any]]] | None = None
        self._close: Any = None

    @property
    def text_cells(self) -> bool:
        """Every cell is a string (CSV); a workbook's cells are numbers, dates, text."""
        return self.format is ImportFormat.csv

    def __enter__(self) -> "SalesFile":
        self._rows = self._open()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._close is not None:
            self._close()

    def _open(self) -> Iterator[tuple[int, list[Any]]]:
        if self.format is ImportFormat.xlsx:
            return self._xlsx_rows()
        return self._csv_rows()

    def _csv_rows(self) -> Iterator[tuple[int, list[Any]]]:
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

    def _numbered_csv(self, reader: Any) -> Iterator[tuple[int, list[Any]]]:
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
            yield line, values

    def _xlsx_rows(self) -> Iterator[tuple[int, list[Any]]]:
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
    def _sheet_rows(sheet: Any) -> Iterator[tuple[int, list[Any]]]:
        number = 0
        try:
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, list(values)
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

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        assert self._rows is not None
        text = self.text_cells
        for number, values in self._rows:
            if any(values) if text else any(v not in (None, "") for v in values):
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


def _word(value: str) -> str:
    """A cell as a key of KINDS / PAYMENT_METHODS: lower case, inner spaces and dashes as `_`."""
    return "_".join(value.replace("-", " ").split()).lower()


def _plain_number(column: str) -> Callable[[str], Any]:
    """Matches a number cell in its plain form that surely fits the column (`1234.50`)."""
    places, too_large = _NUMBER_LIMITS[column]
    digits = len(str(too_large)) - 1
    return re.compile(rf"\d{{1,{digits}}}(?:\.\d{{1,{places}}})?").fullmatch


_PLAIN = {column: _plain_number(column) for column in _NUMBER_LIMITS}
_SHORTEST_TEXT_LIMIT = min(_TEXT_LIMITS.values())
_TOTAL_TOO_LARGE = _NUMBER_LIMITS["total"][1]
_MOMENTS_CACHED = 65_536


class RowParser:
    """One file row → a `Line`, or the errors that make it unusable.

    `company_id` is the company the import writes into; None when each row names its own in a
    `company_id` column (an admin's import of several companies)."""

    def __init__(
        self, header: dict[str, int], tz: ZoneInfo, *, company_id: int | None = None, text_cells: bool = False
    ) -> None:
        self.width = len(header)
        self.tz = tz
        self.company_id = company_id
        self.has_company = "company_id" in header
        # The cells in COLUMNS order; an absent column reads the empty cell appended past the end.
        self._cells = operator.itemgetter(*(header.get(c, self.width) for c in COLUMNS))
        self._fast_ok = text_cells
        self._moments: dict[str, datetime] = {}

    def parse(self, row_no: int, values: list[Any]) -> tuple[Line | None, list[RowError]]:
        if self._fast_ok and len(values) == self.width:
            values.append("")  # what an absent column reads
            try:
                line = self._fast(row_no, self._cells(values))
            finally:
                values.pop()
            if line is not None:
                return line, []
        return self._thorough(row_no, values)

    # --- the fast path: plain cells only; None sends the row to the thorough path ---------

    def _fast(self, row_no: int, cells: tuple[str, ...]) -> Line | None:
        if "\x00" in "".join(cells) or max(map(len, cells)) > _SHORTEST_TEXT_LIMIT:
            return None
        (
            ext,
            sold,
            point,
            sku,
            qty,
            price,
            disc,
            sent,
            cust,
            cname,
            pname,
            prname,
            number,
            rext,
            kind,
            pay,
            comp,
        ) = cells
        ext, point, sku = ext.strip(), point.strip(), sku.strip()
        if not (ext and point and sku):
            return None
        moment = self._moments.get(sold)
        if moment is None:
            moment = self._fast_moment(sold)
            if moment is None:
                return None
        if not (_PLAIN["quantity"](qty) and _PLAIN["unit_price"](price)):
            return None
        quantity, unit_price = Decimal(qty), Decimal(price)
        if not quantity:
            return None
        if disc:
            if not _PLAIN["discount"](disc):
                return None
            discount = Decimal(disc)
        else:
            discount = ZERO
        exact = quantity * unit_price
        total = (exact - discount).quantize(KOPECK, rounding=ROUND_HALF_UP)
        if total >= _TOTAL_TOO_LARGE or (
            discount and discount > exact.quantize(KOPECK, rounding=ROUND_HALF_UP)
        ):
            return None
        if sent and (not _PLAIN["total"](sent) or Decimal(sent) != total):
            return None
        company_id = self.company_id
        if comp:
            if not (comp.isascii() and comp.isdigit() and len(comp) < 10) or int(comp) == 0:
                return None
            if company_id is None:
                company_id = int(comp)
            elif int(comp) != company_id:
                return None
        elif company_id is None:
            return None
        kind_value = KINDS.get(kind or "sale")
        payments = _FAST_PAYMENTS.get(pay)
        if kind_value is None or payments is None:
            return None
        return Line(
            row_no,
            company_id,
            ext,
            moment,
            point,
            sku,
            quantity,
            unit_price,
            discount,
            total,
            cust.strip() or None,
            cname.strip() or None,
            pname.strip() or None,
            prname.strip() or None,
            number.strip() or None,
            rext.strip() or None,
            kind_value.value,
            payments,
        )

    def _fast_moment(self, text: str) -> datetime | None:
        moment = _as_datetime(text)
        if moment is None or not BUSINESS_DATE_MIN <= moment.date() <= BUSINESS_DATE_MAX:
            return None
        moment = moment.replace(tzinfo=self.tz) if moment.tzinfo is None else moment
        if len(self._moments) >= _MOMENTS_CACHED:
            self._moments.clear()
        self._moments[text] = moment
        return moment

    # --- the thorough path: every documented form, and what is wrong -----------------------

    def _raw(self, values: list[Any]) -> dict[str, Any]:
        kept = values[: self.width]
        return dict(zip(COLUMNS, self._cells([*kept, *[None] * (self.width + 1 - len(kept))]), strict=True))

    def receipt_key(self, values: list[Any]) -> tuple[Any, ...] | None:
        """The receipt a bad row belongs to, where its cells can tell (`receipt_key_of`)."""
        raw = self._raw(values)

        def ignore(column: str | None, message: str) -> None:
            pass

        text = {c: self._text(raw[c], c, ignore) for c in ("receipt_external_id", "point_code", "receipt")}
        return receipt_key_of(
            self._company(raw["company_id"], ignore),
            text["receipt_external_id"],
            text["point_code"],
            text["receipt"],
            self._moment(raw["sold_at"], ignore),
        )

    def _thorough(self, row_no: int, values: list[Any]) -> tuple[Line | None, list[RowError]]:
        raw = self._raw(values)
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
        discount = self._number(raw["discount"], "discount", fail) or ZERO
        sent_total = self._number(raw["total"], "total", fail)
        total = None
        if quantity is not None and price is not None:
            total = _line_total(quantity, price, discount, sent_total, fail)
        company_id = self._company(raw["company_id"], fail)
        kind = _kind(raw["kind"], fail)
        payments = parse_payments(raw["payment_method"], fail)
        if errors or sold_at is None or quantity is None or price is None or total is None:
            return None, errors
        if kind is None or payments is None:  # never without an error: for the type checker
            return None, errors
        line = Line(
            row_no,
            company_id,
            text["external_id"] or "",
            sold_at,
            text["point_code"] or "",
            text["product_sku"] or "",
            quantity,
            price,
            discount,
            total,
            text["customer_external_id"],
            text["customer_name"],
            text["point_name"],
            text["product_name"],
            text["receipt"],
            text["receipt_external_id"],
            kind.value,
            payments,
        )
        return line, []

    def _check_width(self, values: list[Any], fail: Any) -> None:
        """Cells past the header's last column belong to no column: the row is misaligned."""
        used = len(values)
        while used > self.width and values[used - 1] in (None, ""):
            used -= 1
        if used > self.width:
            fail(None, f"has {used} cells, but the header has {self.width} columns")

    def _company(self, value: Any, fail: Any) -> int | None:
        text = (
            ""
            if value is None
            else str(int(value) if isinstance(value, float) and value.is_integer() else value)
        )
        text = text.strip()
        if not text:
            if self.company_id is None:
                fail("company_id", "is required: the import names no company")
            return self.company_id
        if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= INT32_MAX:
            fail("company_id", f"{text[:40]!r} is not a company id")
            return None
        if self.company_id is not None and int(text) != self.company_id:
            fail(
                "company_id",
                f"the row is of company {int(text)}, the import is into company {self.company_id} "
                "(an admin imports every row into its own company by leaving the import's company_id out)",
            )
            return None
        return int(text)

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
        elif number < 0 and column == "quantity":
            fail(column, "must be greater than 0: mark a return with kind=return and positive quantities")
        elif number < 0 or (positive and number == 0):
            fail(column, "must be greater than 0" if positive else "must not be negative")
        elif number >= too_large:  # before rounding, which fails past 28 digits
            fail(column, f"is too large (at most {too_large - Decimal(1).scaleb(-places)})")
        elif number != round(number, places):
            fail(column, f"has more than {places} decimal places")
        else:
            return number
        return None


def receipt_key_of(
    company_id: int | None,
    receipt_external_id: str | None,
    point_code: str | None,
    number: str | None,
    sold_at: datetime | None,
) -> tuple[Any, ...] | None:
    """What makes lines one receipt (sauda.sales.grouping); None: a line is a receipt of its own,
    or its receipt cannot be told."""
    if receipt_external_id:
        return (company_id, receipt_external_id)
    if number and point_code and sold_at is not None:
        return (company_id, point_code, number, sold_at)
    return None


def _kind(value: Any, fail: Any) -> ReceiptKind | None:
    text = "" if value is None else str(value).strip()
    kind = KINDS.get(_word(text) or "sale")
    if kind is None:
        fail("kind", f"{text[:40]!r} is not a kind: sale or return (продажа, возврат)")
    return kind


def parse_payments(value: Any, fail: Callable[[str | None, str], None]) -> str | None:
    """A `payment_method` cell in its stored form: `card`, or `card=1500.00;cash=500.00`;
    empty: `unknown`."""
    text = "" if value is None else str(value).strip()
    if AMOUNT_SEPARATOR not in text:
        method = PAYMENT_METHODS.get(_word(text) or "unknown")
        if method is None:
            fail("payment_method", f"{text[:40]!r} is not a payment method ({', '.join(PaymentMethod)})")
        return method.value if method else None
    parts = []
    for part in text.split(PAYMENT_SEPARATOR):
        name, _, amount_text = part.partition(AMOUNT_SEPARATOR)
        method = PAYMENT_METHODS.get(_word(name))
        amount = _as_decimal(amount_text.strip()) if amount_text.strip() else None
        if method is None or amount is None:
            fail("payment_method", f"{part.strip()[:40]!r} is not `method=amount` (e.g. card=1500.00)")
            return None
        if not 0 < amount < _NUMBER_LIMITS["total"][1] or amount != round(amount, 2):
            fail(
                "payment_method",
                f"{part.strip()[:40]!r}: the amount must be above 0, with at most 2 decimals",
            )
            return None
        parts.append(f"{method.value}{AMOUNT_SEPARATOR}{amount.quantize(KOPECK)}")
    return PAYMENT_SEPARATOR.join(parts)


# `payment_method` cells seen as they are in most files, and what they stand for.
_FAST_PAYMENTS: dict[str, str] = {"": PaymentMethod.unknown.value} | {
    spelled: method.value
    for name, method in PAYMENT_METHODS.items()
    for spelled in {name, name.replace("_", " "), name.replace("_", " ").title(), name.upper()}
}
_FAST_PAYMENTS |= {"Kaspi QR": "kaspi_qr", "Kaspi Red": "kaspi_red"}


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
