"""Page-based pagination as one dependency: `?page=1&limit=50` in, `Page[T]` out."""

from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

MAX_LIMIT = 200
# Far past any real list, and small enough that the offset fits a BIGINT.
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class PageParams:
    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


async def page_params(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")] = 50,
) -> PageParams:
    return PageParams(page=page, limit=limit)


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    limit: int
    pages: int


async def paginate(session: AsyncSession, stmt: Select[Any], params: PageParams) -> tuple[list[Any], int]:
    """Run `stmt` for one page and count all its rows; returns (rows, total)."""
    total_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())
    total = (await session.execute(total_stmt)).scalar_one()
    rows = (await session.scalars(stmt.limit(params.limit).offset(params.offset))).all()
    return list(rows), total


def make_page(items: list[T], total: int, params: PageParams) -> Page[T]:
    pages = (total + params.limit - 1) // params.limit
    return Page[T](items=items, total=total, page=params.page, limit=params.limit, pages=pages)
