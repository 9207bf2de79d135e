"""Money is Decimal with kopeck precision; JSON carries it as a plain number."""

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import PlainSerializer

KOPECK = Decimal("0.01")
# Numeric(14, 2): twelve digits before the point.
MONEY_MAX = Decimal("999999999999.99")


def to_money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(KOPECK, rounding=ROUND_HALF_UP)


# Numeric(14, 2) has at most 14 significant digits, so a float's shortest repr is exact.
Money = Annotated[Decimal, PlainSerializer(lambda d: float(to_money(d)), return_type=float, when_used="json")]


def money_fits(value: Decimal) -> bool:
    """Whether a computed amount (a total, a sum) fits a Numeric(14, 2) column."""
    return -MONEY_MAX <= value <= MONEY_MAX
