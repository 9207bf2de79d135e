"""Walks every API route that addresses a company-owned object, as an employee of another
company: each must answer 404 (never 403, never 200), so nothing leaks across tenants."""

import re

import httpx
from fastapi import FastAPI

from tests.factories import Factory

OWNED_PARAMS = ("company_id", "product_id")


def _owned_routes(app: FastAPI) -> list[tuple[str, str]]:
    routes = []
    for path, operations in app.openapi()["paths"].items():
        if any(f"{{{p}}}" in path for p in OWNED_PARAMS):
            routes.extend((method.upper(), path) for method in sorted(operations))
    return routes


async def test_every_owned_route_is_404_for_another_company(
    app: FastAPI, client: httpx.AsyncClient, factory: Factory
) -> None:
    theirs = await factory.company()
    their_product = await factory.product(theirs)
    mine = await factory.company()
    headers = await factory.headers(await factory.user(mine))
    ids = {"company_id": theirs.id, "product_id": their_product.id}
    routes = _owned_routes(app)
    assert len(routes) >= 10  # the walk must actually cover the network routes

    for method, path in routes:
        url = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)
        response = await client.request(method, url, json={}, headers=headers)
        assert response.status_code == 404, f"{method} {path}: {response.status_code} {response.text}"
        assert response.json()["error"] == "not_found"


async def test_lists_never_show_another_companys_rows(client: httpx.AsyncClient, factory: Factory) -> None:
    theirs = await factory.company()
    await factory.product(theirs)
    mine = await factory.company()
    headers = await factory.headers(await factory.user(mine))
    products = await client.get("/api/v1/products", params={"company_id": theirs.id}, headers=headers)
    assert products.json()["total"] == 0
    companies = await client.get("/api/v1/companies", params={"search": theirs.name}, headers=headers)
    assert companies.json()["total"] == 0
