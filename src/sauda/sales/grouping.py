"""Lines of a sales file → receipts, while the file streams (nothing here touches the database).

Lines form one receipt when they share `receipt_external_id`, or else the same company, point,
receipt number (`receipt`) and sold_at (the same moment, however written). A line with neither
cell, or a file without those columns, is a receipt of its own. The lines of one receipt must
agree on what belongs to the receipt (customer, kind, payment; with `receipt_external_id` also
point, time and number): a line that differs from the receipt's first line is a row error.

Each receipt gets a number in the file (`receipt_no`, in order of first appearance) and a key,
its external id: `receipt_external_id`, else the external id of its first line. Only grouped
receipts are remembered (one small entry each), so a file of one-line receipts costs no memory.
"""

from dataclasses import dataclass, field
from typing import Any

from sauda.sales.files import Line, RowError
from sauda.sales.receipts.schemas import MAX_LINES

# A staging line: (row_no, receipt_no, line_no, company_id, external_id, product_sku, quantity,
# unit_price, discount, total, product_name); a staging receipt: (receipt_no, first_row,
# company_id, receipt_key, key_given, point_code, point_name, sold_at, customer_external_id, customer_name,
# kind, payments, number).
StagedLine = tuple[Any, ...]
StagedReceipt = tuple[Any, ...]
LINE_COLUMNS = (
    "row_no",
    "receipt_no",
    "line_no",
    "company_id",
    "external_id",
    "product_sku",
    "quantity",
    "unit_price",
    "discount",
    "total",
    "product_name",
)
RECEIPT_COLUMNS = (
    "receipt_no",
    "first_row",
    "company_id",
    "receipt_key",
    "key_given",
    "point_code",
    "point_name",
    "sold_at",
    "customer_external_id",
    "customer_name",
    "kind",
    "payments",
    "number",
)
# What the lines of one receipt must agree on, as named in the file.
_AGREE = ("customer_external_id", "kind", "payment_method", "point_code", "sold_at", "receipt")


@dataclass(slots=True)
class _Group:
    receipt_no: int
    first_row: int
    agree: tuple[Any, ...] | None = None  # of its first good line
    lines: int = 0


@dataclass
class Receipts:
    """Assigns lines to receipts; `bad` holds, per receipt with a bad line, that line's row."""

    count: int = 0
    bad: dict[int, int] = field(default_factory=dict)
    _groups: dict[tuple[Any, ...], _Group] = field(default_factory=dict)

    def place(self, line: Line) -> tuple[StagedLine, StagedReceipt | None, RowError | None]:
        """The line as staged, its receipt when this line opens it, and an error when the line
        cannot belong to its receipt."""
        (
            row_no,
            company_id,
            external_id,
            sold_at,
            point_code,
            product_sku,
            quantity,
            unit_price,
            discount,
        ) = line[:9]
        (total, customer, customer_name, point_name, product_name, number, given, kind, payments) = line[9:]
        if not (given or number):  # a receipt of its own
            self.count += 1
            receipt_no, line_no, opened, error = self.count, 1, True, None
        else:
            key: tuple[Any, ...] = (company_id, given) if given else (company_id, point_code, number, sold_at)
            agree = (
                (customer, kind, payments, point_code, sold_at, number)
                if given
                else (customer, kind, payments)
            )
            group = self._groups.get(key)
            if group is None:
                self.count += 1
                group = self._groups[key] = _Group(self.count, row_no)
            opened = group.agree is None  # its first good line
            if opened:
                group.agree, group.first_row = agree, row_no
            group.lines += 1
            receipt_no, line_no = group.receipt_no, group.lines
            error = self._disagreement(line, group, agree, given)
            if error is not None:
                self.bad.setdefault(receipt_no, row_no)
        staged = (
            row_no,
            receipt_no,
            line_no,
            company_id,
            external_id,
            product_sku,
            quantity,
            unit_price,
            discount,
            total,
            product_name,
        )
        if not opened:
            return staged, None, error
        receipt = (
            receipt_no,
            row_no,
            company_id,
            given or external_id,
            given is not None,
            point_code,
            point_name,
            sold_at,
            customer,
            customer_name,
            kind,
            payments,
            number,
        )
        return staged, receipt, error

    @staticmethod
    def _disagreement(
        line: Line, group: _Group, agree: tuple[Any, ...], given: str | None
    ) -> RowError | None:
        if group.lines > MAX_LINES:
            column = "receipt_external_id" if given else "receipt"
            return RowError(line.row_no, column, f"the receipt has more than {MAX_LINES} lines")
        if agree == group.agree or group.agree is None:
            return None
        column = next(c for c, a, b in zip(_AGREE, agree, group.agree, strict=False) if a != b)
        return RowError(
            line.row_no, column, f"differs from row {group.first_row}, the first line of its receipt"
        )

    def spoil(self, key: tuple[Any, ...] | None, row_no: int) -> None:
        """A bad row: its receipt, where it can be told, is left out whole."""
        if key is None:
            return
        group = self._groups.get(key)
        if group is None:
            self.count += 1
            group = self._groups[key] = _Group(self.count, row_no)
        self.bad.setdefault(group.receipt_no, row_no)
