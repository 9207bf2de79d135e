"""Input types bounded by what the database can hold.

Every id, count, amount, date and text a request carries is declared with one of these, so a
value the database cannot store is refused at the edge with a 422 naming the field (or a 404 for
an id in the path) instead of failing deep inside a query. `tests/test_input_bounds.py` walks
the OpenAPI document and fails when a route declares an unbounded integer, number or string.

The business date range is 2000-01-01 .. 2099-12-31: a sale, an appointment, a release date
outside it is a typo (1C's empty date `0001-01-01`, a year `20255`), never real business.
"""

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import AfterValidator, Field, WithJsonSchema

from sauda.money import MONEY_MAX

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

# Keys of INTEGER columns (companies, points, products, stores, ...), in a path, query or body.
Id = Annotated[int, Ge(1), Le(INT32_MAX)]
# Keys of BIGINT columns (sales, debt entries, appointments) and Telegram user ids.
BigId = Annotated[int, Ge(1), Le(INT64_MAX)]


def _decimal_schema(maximum: Decimal, places: int, digits: int, exclusive_zero: bool) -> WithJsonSchema:
    """A plain number, or the same as a string (1C and spreadsheets send both)."""
    bound = {"exclusiveMinimum": 0} if exclusive_zero else {"minimum": 0}
    pattern = rf"^\d{{1,{digits}}}(\.\d{{1,{places}}})?$"
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", **bound, "maximum": float(maximum)},
                {"type": "string", "pattern": pattern},
            ]
        }
    )


MoneyIn = Annotated[
    Decimal,
    Field(ge=0, le=MONEY_MAX, decimal_places=2, allow_inf_nan=False),
    _decimal_schema(MONEY_MAX, 2, 12, exclusive_zero=False),
]
# Numeric(12, 3): quantities may be fractional (kilograms, metres).
QUANTITY_MAX = Decimal("999999999.999")
QuantityIn = Annotated[
    Decimal,
    Field(gt=0, le=QUANTITY_MAX, decimal_places=3, allow_inf_nan=False),
    _decimal_schema(QUANTITY_MAX, 3, 9, exclusive_zero=True),
]

BUSINESS_DATE_MIN = date(2000, 1, 1)
BUSINESS_DATE_MAX = date(2099, 12, 31)
_RANGE_TEXT = f"between {BUSINESS_DATE_MIN.isoformat()} and {BUSINESS_DATE_MAX.isoformat()}"


def in_business_range(value: date) -> date:
    day = value.date() if isinstance(value, datetime) else value
    if not BUSINESS_DATE_MIN <= day <= BUSINESS_DATE_MAX:
        raise ValueError(f"must lie {_RANGE_TEXT}")
    return value


def _datetime_in_business_range(value: datetime) -> datetime:
    # Compare the UTC day as well, so the timezone conversion of an edge value cannot overflow.
    in_business_range(value)
    if value.tzinfo is not None:
        in_business_range(value.astimezone(UTC))
    return value


BusinessDate = Annotated[date, AfterValidator(in_business_range)]
BusinessDateTime = Annotated[datetime, AfterValidator(_datetime_in_business_range)]


def _no_offset(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("must be a local wall-clock time without a UTC offset (e.g. 14:30)")
    return value


# Calendar times are wall-clock times in the calendar's own timezone: an offset has no meaning.
LocalTime = Annotated[
    time,
    AfterValidator(_no_offset),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$",
            "description": "local wall-clock time without an offset, HH:MM or HH:MM:SS",
            "examples": ["14:30"],
        }
    ),
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _single_line(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must be one line without control characters (line breaks, tabs)")
    return value


# Names and other one-line text; also what may end up in an e-mail header or a file name.
Line = Annotated[str, AfterValidator(_single_line)]
