"""Kaspi's Excel price-list template (`SKU | model | brand | price | PP1..PP5 | preorder`): the
export of a store's preorders, and the parsing of a filled-in copy, errors by row and column."""

import io
from typing import Any

from openpyxl import Workbook, load_workbook

from sauda.errors import InvalidInput
from sauda.kaspi.models import KaspiOffer, KaspiPreorder

HEADER = ["SKU", "model", "brand", "price", "PP1", "PP2", "PP3", "PP4", "PP5", "preorder"]
POINTS = HEADER[4:9]


def _point_value(offer: KaspiOffer, point: str) -> Any:
    for a in offer.availabilities or []:
        if str(a.get("storeId", "")).endswith(f"_{point}"):
            if a.get("stockSpecified") and "stockCount" in a:
                return a["stockCount"]
            return a.get("available") or None
    return None


def write_xlsx(rows: list[tuple[KaspiPreorder, KaspiOffer]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Прайс-лист"
    sheet.append(HEADER)
    for preorder, offer in rows:
        known = offer.pushed_price or offer.price
        price = int(known) if known else None
        points = [_point_value(offer, p) for p in POINTS]
        sheet.append([offer.sku, offer.title, offer.brand, price, *points, preorder.days or None])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def parse_xlsx(content: bytes) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of the template as {row, sku, days, points}, and the errors (row, column, message).
    `days` is None for an empty preorder cell: in stock (KASPI.md), not a 0-day preorder."""
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a file that is not xlsx
        raise InvalidInput.for_field("file", f"not an Excel (.xlsx) file: {type(exc).__name__}") from exc
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = [_cell(v) for v in next(rows, ())]
    if header[: len(HEADER)] != HEADER:
        raise InvalidInput.for_field("file", f"the first row must be {' | '.join(HEADER)}")
    parsed, errors = [], []
    for number, values in enumerate(rows, start=2):
        cells = [_cell(v) for v in (*values, *[None] * len(HEADER))][: len(HEADER)]
        if not any(cells):
            continue
        sku, days_raw = cells[0], cells[9]
        if not sku:
            errors.append({"row": number, "column": "SKU", "message": "required"})
            continue
        days: int | None
        if days_raw == "":
            days = None
        elif not days_raw.isdigit() or not 0 <= int(days_raw) <= 30:
            errors.append({"row": number, "column": "preorder", "message": "days 0-30, or empty if in stock"})
            continue
        else:
            days = int(days_raw)
        points = [p for p, v in zip(POINTS, cells[4:9], strict=True) if v and v.lower() not in ("no", "0")]
        parsed.append({"row": number, "sku": sku, "days": days, "points": points})
    book.close()
    return parsed, errors
