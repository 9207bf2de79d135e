"""Tenancy, enforced in queries: the caller becomes the set of companies it may see.

Every repository read of a tenant-owned row filters with `Scope.where(column)`. A row outside
the scope is simply not found, so the API answers 404 and never reveals that it exists.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import InstrumentedAttribute

from sauda.errors import NotFound


@dataclass(frozen=True)
class Scope:
    """`company_ids` is None for callers who see every company (admins)."""

    company_ids: frozenset[int] | None
    user_id: int | None = None

    @classmethod
    def everything(cls, user_id: int | None = None) -> "Scope":
        return cls(company_ids=None, user_id=user_id)

    @classmethod
    def company(cls, company_id: int | None, user_id: int | None = None) -> "Scope":
        ids = frozenset() if company_id is None else frozenset({company_id})
        return cls(company_ids=ids, user_id=user_id)

    @property
    def is_global(self) -> bool:
        return self.company_ids is None

    def where(self, column: InstrumentedAttribute[Any]) -> ColumnElement[bool]:
        if self.company_ids is None:
            return true()
        return column.in_(sorted(self.company_ids))

    def ensure(self, company_id: int | None, what: str = "Company") -> None:
        """Raise NotFound when a referenced company lies outside the scope."""
        if self.company_ids is not None and company_id not in self.company_ids:
            raise NotFound(f"{what} not found")
