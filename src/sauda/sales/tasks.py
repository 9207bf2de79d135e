"""Worker jobs of sales: loading an uploaded sales file."""

import uuid
from typing import Any

from sauda.sales.imports import run_import
from sauda.worker import Context, task


@task()
async def import_sales(ctx: Context, import_id: str) -> dict[str, Any]:
    """Safe to run twice: a finished import is left alone, an interrupted one starts over
    (its data transaction never committed)."""
    return await run_import(ctx["sessionmaker"], ctx["settings"], uuid.UUID(import_id))
