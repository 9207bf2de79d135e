"""The job machinery: who may poll a job, and jobs enqueued only once their transaction commits."""

import asyncio
import sys
import uuid

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sauda.auth.models import User
from sauda.config import Settings
from sauda.db import transaction
from sauda.errors import NotFound
from sauda.jobs.models import Job, JobStatus
from sauda.worker import start_job
from tests.conftest import RunWorker
from tests.factories import Factory

TASK = "email_company_qr"


async def _start(app: FastAPI, user: User, company_id: int) -> Job:
    """Start a job the way a request does: inside a transaction that commits."""
    async with transaction(app.state.sessionmaker, arq=app.state.arq) as session:
        return await start_job(session, TASK, company_id, user.id, user_id=user.id)


async def _start_then_fail(app: FastAPI, user: User, company_id: int, error: Exception) -> None:
    async with transaction(app.state.sessionmaker, arq=app.state.arq) as session:
        await start_job(session, TASK, company_id, user.id, user_id=user.id)
        raise error


async def _start_with_a_failing_commit(app: FastAPI, user: User, company_id: int) -> None:
    async with transaction(app.state.sessionmaker, arq=app.state.arq) as session:
        await start_job(session, TASK, company_id, user.id, user_id=user.id)
        # Flushed only by the commit, so the commit itself fails (no such user).
        session.add(Job(name=TASK, user_id=user.id + 1000))


async def _start_unknown_task(app: FastAPI, user: User) -> None:
    async with transaction(app.state.sessionmaker, arq=app.state.arq) as session:
        await start_job(session, "no_such_task", user_id=user.id)


async def _jobs_in_db(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Job)) or 0)


async def _queued(redis: Redis, settings: Settings) -> list[str]:
    return [raw.decode() for raw in await redis.zrange(settings.worker.queue_name, 0, -1)]


# --- GET /api/v1/jobs/{id} ---------------------------------------------------------------------


async def test_owner_sees_their_job(client: httpx.AsyncClient, factory: Factory, app: FastAPI) -> None:
    company = await factory.company()
    user = await factory.user(company)
    job = await _start(app, user, company.id)

    response = await client.get(f"/api/v1/jobs/{job.id}", headers=await factory.headers(user))

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["name"], body["status"], body["attempts"]) == (str(job.id), TASK, "queued", 0)


async def test_someone_elses_job_is_404(client: httpx.AsyncClient, factory: Factory, app: FastAPI) -> None:
    company = await factory.company()
    owner, colleague = await factory.user(company), await factory.user(company)
    job = await _start(app, owner, company.id)

    response = await client.get(f"/api/v1/jobs/{job.id}", headers=await factory.headers(colleague))

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_admin_sees_any_job(client: httpx.AsyncClient, factory: Factory, app: FastAPI) -> None:
    company = await factory.company()
    job = await _start(app, await factory.user(company), company.id)

    response = await client.get(
        f"/api/v1/jobs/{job.id}", headers=await factory.headers(await factory.admin())
    )

    assert response.status_code == 200
    assert response.json()["id"] == str(job.id)


async def test_unknown_job_is_404(client: httpx.AsyncClient, factory: Factory) -> None:
    headers = await factory.headers(await factory.admin())

    response = await client.get(f"/api/v1/jobs/{uuid.uuid4()}", headers=headers)

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_malformed_job_id_is_404(client: httpx.AsyncClient, factory: Factory) -> None:
    headers = await factory.headers(await factory.admin())

    response = await client.get("/api/v1/jobs/not-a-uuid", headers=headers)

    # A path that cannot name a job names nothing: not found, like an id past its column.
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_jobs_need_a_login(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/api/v1/jobs/{uuid.uuid4()}")

    assert response.status_code == 401


# --- enqueue after commit -----------------------------------------------------------------------


async def test_committed_job_is_queued_under_its_own_id(
    factory: Factory, app: FastAPI, redis: Redis, settings: Settings
) -> None:
    company = await factory.company()
    job = await _start(app, await factory.user(company), company.id)

    assert await _queued(redis, settings) == [str(job.id)]
    assert await _jobs_in_db(app.state.sessionmaker) == 1


@pytest.mark.parametrize("error", [RuntimeError("boom"), NotFound("gone")], ids=["crash", "business"])
async def test_failed_transaction_queues_nothing(
    factory: Factory, app: FastAPI, redis: Redis, settings: Settings, error: Exception
) -> None:
    company = await factory.company()
    user = await factory.user(company)

    with pytest.raises(type(error)):
        await _start_then_fail(app, user, company.id, error)

    assert await _queued(redis, settings) == []
    assert await _jobs_in_db(app.state.sessionmaker) == 0


async def test_failed_commit_queues_nothing(
    factory: Factory, app: FastAPI, redis: Redis, settings: Settings
) -> None:
    company = await factory.company()
    user = await factory.user(company)

    with pytest.raises(IntegrityError):
        await _start_with_a_failing_commit(app, user, company.id)

    assert await _queued(redis, settings) == []
    assert await _jobs_in_db(app.state.sessionmaker) == 0


async def test_unknown_task_is_refused_before_anything_is_queued(
    factory: Factory, app: FastAPI, redis: Redis, settings: Settings
) -> None:
    user = await factory.admin()

    with pytest.raises(KeyError, match="no_such_task"):
        await _start_unknown_task(app, user)

    assert await _queued(redis, settings) == []


# Run in a fresh interpreter: in this one a worker may already have imported the task modules.
_API_ONLY = """
from types import SimpleNamespace
import sauda.app
from sauda.worker import enqueue_after_commit
enqueue_after_commit(SimpleNamespace(info={"arq": None}), "email_company_qr", 1, 2)
"""


async def test_the_api_process_knows_the_tasks_without_a_worker() -> None:
    """Regression: the API imports no task module, yet start_job must find the task by name."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _API_ONLY, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()

    assert proc.returncode == 0, err.decode()


# --- the worker's bookkeeping -------------------------------------------------------------------


async def test_non_transient_error_fails_at_once(
    client: httpx.AsyncClient, factory: Factory, app: FastAPI, run_worker: RunWorker
) -> None:
    user = await factory.user(await factory.company())
    job = await _start(app, user, company_id=10**9)

    worker = await run_worker()

    assert (worker.jobs_retried, worker.jobs_failed) == (0, 1)
    response = await client.get(f"/api/v1/jobs/{job.id}", headers=await factory.headers(user))
    body = response.json()
    assert (body["status"], body["attempts"]) == (JobStatus.failed, 1)
    assert body["error"] == "NotFound: The company or the user no longer exists"
    assert body["finished_at"] is not None
