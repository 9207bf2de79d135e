"""The sales rollups: what the metrics read instead of the receipts themselves.

Each rollup is one aggregate over receipt lines (or payments), written once here and used three
ways, so the three can never disagree:

- a writer of a few receipts (API, admin, 1C) reads the aggregate of the receipts it touches
  before (−) and after (+) its change into `RollupDeltas`, and applies the sum once at its end;
- a bulk writer (an import) adds the aggregate of its new receipts in SQL (`add`);
- `rebuild` recomputes a company's rows from scratch (`sauda rebuild-rollups`, also needed
  after changing the business timezone).

Lock order (see sauda.sales.repository): rollup rows are written last by every writer, table by
table in `ROLLUPS` order, rows in key order; rows whose figures all reach zero go.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

Figure = Decimal | int


@dataclass(frozen=True)
class Rollup:
    table: str
    keys: tuple[tuple[str, str], ...]  # (column, SQL type), company_id first
    values: tuple[tuple[str, str], ...]
    # SELECT keys..., values... with `{where}` on `alias`, whose receipt id column is `receipt`.
    select: str
    alias: str
    receipt: str

    @property
    def columns(self) -> list[str]:
        return [name for name, _ in (*self.keys, *self.values)]

    @property
    def key_names(self) -> str:
        return ", ".join(name for name, _ in self.keys)

    def source(self, where: str, tables: Mapping[str, str] | None = None) -> str:
        return self.select.format(where=where, **(TABLES | dict(tables or {})))


# What the rollups read; a bulk writer may point them at temporary tables holding just its new
# rows (same columns), which it has written to the real ones.
TABLES = {"lines": "sales", "receipts": "receipts", "payments": "receipt_payments"}
_DAY = "(l.sold_at AT TIME ZONE :tz)::date"
_SALE, _RETURN = "l.kind = 'sale'", "l.kind = 'return'"
_LINE_FIGURES = f"""
    coalesce(sum(l.total) FILTER (WHERE {_SALE}), 0), count(*) FILTER (WHERE {_SALE}),
    coalesce(sum(l.quantity) FILTER (WHERE {_SALE}), 0),
    coalesce(sum(l.total) FILTER (WHERE {_RETURN}), 0), count(*) FILTER (WHERE {_RETURN}),
    coalesce(sum(l.quantity) FILTER (WHERE {_RETURN}), 0)"""
_LINE_VALUES = (
    ("revenue", "numeric"),
    ("sales_count", "int"),
    ("quantity", "numeric"),
    ("returns", "numeric"),
    ("return_lines", "int"),
    ("returned_quantity", "numeric"),
)
_RECEIPTS = f"""count(DISTINCT l.receipt_id) FILTER (WHERE {_SALE}),
    count(DISTINCT l.receipt_id) FILTER (WHERE {_RETURN})"""

ROLLUPS: tuple[Rollup, ...] = (
    Rollup(
        "sales_daily_points",
        (("company_id", "int"), ("day", "date"), ("point_id", "int")),
        (*_LINE_VALUES, ("receipts", "int"), ("return_receipts", "int")),
        f"SELECT l.company_id, {_DAY}, l.point_id, {_LINE_FIGURES}, {_RECEIPTS} "
        "FROM {lines} l WHERE {where} GROUP BY 1, 2, 3",
        "l",
        "receipt_id",
    ),
    Rollup(
        "sales_daily_products",
        (("company_id", "int"), ("day", "date"), ("product_id", "int")),
        _LINE_VALUES,
        f"SELECT l.company_id, {_DAY}, l.product_id, {_LINE_FIGURES} "
        "FROM {lines} l WHERE {where} GROUP BY 1, 2, 3",
        "l",
        "receipt_id",
    ),
    Rollup(
        "sales_monthly_products",
        (("company_id", "int"), ("month", "date"), ("product_id", "int")),
        _LINE_VALUES,
        f"SELECT l.company_id, date_trunc('month', {_DAY})::date, l.product_id, {_LINE_FIGURES} "
        "FROM {lines} l WHERE {where} GROUP BY 1, 2, 3",
        "l",
        "receipt_id",
    ),
    Rollup(
        "sales_hourly_points",
        (("company_id", "int"), ("day", "date"), ("point_id", "int"), ("hour", "smallint")),
        (("revenue", "numeric"), ("receipts", "int"), ("returns", "numeric"), ("return_receipts", "int")),
        f"""SELECT l.company_id, {_DAY}, l.point_id,
            extract(hour FROM l.sold_at AT TIME ZONE :tz)::smallint,
            coalesce(sum(l.total) FILTER (WHERE {_SALE}), 0),
            count(DISTINCT l.receipt_id) FILTER (WHERE {_SALE}),
            coalesce(sum(l.total) FILTER (WHERE {_RETURN}), 0),
            count(DISTINCT l.receipt_id) FILTER (WHERE {_RETURN})
        FROM {{lines}} l WHERE {{where}} GROUP BY 1, 2, 3, 4""",
        "l",
        "receipt_id",
    ),
    Rollup(
        "sales_daily_payments",
        (("company_id", "int"), ("day", "date"), ("point_id", "int"), ("method", "payment_method")),
        (("paid", "numeric"), ("payments", "int"), ("refunded", "numeric"), ("refunds", "int")),
        """SELECT r.company_id, (r.sold_at AT TIME ZONE :tz)::date, r.point_id, p.method,
            coalesce(sum(p.amount) FILTER (WHERE r.kind = 'sale'), 0),
            count(*) FILTER (WHERE r.kind = 'sale'),
            coalesce(sum(p.amount) FILTER (WHERE r.kind = 'return'), 0),
            count(*) FILTER (WHERE r.kind = 'return')
        FROM {payments} p JOIN {receipts} r ON r.id = p.receipt_id
        WHERE {where} GROUP BY 1, 2, 3, 4""",
        "r",
        "id",
    ),
)


@dataclass
class RollupDeltas:
    """Changes to every rollup, summed per key while a writer works and applied once at its end
    by `RollupRepository.apply`. `capture` reads (never locks) the aggregate of some receipts:
    call it with −1 before changing or deleting them and with +1 after writing them."""

    tz: ZoneInfo
    rows: dict[str, dict[tuple[Any, ...], list[Figure]]] = field(default_factory=lambda: defaultdict(dict))

    async def capture(self, session: AsyncSession, receipt_ids: Sequence[int], sign: int) -> None:
        if not receipt_ids:
            return
        params = {"ids": list(receipt_ids), "tz": self.tz.key}
        for rollup in ROLLUPS:
            where = f"{rollup.alias}.{rollup.receipt} = ANY(CAST(:ids AS bigint[]))"
            for row in await session.execute(text(rollup.source(where)), params):
                self._add(rollup, tuple(row[: len(rollup.keys)]), [sign * v for v in row[len(rollup.keys) :]])

    def _add(self, rollup: Rollup, key: tuple[Any, ...], figures: list[Figure]) -> None:
        sums = self.rows[rollup.table]
        mine = sums.get(key)
        sums[key] = figures if mine is None else [a + b for a, b in zip(mine, figures, strict=True)]

    def merge(self, other: "RollupDeltas") -> None:
        for rollup in ROLLUPS:
            for key, figures in other.rows.get(rollup.table, {}).items():
                self._add(rollup, key, figures)


_UPSERT = """
INSERT INTO {table} AS r ({columns}) {rows}
ORDER BY {positions}
ON CONFLICT ({keys}) DO UPDATE SET {sums}
"""
# Only rows this transaction has just written, so already holds: it waits for nobody here.
_DROP_EMPTIED = """
DELETE FROM {table} AS r USING ({rows}) AS d ({columns})
WHERE ({keys_r}) = ({keys_d}) AND {empty}
"""


_DELETE_COMPANY = "DELETE FROM {table} WHERE company_id = :company_id"


def _unnest(rollup: Rollup) -> str:
    arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in (*rollup.keys, *rollup.values))
    return f"SELECT * FROM unnest({arrays})"


class RollupRepository:
    def __init__(self, session: AsyncSession, tz: ZoneInfo) -> None:
        self.session = session
        self.tz = tz

    async def apply(self, deltas: RollupDeltas) -> None:
        for rollup in ROLLUPS:
            changed = {k: v for k, v in deltas.rows.get(rollup.table, {}).items() if any(v)}
            if changed:
                await self._apply(rollup, changed)

    async def _apply(self, rollup: Rollup, changed: dict[tuple[Any, ...], list[Figure]]) -> None:
        keys, figures = list(changed), list(changed.values())
        params: dict[str, Any] = {name: [k[n] for k in keys] for n, (name, _) in enumerate(rollup.keys)}
        params |= {name: [f[n] for f in figures] for n, (name, _) in enumerate(rollup.values)}
        await self.session.execute(text(self._upsert(rollup, _unnest(rollup))), params)
        if any(v < 0 for f in figures for v in f):
            names = [name for name, _ in rollup.keys]
            drop = _DROP_EMPTIED.format(
                table=rollup.table,
                rows=_unnest(rollup),
                columns=", ".join(rollup.columns),
                keys_r=", ".join(f"r.{n}" for n in names),
                keys_d=", ".join(f"d.{n}" for n in names),
                empty=" AND ".join(f"r.{name} = 0" for name, _ in rollup.values),
            )
            await self.session.execute(text(drop), params)

    def _upsert(self, rollup: Rollup, rows: str) -> str:
        sums = ", ".join(f"{name} = r.{name} + excluded.{name}" for name, _ in rollup.values)
        return _UPSERT.format(
            table=rollup.table,
            columns=", ".join(rollup.columns),
            rows=rows,
            positions=", ".join(str(n + 1) for n in range(len(rollup.keys))),
            keys=rollup.key_names,
            sums=sums,
        )

    async def add(
        self, where: dict[str, str], params: dict[str, Any], tables: Mapping[str, str] | None = None
    ) -> None:
        """Add the aggregate of the receipts `where` selects (by source alias: `l` lines, `r`
        receipts) in `tables` (default: the real ones) to every rollup, in SQL: for bulk
        writers, growing only."""
        params = params | {"tz": self.tz.key}
        for rollup in ROLLUPS:
            source = rollup.source(where[rollup.alias], tables)
            await self.session.execute(text(self._upsert(rollup, source)), params)

    async def rebuild(self, company_id: int) -> None:
        """Recompute every rollup of the company from its receipts. The company is held
        exclusively: no writer of its sales runs meanwhile."""
        from sauda.sales.repository import hold_company  # the writers' lock order lives there

        await hold_company(self.session, company_id, exclusive=True)
        for rollup in ROLLUPS:
            await self.session.execute(
                text(_DELETE_COMPANY.format(table=rollup.table)), {"company_id": company_id}
            )
        where = {"l": "l.company_id = :company_id", "r": "r.company_id = :company_id"}
        await self.add(where, {"company_id": company_id})
