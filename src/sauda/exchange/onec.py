"""JSON as 1C:Enterprise reads it (see shared ONEC.md): UTF-8 without BOM, money as plain
numbers with two decimals, dates as `YYYY-MM-DDThh:mm:ss` in business time with no offset.

The standard encoder cannot print a Decimal as a number without going through float, so this
module writes the little JSON the exchange needs by hand.
"""

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from starlette.responses import Response

MEDIA_TYPE = "application/json; charset=utf-8"
BOM = b"\xef\xbb\xbf"

_encode_str = json.encoder.encode_basestring


MOMENT_FORMAT = "%Y-%m-%dT%H:%M:%S"


def moment(value: datetime, tz: tzinfo) -> str:
    """A moment as 1C reads a date: business time, no fractions, no offset."""
    return value.astimezone(tz).strftime(MOMENT_FORMAT)


class RawJSON(str):
    """JSON text made elsewhere (by PostgreSQL), written as it is."""


def _number(value: Decimal) -> str:
    text = format(value, "f")
    return "0" if text in ("-0", "-0.0") else text


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, RawJSON):
        out.append(value)
    elif isinstance(value, str):
        out.append(_encode_str(value))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, Decimal):
        out.append(_number(value))
    elif isinstance(value, Mapping):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append(f"{',' if i else ''}{_encode_str(key)}:")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, Sequence):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not part of the 1C exchange format")


def dumps(value: Any) -> bytes:
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode()


def loads(body: bytes) -> Any:
    """Parse a body from 1C: a UTF-8 BOM at the start is allowed, numbers stay exact."""
    return json.loads(body.removeprefix(BOM).decode("utf-8"), parse_float=Decimal)


class OneCResponse(Response):
    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else dumps(content)
