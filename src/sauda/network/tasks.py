"""Worker jobs of the supplier network: scheduled debt changes, clear-debt, QR email."""

import logging
import re
from datetime import UTC, datetime
from typing import Any

from sauda.auth.models import User
from sauda.config import Settings
from sauda.errors import NotFound
from sauda.mail import TRANSIENT_SMTP_ERRORS, Attachment, build_message, is_transient, send_email
from sauda.network import service
from sauda.network.models import Company
from sauda.network.qr import QrFormat, render_qr
from sauda.network.repository import DebtRunResult
from sauda.worker import Context, cron_task, job_session, task

log = logging.getLogger(__name__)

_CRON_JOB_ID = re.compile(r":(\d{10,})$")


def scheduled_at(ctx: Context) -> datetime:
    """When this run was scheduled: arq's cron job id ends with it; otherwise now."""
    settings: Settings = ctx["settings"]
    match = _CRON_JOB_ID.search(str(ctx.get("job_id", "")))
    moment = datetime.fromtimestamp(int(match.group(1)) / 1000, UTC) if match else datetime.now(UTC)
    return moment.astimezone(settings.tz)


def _summary(result: DebtRunResult) -> dict[str, Any]:
    return {"claimed": result.claimed, "companies": result.companies, "total": str(result.total)}


@cron_task(hour={0, 3, 6, 9, 12, 15, 18, 21}, minute=0)
async def increase_debts(ctx: Context) -> dict[str, Any]:
    slot = service.increase_slot(scheduled_at(ctx))
    async with job_session(ctx) as session:
        result = await service.run_scheduled_increase(session, ctx["settings"], slot)
    log.info("debt increase for %s: %s", slot, result)
    return _summary(result)


@cron_task(hour=6, minute=30)
async def decrease_debts(ctx: Context) -> dict[str, Any]:
    slot = service.decrease_slot(scheduled_at(ctx))
    async with job_session(ctx) as session:
        result = await service.run_scheduled_decrease(session, ctx["settings"], slot)
    log.info("debt decrease for %s: %s", slot, result)
    return _summary(result)


@task()
async def clear_debts_job(ctx: Context, company_ids: list[int], run_key: str) -> dict[str, Any]:
    async with job_session(ctx) as session:
        result = await service.clear_debts(session, company_ids, run_key)
    return _summary(result)


@task(retry_on=TRANSIENT_SMTP_ERRORS, retry_if=is_transient)
async def email_company_qr(ctx: Context, company_id: int, user_id: int) -> dict[str, Any]:
    async with job_session(ctx) as session:
        company = await session.get(Company, company_id)
        user = await session.get(User, user_id)
    if company is None or user is None:
        raise NotFound("The company or the user no longer exists")
    settings: Settings = ctx["settings"]
    message = build_message(
        sender=settings.smtp.sender,
        to=user.email,
        subject=f"QR code: {company.name}",
        body=f"The attached QR code holds the address of {company.name}:\n{company.address}\n",
        attachments=(
            Attachment(f"company-{company.id}-qr.png", render_qr(company, QrFormat.png), "image", "png"),
        ),
    )
    await send_email(settings.smtp, message)
    return {"sent_to": user.email, "company_id": company.id}
