"""A bounded schemathesis run over the whole API as an admin, an employee and an integration
client: no 5xx, no status, content type or body the OpenAPI document does not declare.

The size (examples per operation) is kept small so the suite stays fast; `tests/fuzz.py` runs
the same fuzzing for longer by hand (see README, "Fuzzing")."""

import asyncio
import os
from typing import Any

import pytest
from fastapi import FastAPI

from sauda.auth.models import ClientScope
from sauda.auth.service import create_client
from sauda.db import transaction
from sauda.tenancy import Scope
from tests.factories import Factory
from tests.fuzz import fuzz, fuzz_links

EXAMPLES = int(os.environ.get("SAUDA_FUZZ_EXAMPLES", "4"))
# Routes that reach outside systems (Kaspi's cabinet) are fuzzed by their own fault tests
# against the sandbox; here they would only time out against an address nobody serves.
OUTSIDE = ("/login", "/session/check", "/sync", "/refresh", "/price", "/batch-", "/demper/run", "/offers")


async def _callers(factory: Factory) -> dict[str, dict[str, str]]:
    company = await factory.company()
    await factory.product(company)
    employee = await factory.user(company)
    async with transaction(factory.sessionmaker) as session:
        _, secret = await create_client(
            session,
            Scope.everything(),
            company_id=company.id,
            name="1C and bot",
            login="fuzz-client",
            scopes=(ClientScope.exchange, ClientScope.calendar),
        )
    return {
        "admin": await factory.headers(await factory.admin()),
        "employee": await factory.headers(employee),
        "client": {"X-Api-Key": secret},
    }


def _skipped(spec: dict[str, Any]) -> list[str]:
    return [
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method in operations
        if path.startswith("/api/v1/kaspi") and any(part in path for part in OUTSIDE) and method != "get"
    ]


@pytest.mark.parametrize("caller", ["admin", "employee", "client"])
async def test_fuzzing_finds_no_server_error_and_no_schema_violation(
    app: FastAPI, served: str, factory: Factory, caller: str
) -> None:
    spec = app.openapi()
    headers = (await _callers(factory))[caller]
    report = await asyncio.to_thread(fuzz, spec, served, headers, max_examples=EXAMPLES, skip=_skipped(spec))
    stateless = report.requests
    assert stateless > 100
    await asyncio.to_thread(fuzz_links, spec, served, headers, max_examples=EXAMPLES * 5, report=report)
    assert report.requests > stateless
    print(f"\n{caller}: {report.summary()} ({stateless} of them stateless)")  # shown with -s
    assert not report.failures, report.summary()
