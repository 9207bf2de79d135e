"""The SMTP client: every email Sauda sends goes through `send_email`."""

import re
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from sauda.config import SmtpSettings

# Failures worth another try later: the server is down, slow, or answered with an error.
TRANSIENT_SMTP_ERRORS: tuple[type[BaseException], ...] = (
    aiosmtplib.SMTPException,
    OSError,
    TimeoutError,
)


def is_transient(exc: BaseException) -> bool:
    """4xx replies and network trouble may pass; a 5xx reply (no such mailbox, rejected
    message, bad login) will be the same on every try."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(_is_temporary(r.code) for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _is_temporary(exc.code)
    return True


def _is_temporary(code: int) -> bool:
    return 400 <= code < 500


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str
    subtype: str


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def header_text(value: str) -> str:
    """One line for a header: a line break there would fail the message (or forge headers)."""
    return _CONTROL.sub(" ", value).strip()


def build_message(
    *, sender: str, to: str, subject: str, body: str, attachments: tuple[Attachment, ...] = ()
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = header_text(sender)
    message["To"] = header_text(to)
    message["Subject"] = header_text(subject)
    message.set_content(body)
    for item in attachments:
        message.add_attachment(
            item.content, maintype=item.maintype, subtype=item.subtype, filename=item.filename
        )
    return message


async def send_email(settings: SmtpSettings, message: EmailMessage) -> None:
    password = settings.password.get_secret_value() if settings.password else None
    await aiosmtplib.send(
        message,
        hostname=settings.host,
        port=settings.port,
        username=settings.username,
        password=password,
        start_tls=settings.start_tls,
        use_tls=settings.use_tls,
        timeout=settings.timeout_seconds,
    )
