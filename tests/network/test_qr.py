"""The company QR code: rendered by the API, emailed by the worker, read back by zbar.

Every QR code is decoded with Debian's `zbarimg`, a decoder independent of segno, so these
tests prove a phone would read the address, not only that some image came out.
"""

import asyncio
import re
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from redis.asyncio import Redis

from sauda.auth.models import User
from sauda.config import Settings
from sauda.network.models import Company
from tests.conftest import RunWorker
from tests.factories import Factory
from tests.smtp import Received, SmtpSandbox, Stage, free_port, point_smtp_at

SVG_NS = "{http://www.w3.org/2000/svg}"

# Address-like text whose UTF-8 bytes are also valid Shift-JIS: without an ECI marker zbar
# guesses Shift-JIS and reads "RU, ﾐ籍ｱﾐｰﾐｺﾐｰﾐｽ, ...". The ECI (UTF-8) marker is what fixes it.
SHIFT_JIS_LOOKALIKE = {"country": "RU", "city": "Абакан", "street": "Ленина", "house_number": "1"}
KAZAKH_LETTERS = {
    "country": "Қазақстан",
    "city": "Өскемен",
    "street": "Құрманғазы көшесі",
    "house_number": "7/1",
}


async def zbar(image: bytes) -> list[str]:
    """Every symbol zbarimg finds in the image (PNG, PBM, ... on stdin), one string each."""
    proc = await asyncio.create_subprocess_exec(
        "zbarimg",
        "--raw",
        "-q",
        "-",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(image)
    assert proc.returncode == 0, f"zbarimg found no QR code (exit {proc.returncode}): {err!r}"
    return out.decode("utf-8").splitlines()


def _svg_modules(svg: bytes) -> tuple[int, set[tuple[int, int]]]:
    """The side (in modules) and the dark modules drawn by segno's one-path SVG."""
    root = ElementTree.fromstring(svg)  # noqa: S314 - our own output, not outside input
    assert root.tag == f"{SVG_NS}svg"
    path = root.find(f"{SVG_NS}path")
    assert path is not None
    scale = re.fullmatch(r"scale\((\d+)\)", path.get("transform", ""))
    assert scale is not None
    x = y = 0.0
    dark: set[tuple[int, int]] = set()
    for move, dx, dy, length in re.findall(r"([Mm])(-?[\d.]+) (-?[\d.]+)h(\d+)", path.get("d", "")):
        x, y = (float(dx), float(dy)) if move == "M" else (x + float(dx), y + float(dy))
        dark.update((int(y), int(x) + i) for i in range(int(length)))
        x += int(length)
    return int(root.get("width", "0")) // int(scale.group(1)), dark


def svg_to_pbm(svg: bytes, pixels: int = 4) -> bytes:
    """Rasterise the SVG into a plain PBM image that zbarimg can read."""
    side, dark = _svg_modules(svg)
    rows = []
    for row in range(side * pixels):
        bits = ("1" if (row // pixels, col // pixels) in dark else "0" for col in range(side * pixels))
        rows.append(" ".join(bits))
    return f"P1\n{side * pixels} {side * pixels}\n".encode() + "\n".join(rows).encode() + b"\n"


async def _employee(factory: Factory, company: Company) -> tuple[User, dict[str, str]]:
    user = await factory.user(company)
    return user, await factory.headers(user)


async def _job(client: httpx.AsyncClient, job_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await client.get(f"/api/v1/jobs/{job_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- rendering ---------------------------------------------------------------------------------


@pytest.mark.parametrize("address", [{}, KAZAKH_LETTERS, SHIFT_JIS_LOOKALIKE], ids=["factory", "kk", "sjis"])
async def test_png_holds_the_address(
    client: httpx.AsyncClient, factory: Factory, address: dict[str, str]
) -> None:
    company = await factory.company(**address)
    _, headers = await _employee(factory, company)

    response = await client.get(f"/api/v1/companies/{company.id}/qr?format=png", headers=headers)

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert await zbar(response.content) == [company.address]


async def test_png_is_the_default_format(client: httpx.AsyncClient, factory: Factory) -> None:
    company = await factory.company()
    _, headers = await _employee(factory, company)

    response = await client.get(f"/api/v1/companies/{company.id}/qr", headers=headers)

    assert response.headers["content-type"] == "image/png"
    assert await zbar(response.content) == [company.address]


async def test_svg_is_xml_that_draws_the_address(client: httpx.AsyncClient, factory: Factory) -> None:
    company = await factory.company(**KAZAKH_LETTERS)
    _, headers = await _employee(factory, company)

    response = await client.get(f"/api/v1/companies/{company.id}/qr?format=svg", headers=headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert await zbar(svg_to_pbm(response.content)) == [company.address]


async def test_unknown_format_is_422_naming_the_field(client: httpx.AsyncClient, factory: Factory) -> None:
    company = await factory.company()
    _, headers = await _employee(factory, company)

    response = await client.get(f"/api/v1/companies/{company.id}/qr?format=gif", headers=headers)

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert [f["field"] for f in body["fields"]] == ["format"]


async def test_qr_of_another_company_is_404(client: httpx.AsyncClient, factory: Factory) -> None:
    mine, theirs = await factory.company(), await factory.company()
    _, headers = await _employee(factory, mine)

    response = await client.get(f"/api/v1/companies/{theirs.id}/qr", headers=headers)

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_admin_gets_the_qr_of_any_company(client: httpx.AsyncClient, factory: Factory) -> None:
    company = await factory.company()
    headers = await factory.headers(await factory.admin())

    response = await client.get(f"/api/v1/companies/{company.id}/qr", headers=headers)

    assert await zbar(response.content) == [company.address]


async def test_qr_needs_a_login(client: httpx.AsyncClient, factory: Factory) -> None:
    company = await factory.company()

    response = await client.get(f"/api/v1/companies/{company.id}/qr")

    assert response.status_code == 401


# --- email through the worker -------------------------------------------------------------------


@pytest.fixture
def smtp(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSandbox]:
    with SmtpSandbox() as sandbox:
        point_smtp_at(monkeypatch, settings, sandbox.port)
        yield sandbox


async def _request_email(client: httpx.AsyncClient, company: Company, headers: dict[str, str]) -> str:
    response = await client.post(f"/api/v1/companies/{company.id}/qr/email", headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    job_id: str = response.json()["job_id"]
    return job_id


async def _attached_qr(received: Received) -> list[str]:
    attachments = list(received.message.iter_attachments())
    assert [a.get_content_type() for a in attachments] == ["image/png"]
    payload = attachments[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return await zbar(payload)


async def test_email_sends_the_qr_to_the_caller(
    client: httpx.AsyncClient, factory: Factory, run_worker: RunWorker, smtp: SmtpSandbox
) -> None:
    company = await factory.company()
    user, headers = await _employee(factory, company)
    job_id = await _request_email(client, company, headers)
    assert (await _job(client, job_id, headers))["status"] == "queued"

    await run_worker()

    [received] = smtp.received
    assert received.rcpt_tos == [user.email]
    assert received.message["To"] == user.email
    assert received.message["Subject"] == f"QR code: {company.name}"
    assert await _attached_qr(received) == [company.address]
    job = await _job(client, job_id, headers)
    assert (job["status"], job["attempts"], job["error"]) == ("succeeded", 1, None)
    assert job["result"] == {"sent_to": user.email, "company_id": company.id}
    assert job["finished_at"] is not None


async def test_email_for_another_company_is_404_and_queues_nothing(
    client: httpx.AsyncClient, factory: Factory, redis: Redis, settings: Settings
) -> None:
    mine, theirs = await factory.company(), await factory.company()
    _, headers = await _employee(factory, mine)

    response = await client.post(f"/api/v1/companies/{theirs.id}/qr/email", headers=headers)

    assert response.status_code == 404
    assert await redis.zcard(settings.worker.queue_name) == 0


REFUSALS = [
    pytest.param("RCPT", "451 4.2.1 Mailbox busy, try later", "SMTPRecipientsRefused", id="rcpt-451"),
    pytest.param("DATA", "451 4.3.0 Try again later", "SMTPDataError", id="data-451"),
]
PERMANENT_REFUSALS = [
    pytest.param("RCPT", "550 5.1.1 No such user", "SMTPRecipientsRefused", id="rcpt-550"),
    pytest.param("DATA", "554 5.6.0 Message rejected", "SMTPDataError", id="data-554"),
]


@pytest.mark.parametrize(("stage", "reply", "error"), PERMANENT_REFUSALS)
async def test_permanently_refused_email_fails_without_retrying(
    client: httpx.AsyncClient,
    factory: Factory,
    run_worker: RunWorker,
    smtp: SmtpSandbox,
    stage: Stage,
    reply: str,
    error: str,
) -> None:
    smtp.handler.refuse(stage, reply)
    company = await factory.company()
    _, headers = await _employee(factory, company)
    job_id = await _request_email(client, company, headers)

    worker = await run_worker()

    assert smtp.handler.refused == 1
    assert (worker.jobs_retried, worker.jobs_failed) == (0, 1)
    job = await _job(client, job_id, headers)
    assert (job["status"], job["attempts"]) == ("failed", 1)
    assert job["error"].startswith(f"permanent failure: {error}")
    assert reply.split(" ", 1)[1] in job["error"]


@pytest.mark.parametrize(("stage", "reply", "error"), REFUSALS)
async def test_refused_email_is_retried_then_fails(
    client: httpx.AsyncClient,
    factory: Factory,
    run_worker: RunWorker,
    smtp: SmtpSandbox,
    settings: Settings,
    stage: Stage,
    reply: str,
    error: str,
) -> None:
    smtp.handler.refuse(stage, reply)
    company = await factory.company()
    _, headers = await _employee(factory, company)
    job_id = await _request_email(client, company, headers)

    worker = await run_worker()

    tries = settings.worker.max_tries
    assert smtp.handler.refused == tries
    assert smtp.received == []
    assert (worker.jobs_retried, worker.jobs_failed) == (tries - 1, 1)
    job = await _job(client, job_id, headers)
    assert (job["status"], job["attempts"]) == ("failed", tries)
    assert job["error"].startswith(f"gave up after {tries} attempts: {error}")
    assert reply.split(" ", 1)[1] in job["error"]


async def test_email_with_the_server_down_is_retried_then_fails(
    client: httpx.AsyncClient,
    factory: Factory,
    run_worker: RunWorker,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point_smtp_at(monkeypatch, settings, free_port())
    company = await factory.company()
    _, headers = await _employee(factory, company)
    job_id = await _request_email(client, company, headers)

    worker = await run_worker()

    tries = settings.worker.max_tries
    assert (worker.jobs_retried, worker.jobs_failed) == (tries - 1, 1)
    job = await _job(client, job_id, headers)
    assert (job["status"], job["attempts"]) == ("failed", tries)
    assert job["error"].startswith(f"gave up after {tries} attempts: SMTPConnectError")


async def test_email_refused_once_succeeds_on_the_second_try(
    client: httpx.AsyncClient, factory: Factory, run_worker: RunWorker, smtp: SmtpSandbox
) -> None:
    smtp.handler.refuse("DATA", "451 4.3.0 Try again later", times=1)
    company = await factory.company()
    user, headers = await _employee(factory, company)
    job_id = await _request_email(client, company, headers)

    worker = await run_worker()

    assert smtp.handler.refused == 1
    [received] = smtp.received
    assert received.rcpt_tos == [user.email]
    assert await _attached_qr(received) == [company.address]
    assert (worker.jobs_retried, worker.jobs_complete) == (1, 1)
    job = await _job(client, job_id, headers)
    assert (job["status"], job["attempts"], job["error"]) == ("succeeded", 2, None)
