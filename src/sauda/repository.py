"""A thin generic repository. Domain repositories add methods that return visible statements."""

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from sauda.db import Base, conflict_on
from sauda.errors import FOREIGN_KEY_VIOLATION, Conflict, NotFound
from sauda.pagination import PageParams, paginate
from sauda.tenancy import Scope

ModelT = TypeVar("ModelT", bound=Base)


def escape_like(value: str) -> str:
    """`value` as a literal inside a LIKE pattern (default escape character: backslash)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Repository(Generic[ModelT]):
    model: type[ModelT]
    # The column that names the owning company; every read is filtered by the caller's scope.
    tenant_column: InstrumentedAttribute[Any]
    label = "Object"

    def __init__(self, session: AsyncSession, scope: Scope) -> None:
        self.session = session
        self.scope = scope

    def select(self) -> Select[ModelT]:
        # Read from the class: on an instance the mapped attribute would act as a descriptor.
        return select(self.model).where(self.scope.where(type(self).tenant_column))

    async def get(self, id_: int) -> ModelT:
        pk = self.model.__mapper__.primary_key[0]
        found = await self.session.scalar(self.select().where(pk == id_))
        if found is None:
            raise NotFound(f"{self.label} {id_} not found")
        return found

    async def all(self, stmt: Select[ModelT] | None = None) -> Sequence[ModelT]:
        return (await self.session.scalars(stmt if stmt is not None else self.select())).all()

    async def paginate(self, stmt: Select[ModelT], params: PageParams) -> tuple[list[ModelT], int]:
        return await paginate(self.session, stmt, params)

    async def add(self, obj: ModelT) -> ModelT:
        self.session.add(obj)
        await self.session.flush()
        return obj

    async def delete(self, obj: ModelT) -> None:
        """Delete `obj`; rows that still reference it (no ON DELETE) make it a 409."""
        in_use = Conflict(f"{self.label} is still in use (e.g. by sales) and cannot be deleted")
        async with conflict_on(self.session, in_use, states=(FOREIGN_KEY_VIOLATION,)):
            await self.session.delete(obj)
            await self.session.flush()
