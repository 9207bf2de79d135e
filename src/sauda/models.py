"""Every domain's models loaded in one place (from `sauda.domains`), so Alembic and the mappers
see them all through `Base.metadata`."""

from sauda.db import Base
from sauda.domains import load_models

load_models()

__all__ = ["Base"]
