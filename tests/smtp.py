"""A real SMTP server for tests: aiosmtpd on a free localhost port, with scriptable refusals.

aiosmtpd's `Controller` runs the server in a thread of its own, so the code under test talks to
it over a real socket. Point the shared settings at it with `point_smtp_at`.
"""

import errno
import math
import socket
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Literal, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from sauda.config import Settings

HOST = "127.0.0.1"
Stage = Literal["RCPT", "DATA"]


def free_port() -> int:
    """A localhost port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def point_smtp_at(monkeypatch: pytest.MonkeyPatch, settings: Settings, port: int) -> None:
    """Aim the app's and the worker's (shared) SMTP settings at a local port, for this test only."""
    monkeypatch.setattr(settings.smtp, "host", HOST)
    monkeypatch.setattr(settings.smtp, "port", port)
    monkeypatch.setattr(settings.smtp, "timeout_seconds", 5.0)


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class MailHandler:
    """Keeps every accepted message; answers `reply` at `fail_at` for the first `fail_times` tries."""

    fail_at: Stage | None = None
    reply: str = "451 4.3.0 Try again later"
    fail_times: float = math.inf
    refused: int = 0
    received: list[Received] = field(default_factory=list)

    def refuse(self, stage: Stage, reply: str, *, times: float = math.inf) -> None:
        self.fail_at, self.reply, self.fail_times = stage, reply, times

    def _refuses(self, stage: Stage) -> bool:
        if stage != self.fail_at or self.refused >= self.fail_times:
            return False
        self.refused += 1
        return True

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self._refuses("RCPT"):
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self._refuses("DATA"):
            return self.reply
        content = cast(bytes, envelope.content)
        message = cast(EmailMessage, message_from_bytes(content, policy=policy.default))
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpSandbox:
    """`with SmtpSandbox() as smtp:` serves SMTP on `smtp.port` until the block ends."""

    def __init__(self, handler: MailHandler | None = None) -> None:
        self.handler = handler or MailHandler()
        self.port = 0

    def __enter__(self) -> "SmtpSandbox":
        # Another process (a parallel test worker) may take the free port before we bind it.
        for attempt in range(5):
            self.port = free_port()
            self._controller = Controller(self.handler, hostname=HOST, port=self.port)
            try:
                self._controller.start()
                break
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or attempt == 4:
                    raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._controller.stop()

    @property
    def received(self) -> list[Received]:
        return self.handler.received
