"""Every input the database cannot hold is a 4xx naming the field, by kind and on every route.

The OpenAPI walk makes the next route safe without anyone remembering: a route that declares an
unbounded integer, amount or text fails here before it can answer 500 in production."""

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from jose import jwt

from sauda.security import JWT_ALGORITHM
from tests.factories import Factory


def _schemas(node: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
    """Every leaf schema under `node` with a readable path."""
    if not isinstance(node, dict):
        return []
    found: list[tuple[str, dict[str, Any]]] = []
    for key in ("anyOf", "oneOf", "allOf"):
        for i, option in enumerate(node.get(key, [])):
            found += _schemas(option, f"{path}|{i}")
    if "items" in node:
        found += _schemas(node["items"], f"{path}[]")
    for name, prop in node.get("properties", {}).items():
        found += _schemas(prop, f"{path}.{name}")
    if "type" in node:
        found.append((path, node))
    return found


def _inputs(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    components = spec["components"]["schemas"]
    found = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            for param in op.get("parameters", []):
                found += _schemas(param["schema"], f"{where} {param['in']}:{param['name']}")
            for media in op.get("requestBody", {}).get("content", {}).values():
                ref = media["schema"].get("$ref", "")
                schema = components.get(ref.rsplit("/", 1)[-1], media["schema"])
                found += _schemas(schema, f"{where} body")
    return found


def _unbounded(schema: dict[str, Any]) -> bool:
    kind = schema["type"]
    if kind in ("integer", "number"):
        return "maximum" not in schema and "exclusiveMaximum" not in schema
    if kind == "string":
        keys = ("maxLength", "pattern", "enum", "format", "const", "contentMediaType")
        return not any(k in schema for k in keys)
    return False


# OAuth2's standard password form: its fields are only compared, never stored or echoed.
OAUTH_FORM = "POST /api/v1/auth/token body."


def test_every_input_of_every_route_is_bounded(app: FastAPI) -> None:
    unbounded = [
        where
        for where, schema in _inputs(app.openapi())
        if _unbounded(schema) and not where.startswith(OAUTH_FORM)
    ]
    assert unbounded == []


def test_every_error_is_declared_as_error_out(app: FastAPI) -> None:
    spec = app.openapi()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            responses = op["responses"]
            if op.get("security"):
                assert {"401", "403"} <= responses.keys(), f"{method} {path}"
            if op.get("parameters") or op.get("requestBody"):
                assert "422" in responses, f"{method} {path}"
            for status, response in responses.items():
                if status[0] in "45":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorOut"}, f"{method} {path} {status}"


# --- the cases the fuzzing found, each a class: path ids 404, everything else 422 naming the field


BIG32, BIG64 = 2**31, 2**63


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/points/{BIG32}",
        f"/api/v1/sales/{BIG64}",
        f"/api/v1/companies/{BIG32}",
        f"/api/v1/calendar/events/{BIG64}",
        f"/api/v1/kaspi/preorders/{BIG32}",
        "/api/v1/points/0",
        "/api/v1/jobs/not-a-uuid",
    ],
)
async def test_a_path_id_that_cannot_exist_is_404(
    client: httpx.AsyncClient, factory: Factory, path: str
) -> None:
    headers = await factory.headers(await factory.admin())
    response = await client.get(path, headers=headers)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("GET", "/api/v1/sales", {"params": {"company_id": BIG32}}, "company_id"),
        ("GET", "/api/v1/sales", {"params": {"customer_id": BIG32}}, "customer_id"),
        ("GET", "/api/v1/companies", {"params": {"page": 200000000000000000}}, "page"),
        ("GET", "/api/v1/sales", {"params": {"total_min": "1000000000000"}}, "total_min"),
        ("GET", "/api/v1/sales", {"params": {"total_max": "1e400"}}, "total_max"),
        ("GET", "/api/v1/kaspi/offers", {"params": {"min_price": "1000000000000"}}, "min_price"),
        ("GET", "/api/v1/sales", {"params": {"date_from": "0001-01-01"}}, "date_from"),
        ("GET", "/api/v1/sales/export", {"params": {"date_to": "9999-12-31"}}, "date_to"),
        ("GET", "/api/v1/sales/export", {"params": {"customer_id": BIG32}}, "customer_id"),
        ("GET", "/api/v1/companies", {"params": {"search": "a\x00b"}}, "search"),
        ("POST", "/api/v1/auth/invites", {"json": {"company_id": BIG32}}, "company_id"),
        ("POST", "/api/v1/companies/clear-debt", {"json": {"company_ids": [BIG32]}}, "company_ids.0"),
        ("POST", "/api/v1/companies", {"json": {"name": "a\u0000b"}}, "name"),
        ("POST", "/api/v1/points", {"json": {"code": "P1", "name": "x", "company_id": BIG32}}, "company_id"),
        (
            "POST",
            "/api/v1/kaspi/proxies",
            {"json": {"url": "http://[::1"}},
            "url",
        ),
        ("POST", "/api/v1/kaspi/proxies", {"json": {"url": "http://host:port"}}, "url"),
        ("POST", "/api/v1/kaspi/proxies", {"json": {"url": f"http://{'h' * 190}.kz:8080"}}, "url"),
        ("POST", "/api/v1/kaspi/proxies", {"json": {"url": "http://a\u0000b:1"}}, "url"),
    ],
)
async def test_a_value_the_database_cannot_hold_is_422_naming_the_field(
    client: httpx.AsyncClient, factory: Factory, method: str, path: str, kwargs: dict[str, Any], field: str
) -> None:
    headers = await factory.headers(await factory.admin())
    response = await client.request(method, path, headers=headers, **kwargs)
    assert response.status_code == 422, response.text
    assert field in [f["field"] for f in response.json()["fields"]]


