"""QR codes with a company's address (segno)."""

import io
from enum import StrEnum

import segno

from sauda.network.models import Company


class QrFormat(StrEnum):
    png = "png"
    svg = "svg"


MEDIA_TYPES = {QrFormat.png: "image/png", QrFormat.svg: "image/svg+xml"}


def render_qr(company: Company, fmt: QrFormat) -> bytes:
    # UTF-8 with an ECI marker, so readers decode Cyrillic addresses correctly.
    code = segno.make(company.address, error="m", micro=False, encoding="utf-8", eci=True)
    buffer = io.BytesIO()
    code.save(buffer, kind=fmt.value, scale=8, border=4)
    return buffer.getvalue()
