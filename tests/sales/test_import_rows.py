"""Rows of a sales file without a database: the fast path reads plain rows exactly as the
thorough one does, cells of the new columns (kind, payment method, company), and how lines are
grouped into receipts."""

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sauda.sales.files import COLUMNS, Line, RowError, RowParser, check_header
from sauda.sales.grouping import Receipts

TZ = ZoneInfo("Asia/Almaty")
HEADER = [*COLUMNS]
PLAIN = {
    "external_id": "L-1",
    "sold_at": "2026-11-20 10:15:00",
    "point_code": "ALM-01",
    "product_sku": "TV-55",
    "quantity": "2",
    "unit_price": "1000.50",
    "discount": "",
    "total": "",
    "customer_external_id": "",
    "customer_name": "",
    "point_name": "",
    "product_name": "",
    "receipt": "101",
    "receipt_external_id": "",
    "kind": "sale",
    "payment_method": "card",
    "company_id": "7",
}


def _values(**cells: str) -> list[Any]:
    row = PLAIN | cells
    return [row[c] for c in HEADER]


def _parser(company_id: int | None = 7, *, text_cells: bool = True) -> RowParser:
    return RowParser(check_header(HEADER), TZ, company_id=company_id, text_cells=text_cells)


PLAIN_ROWS = {
    "plain": {},
    "discount and total": {"discount": "1.00", "total": "2000.00"},
    "fraction rounding half up": {"quantity": "0.005", "unit_price": "1.00"},
    "a return in Russian": {"kind": "возврат", "payment_method": "наличные"},
    "Kaspi QR": {"payment_method": "Kaspi QR"},
    "no payment method": {"payment_method": ""},
    "no kind": {"kind": ""},
    "no company cell": {"company_id": ""},
    "customer and names": {"customer_external_id": "C-1", "customer_name": "Айгуль", "product_name": "ТВ"},
    "time with an offset": {"sold_at": "2026-11-20T10:15:00+05:00"},
    "no receipt": {"receipt": ""},
    "receipt external id": {"receipt_external_id": "R-9"},
}


@pytest.mark.parametrize("case", list(PLAIN_ROWS))
def test_the_fast_path_reads_a_row_as_the_thorough_path_does(case: str) -> None:
    values = _values(**PLAIN_ROWS[case])
    fast = _parser().parse(2, list(values))
    thorough = _parser(text_cells=False).parse(2, list(values))
    assert fast == thorough
    assert fast[1] == []


def test_a_plain_row() -> None:
    line, errors = _parser().parse(5, _values(discount="0.50"))
    assert errors == []
    assert line == Line(
        5,
        7,
        "L-1",
        datetime(2026, 11, 20, 10, 15, tzinfo=TZ),
        "ALM-01",
        "TV-55",
        Decimal("2"),
        Decimal("1000.50"),
        Decimal("0.50"),
        Decimal("2000.50"),
        None,
        None,
        None,
        None,
        "101",
        None,
        "sale",
        "card",
    )


BAD_CELLS = {
    "negative quantity": (
        {"quantity": "-1"},
        "quantity",
        "must be greater than 0: mark a return with kind=return and positive quantities",
    ),
    "unknown kind": ({"kind": "refund"}, "kind", "'refund' is not a kind: sale or return (продажа, возврат)"),
    "unknown method": ({"payment_method": "bitcoin"}, "payment_method", "'bitcoin' is not a payment method"),
    "split without amount": ({"payment_method": "card=; cash=1"}, "payment_method", "'card=' is not"),
    "split with a zero amount": (
        {"payment_method": "card=0"},
        "payment_method",
        "'card=0': the amount must be",
    ),
    "another company": (
        {"company_id": "8"},
        "company_id",
        "the row is of company 8, the import is into company 7",
    ),
    "not a company id": ({"company_id": "x7"}, "company_id", "'x7' is not a company id"),
    "receipt too long": ({"receipt": "9" * 65}, "receipt", "is longer than 64 characters"),
}


