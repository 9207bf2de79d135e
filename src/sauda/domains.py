"""The one list of domains. A new domain is a package under `sauda/` added here, nothing else.

Each domain package may hold, by fixed role (ARCHITECTURE.md):
- `models.py`: its SQLAlchemy models (imported for Alembic and the mappers);
- `router.py` with `router`: its API routes, mounted under `/api/v1`;
- `admin.py` with `views()`: its admin panel views, in sidebar order;
- `tasks.py`: its worker jobs and cron entries.
"""

import importlib
import importlib.util
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import APIRouter

    from sauda.admin import SaudaView

# In the order of the admin sidebar and the API documentation.
DOMAINS = ("network", "sales", "kaspi", "exchange", "calendar", "auth", "jobs")


def _modules(role: str) -> Iterator[ModuleType]:
    for domain in DOMAINS:
        name = f"sauda.{domain}.{role}"
        if importlib.util.find_spec(name) is not None:
            yield importlib.import_module(name)


def load_models() -> None:
    for _ in _modules("models"):
        pass


def routers() -> list["APIRouter"]:
    return [module.router for module in _modules("router")]


def admin_views() -> list[type["SaudaView"]]:
    return [view for module in _modules("admin") for view in module.views()]


def task_modules() -> list[str]:
    return [module.__name__ for module in _modules("tasks")]
