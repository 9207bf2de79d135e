"""The arq facade: task registration, job sessions, enqueue-after-commit, retries, cron.

Tasks take ids, re-read state and are safe to run twice. A task started on behalf of a caller
has a row in `jobs` (id = arq job id) that this module keeps up to date, so the caller can
poll `GET /api/v1/jobs/{id}`.
"""

import gc
import logging
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from arq import Retry, Worker, cron
from arq.connections import ArqRedis, RedisSettings
from arq.cron import CronJob
from arq.typing import WorkerCoroutine
from arq.worker import Function, func
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from sauda.config import Settings, get_settings
from sauda.db import after_commit, create_engine, create_sessionmaker, transaction
from sauda.jobs.models import Job, JobStatus

log = logging.getLogger(__name__)

Context = dict[str, Any]
TaskFn = Callable[..., Awaitable[Any]]


RetryPredicate = Callable[[BaseException], bool]


def _always(_: BaseException) -> bool:
    return True


@dataclass(frozen=True)
class TaskDef:
    name: str
    fn: TaskFn
    retry_on: tuple[type[BaseException], ...]
    max_tries: int | None
    retry_if: RetryPredicate = _always


@dataclass(frozen=True)
class CronDef:
    task: str
    hour: set[int] | int | None
    minute: set[int] | int


_tasks: dict[str, TaskDef] = {}
_crons: list[CronDef] = []


def task(
    *,
    retry_on: tuple[type[BaseException], ...] = (),
    retry_if: RetryPredicate = _always,
    max_tries: int | None = None,
) -> Callable[[TaskFn], TaskFn]:
    """Register a worker task. Exceptions in `retry_on` for which `retry_if` holds are retried
    with exponential backoff; the others fail the job at once."""

    def register(fn: TaskFn) -> TaskFn:
        _tasks[fn.__name__] = TaskDef(fn.__name__, fn, retry_on, max_tries, retry_if)
        return fn

    return register


def cron_task(*, hour: set[int] | int | None = None, minute: set[int] | int) -> Callable[[TaskFn], TaskFn]:
    """Register a task that also runs on a schedule (business timezone)."""

    def register(fn: TaskFn) -> TaskFn:
        task()(fn)
        _crons.append(CronDef(fn.__name__, hour, minute))
        return fn

    return register


@asynccontextmanager
async def job_session(ctx: Context) -> AsyncIterator[AsyncSession]:
    """The job's unit of work: commits on success, rolls back on error, enqueues after commit."""
    async with transaction(ctx["sessionmaker"], arq=ctx["redis"]) as session:
        yield session


def enqueue_after_commit(
    session: AsyncSession, task_name: str, *args: Any, job_id: str | None = None
) -> None:
    load_tasks()
    if task_name not in _tasks:
        raise KeyError(f"unknown task {task_name!r}")
    pool: ArqRedis = session.info["arq"]

    async def enqueue() -> None:
        await pool.enqueue_job(task_name, *args, _job_id=job_id)

    after_commit(session, enqueue)


async def start_job(session: AsyncSession, task_name: str, *args: Any, user_id: int | None) -> Job:
    """Record a job the caller can poll, and enqueue it once the transaction commits."""
    job = Job(id=uuid.uuid4(), name=task_name, user_id=user_id, status=JobStatus.queued)
    session.add(job)
    await session.flush()
    enqueue_after_commit(session, task_name, *args, job_id=str(job.id))
    return job


def backoff_seconds(job_try: int, settings: Settings) -> float:
    base = min(settings.worker.retry_max_seconds, settings.worker.retry_base_seconds * 2.0 ** (job_try - 1))
    jitter: float = random.uniform(0.5, 1.5)
    return base * jitter


def _tracked_job_id(ctx: Context) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(ctx.get("job_id")))
    except ValueError:
        return None


async def _set_job(ctx: Context, job_id: uuid.UUID | None, **values: Any) -> None:
    if job_id is None:
        return
    async with job_session(ctx) as session:
        await session.execute(update(Job).where(Job.id == job_id).values(**values))