@pytest.mark.parametrize("case", list(BAD_CELLS))
def test_bad_cells_of_the_new_columns(case: str) -> None:
    cells, column, message = BAD_CELLS[case]
    line, errors = _parser().parse(3, _values(**cells))
    assert line is None
    assert [(e.row, e.column) for e in errors] == [(3, column)]
    assert errors[0].message.startswith(message)


def test_an_admin_import_of_several_companies_needs_the_company_of_each_row() -> None:
    parser = _parser(None)
    line, _ = parser.parse(2, _values(company_id="8"))
    assert line is not None
    assert line.company_id == 8
    line, errors = parser.parse(3, _values(company_id=""))
    assert line is None
    assert errors == [RowError(3, "company_id", "is required: the import names no company")]


def test_split_payments_are_stored_in_one_form() -> None:
    line, errors = _parser().parse(2, _values(payment_method=" Карта = 1 500,50 ;cash=500"))
    assert errors == []
    assert line is not None
    assert line.payments == "card=1500.50;cash=500.00"


def _placed(
    rows: list[dict[str, str]],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[RowError]]:
    parser, receipts = _parser(), Receipts()
    lines, heads, errors = [], [], []
    for n, cells in enumerate(rows, start=2):
        line, _ = parser.parse(n, _values(**cells))
        assert line is not None
        staged, opened, error = receipts.place(line)
        lines.append(staged)
        heads += [opened] if opened else []
        errors += [error] if error else []
    return lines, heads, errors


def test_lines_sharing_number_point_and_time_are_one_receipt() -> None:
    lines, heads, errors = _placed(
        [
            {"external_id": "A"},
            {"external_id": "B", "point_code": "AST-02"},  # another point: another receipt
            {"external_id": "C", "sold_at": "2026-11-20T10:15:00+05:00"},  # the same moment
            {"external_id": "D", "receipt": ""},  # no number: a receipt of its own
            {"external_id": "E", "sold_at": "2026-11-20 10:16"},  # another time
        ]
    )
    assert errors == []
    # (row, receipt_no, line_no) of each line; (receipt_no, first row, key) of each receipt
    assert [line[:3] for line in lines] == [(2, 1, 1), (3, 2, 1), (4, 1, 2), (5, 3, 1), (6, 4, 1)]
    assert [(h[0], h[1], h[3]) for h in heads] == [(1, 2, "A"), (2, 3, "B"), (3, 5, "D"), (4, 6, "E")]


def test_lines_of_one_receipt_must_agree_with_its_first_line() -> None:
    _, _, errors = _placed(
        [
            {"external_id": "A", "customer_external_id": "C-1"},
            {"external_id": "B", "customer_external_id": "C-2"},
            {"external_id": "C", "customer_external_id": "C-1", "kind": "return"},
            {"external_id": "D", "customer_external_id": "C-1", "payment_method": "cash"},
            {"external_id": "E", "customer_external_id": "C-1"},
        ]
    )
    differs = "differs from row 2, the first line of its receipt"
    assert errors == [
        RowError(3, "customer_external_id", differs),
        RowError(4, "kind", differs),
        RowError(5, "payment_method", differs),
    ]


def test_a_receipt_external_id_groups_lines_that_agree_on_point_and_time() -> None:
    lines, heads, errors = _placed(
        [
            {"external_id": "A", "receipt_external_id": "R-1", "receipt": ""},
            {"external_id": "B", "receipt_external_id": "R-1", "receipt": ""},
            {"external_id": "C", "receipt_external_id": "R-1", "receipt": "", "sold_at": "2026-11-21 10:00"},
        ]
    )
    assert [line[:3] for line in lines] == [(2, 1, 1), (3, 1, 2), (4, 1, 3)]
    assert [(h[3], h[4]) for h in heads] == [("R-1", True)]
    assert errors == [RowError(4, "sold_at", "differs from row 2, the first line of its receipt")]
