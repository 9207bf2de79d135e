"""Walks every calendar route: only admins and clients with the `calendar` scope get in."""

import re

import httpx
import pytest
from fastapi import FastAPI

from sauda.auth.models import ClientScope
from tests.factories import Factory
from tests.integration_clients import api_key, basic, make_client


def _calendar_routes(app: FastAPI) -> list[tuple[str, str]]:
    routes = []
    for path, operations in app.openapi()["paths"].items():
        if path.startswith("/api/v1/calendar/"):
            routes.extend((method.upper(), re.sub(r"\{\w+\}", "1", path)) for method in sorted(operations))
    return routes


@pytest.fixture
def routes(app: FastAPI) -> list[tuple[str, str]]:
    found = _calendar_routes(app)
    assert len(found) >= 15  # the walk must actually cover the calendar
    return found


async def test_every_route_needs_credentials(
    client: httpx.AsyncClient, routes: list[tuple[str, str]]
) -> None:
    for method, url in routes:
        response = await client.request(method, url, json={})
        assert response.status_code == 401, f"{method} {url}: {response.status_code}"
        assert response.headers["www-authenticate"].startswith("Basic")


async def test_employees_and_other_scopes_are_refused(
    client: httpx.AsyncClient, factory: Factory, routes: list[tuple[str, str]]
) -> None:
    employee = await factory.headers(await factory.user(await factory.company()))
    onec, secret = await make_client(factory, scopes=[ClientScope.exchange], login="onec")
    for headers in (employee, api_key(secret), basic(onec.login, secret)):
        for method, url in routes:
            response = await client.request(method, url, json={}, headers=headers)
            assert response.status_code == 403, f"{method} {url}: {response.status_code} {response.text}"
            assert response.json()["error"] == "permission_denied"


async def test_admins_and_the_bot_get_past_the_guard(
    client: httpx.AsyncClient, factory: Factory, routes: list[tuple[str, str]]
) -> None:
    admin = await factory.headers(await factory.admin())
    _, secret = await make_client(factory)
    for headers in (admin, api_key(secret)):
        for method, url in routes:
            response = await client.request(method, url, json={}, headers=headers)
            # Past authentication the answers are the route's own: data, 404 or validation.
            assert response.status_code in (200, 404, 422), f"{method} {url}: {response.status_code}"
