"""Database plumbing: declarative base, engine and session factories, the request session.

The edge owns the transaction: `get_session` (requests) and `transaction()` (jobs, CLI, admin
actions) commit on success and roll back on error. Work registered with `after_commit()` runs
only once the commit has succeeded, which is how jobs get enqueued.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, Uuid, func, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sauda.config import Settings
from sauda.errors import UNIQUE_VIOLATION, Conflict, SaudaError, sqlstate

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

AfterCommit = Callable[[], Awaitable[Any]]
_AFTER_COMMIT_KEY = "sauda.after_commit"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class RefMixin:
    """`ref`: the record's stable UUID, the reference 1C gives its copy of the record (ONEC.md).
    It is the 1C UUID itself for a record made in 1C, a random one otherwise; it never changes,
    so what points at a record through it never goes stale. Rows written by SQL get it from the
    server default."""

    ref: Mapped[uuid.UUID] = mapped_column(
        Uuid, default=uuid.uuid4, server_default=text("gen_random_uuid()"), nullable=False
    )


def create_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        settings.database.url,
        pool_size=settings.database.pool_size,
        max_overflow=settings.database.max_overflow,
        pool_pre_ping=settings.database.pool_pre_ping,
        pool_recycle=settings.database.pool_recycle_seconds,
        echo=settings.database.echo,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the session's transaction has committed (never on rollback)."""
    session.info.setdefault(_AFTER_COMMIT_KEY, []).append(callback)


async def _run_after_commit(session: AsyncSession) -> None:
    callbacks: list[AfterCommit] = session.info.pop(_AFTER_COMMIT_KEY, [])
    for callback in callbacks:
        await callback()


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession], **info: Any
) -> AsyncIterator[AsyncSession]:
    """A unit of work: commit on success, roll back on error; `info` lands in `session.info`."""
    async with sessionmaker() as session:
        session.info.update(info)
        try:
            yield session
            await session.commit()
        except SaudaError as exc:
            if not exc.keep_changes:
                await _discard(session)
                raise
            await session.commit()
            await _run_after_commit(session)
            raise
        except BaseException:
            await _discard(session)
            raise
    await _run_after_commit(session)


async def _discard(session: AsyncSession) -> None:
    await session.rollback()
    session.info.pop(_AFTER_COMMIT_KEY, None)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    state = request.app.state
    async with transaction(state.sessionmaker, arq=state.arq) as session:
        yield session


# scope="function": commit before the response is sent, so a failed commit is never a 200.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


@asynccontextmanager
async def conflict_on(
    session: AsyncSession, conflict: Conflict, *, states: tuple[str, ...] = (UNIQUE_VIOLATION,)
) -> AsyncIterator[None]:
    """Run the block in a savepoint; a constraint of `states` refusing it is `conflict` (409).

    The checks before a write cannot see a concurrent transaction's uncommitted row: when the
    constraint catches it instead, the caller gets the same 409, and the transaction lives on."""
    try:
        async with session.begin_nested():
            yield
    except IntegrityError as exc:
        if sqlstate(exc) not in states:
            raise
        raise conflict from exc