async def test_a_company_name_with_a_line_break_is_refused(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    headers = await factory.headers(await factory.admin())
    body = {
        "name": "Ромашка\r\nBcc: everyone@example.kz",
        "kind": "factory",
        "email": "a@example.kz",
        "country": "Казахстан",
        "city": "Алматы",
        "street": "Абая",
        "house_number": "1",
    }
    response = await client.post("/api/v1/companies", headers=headers, json=body)
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["fields"]] == ["name"]


async def test_a_sale_whose_total_overflows_is_422_naming_total(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    company = await factory.company()
    product = await factory.product(company)
    headers = await factory.headers(await factory.user(company))
    point = await client.post("/api/v1/points", headers=headers, json={"code": "P1", "name": "Точка"})
    sale = {
        "point_id": point.json()["id"],
        "product_id": product.id,
        "quantity": "999999999.999",
        "unit_price": "999999999999.99",
        "sold_at": "2026-11-01T10:00:00",
    }
    response = await client.post("/api/v1/sales", headers=headers, json=sale)
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["fields"]] == ["total"]
    early = await client.post(
        "/api/v1/sales", headers=headers, json=sale | {"quantity": "1", "sold_at": "0001-01-01T00:00:00"}
    )
    assert [f["field"] for f in early.json()["fields"]] == ["sold_at"]


@pytest.mark.parametrize("time", ["12:00:00Z", "12:00:00+05:00"])
async def test_calendar_times_with_an_offset_are_refused(
    client: httpx.AsyncClient, factory: Factory, time: str
) -> None:
    from tests.integration_clients import api_key, make_client

    _, secret = await make_client(factory)
    bot = api_key(secret)
    free = await client.get(
        "/api/v1/calendar/users/1/free", params={"date": "2026-12-01", "time": time}, headers=bot
    )
    event = await client.post(
        "/api/v1/calendar/events",
        headers=bot,
        json={"name": "Встреча", "date": "2026-12-01", "time": time, "user_id": 1},
    )
    appointment = await client.post(
        "/api/v1/calendar/appointments",
        headers=bot,
        json={"organizer_tg_id": 1, "participant_tg_id": 2, "date": "2026-12-01", "time": time},
    )
    for response in (free, event, appointment):
        assert response.status_code == 422
        assert [f["field"] for f in response.json()["fields"]] == ["time"]


async def test_an_appointment_past_the_business_range_is_refused(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    from tests.integration_clients import api_key, make_client

    _, secret = await make_client(factory)
    body = {"organizer_tg_id": 1, "participant_tg_id": 2, "date": "9999-12-31", "time": "23:30"}
    response = await client.post("/api/v1/calendar/appointments", headers=api_key(secret), json=body)
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["fields"]] == ["date"]


async def test_a_nul_in_basic_credentials_is_401_before_any_query(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/exchange/products", headers={"Authorization": "Basic ADp4"})
    assert response.status_code == 401
    assert base64.b64decode("ADp4") == b"\x00:x"


def _token(settings_secret: str, **claims: Any) -> str:
    now = datetime.now(UTC)
    payload = {"type": "access", "jti": "x", "iat": now, "exp": now + timedelta(minutes=5)} | claims
    return jwt.encode(
        {k: v for k, v in payload.items() if v is not None}, settings_secret, algorithm=JWT_ALGORITHM
    )


@pytest.mark.parametrize(
    "claims",
    [{"sub": "not-a-user"}, {"sub": "99999999999999999999"}, {"sub": "1", "exp": None}, {"sub": None}],
)
async def test_a_signed_token_that_is_not_sauda_s_is_401(
    client: httpx.AsyncClient, factory: Factory, claims: dict[str, Any]
) -> None:
    await factory.admin()
    token = _token(factory.settings.auth.secret_key.get_secret_value(), **claims)
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_a_method_a_path_does_not_support_is_405_listing_all_it_does(
    client: httpx.AsyncClient,
) -> None:
    response = await client.put("/api/v1/companies/1")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE"}


async def test_the_database_refusing_a_value_is_a_4xx_not_a_500(app: FastAPI) -> None:
    """The last line of defence, for a route that forgot a bounded type."""
    from sqlalchemy import text

    from sauda.errors import install_error_handlers

    probe = FastAPI()
    install_error_handlers(probe)

    @probe.get("/probe")
    async def overflowing() -> None:
        async with app.state.engine.connect() as conn:
            await conn.execute(text("SELECT CAST(:v AS numeric(14, 2))"), {"v": 10**13})

    transport = httpx.ASGITransport(app=probe, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as http:
        response = await http.get("/probe")
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"


async def test_a_body_that_cannot_be_read_is_422_naming_the_body(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    headers = await factory.headers(await factory.admin())
    response = await client.post(
        "/api/v1/points",
        headers=headers | {"Content-Type": "application/json"},
        content=b'{"code": "\xff\xfe"}',
    )
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["fields"]] == ["body"]