def _as_result(value: Any) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    return {"value": value}


def _wrap(definition: TaskDef, settings: Settings) -> WorkerCoroutine:
    max_tries = definition.max_tries or settings.worker.max_tries

    async def run(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        job_id = _tracked_job_id(ctx)
        job_try: int = ctx.get("job_try", 1)
        now = datetime.now(UTC)
        await _set_job(ctx, job_id, status=JobStatus.running, attempts=job_try, started_at=now)
        try:
            result = await definition.fn(ctx, *args, **kwargs)
        except definition.retry_on as exc:
            if not definition.retry_if(exc):
                await _fail(ctx, job_id, exc, "permanent failure: ")
                raise
            if job_try < max_tries:
                delay = backoff_seconds(job_try, settings)
                log.warning("%s try %s failed (%r); retrying in %.1fs", definition.name, job_try, exc, delay)
                await _set_job(ctx, job_id, status=JobStatus.retrying, error=_describe(exc))
                raise Retry(defer=delay) from exc
            await _fail(ctx, job_id, exc, f"gave up after {job_try} attempts: ")
            raise
        except Exception as exc:
            await _fail(ctx, job_id, exc)
            raise
        done = datetime.now(UTC)
        await _set_job(
            ctx,
            job_id,
            status=JobStatus.succeeded,
            result=_as_result(result),
            error=None,
            finished_at=done,
        )
        return result

    run.__name__ = run.__qualname__ = definition.name
    return cast(WorkerCoroutine, run)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def _fail(ctx: Context, job_id: uuid.UUID | None, exc: BaseException, prefix: str = "") -> None:
    await _set_job(
        ctx,
        job_id,
        status=JobStatus.failed,
        error=prefix + _describe(exc),
        finished_at=datetime.now(UTC),
    )


def load_tasks() -> None:
    from sauda.domains import task_modules

    task_modules()  # importing a tasks module registers its @task and @cron_task functions


def functions(settings: Settings) -> list[Function]:
    load_tasks()
    # arq's own retry counter must allow ours to run to the end.
    return [
        func(
            _wrap(d, settings),
            name=d.name,
            max_tries=(d.max_tries or settings.worker.max_tries) + 1,
        )
        for d in _tasks.values()
    ]


def cron_jobs(settings: Settings) -> list[CronJob]:
    load_tasks()
    return [
        cron(
            _wrap(_tasks[c.task], settings),
            name=f"cron:{c.task}",
            hour=c.hour,
            minute=c.minute,
            second=0,
            max_tries=settings.worker.max_tries + 1,
        )
        for c in _crons
    ]


def redis_settings(settings: Settings) -> RedisSettings:
    return RedisSettings.from_dsn(settings.redis.url)


async def _startup(ctx: Context) -> None:
    settings: Settings = ctx["settings"]
    ctx["engine"] = create_engine(settings)
    ctx["sessionmaker"] = create_sessionmaker(ctx["engine"])
    # As in the API: long-lived startup objects out of the full GC passes, whose pauses would
    # otherwise bunch up the demper's paced storefront calls into bursts Kaspi answers with 403.
    gc.freeze()


async def _shutdown(ctx: Context) -> None:
    await ctx["engine"].dispose()


def create_worker(settings: Settings | None = None, **overrides: Any) -> Worker:
    settings = settings or get_settings()
    options: dict[str, Any] = {
        "functions": functions(settings),
        "cron_jobs": cron_jobs(settings),
        "redis_settings": redis_settings(settings),
        "queue_name": settings.worker.queue_name,
        "on_startup": _startup,
        "on_shutdown": _shutdown,
        "ctx": {"settings": settings},
        "timezone": settings.tz,
        "job_timeout": settings.worker.job_timeout_seconds,
        "max_jobs": settings.worker.max_jobs,
        "keep_result": 3600,
    }
    options.update(overrides)
    return Worker(**options)
