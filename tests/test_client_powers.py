"""No privilege escalation through integration clients (issue 11 §3).

Every route that manages integration clients, for every kind of caller, against every kind of
client. The rule: an employee manages only clients whose powers do not exceed their own (their
company, `exchange` only, not `all_companies`); any other client does not exist for them (404,
absent from lists). `/auth/clients` is admins' alone; integration clients manage nothing (401).
Wherever a call is refused, the client's secret and state are checked to be untouched.
"""

import re
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from sauda.auth.models import IntegrationClient
from tests.factories import Factory
from tests.integration_clients import api_key, basic

AUTH = "/api/v1/auth/clients"
EXCHANGE = "/api/v1/exchange/clients"

ROLES = ("admin", "employee_a", "employee_b", "client")
# own: an employee of A made it (exchange, A); every: an admin's exchange client of A that sees
# all companies; calendar: an admin's calendar client of A; both: an admin's exchange+calendar
# client of A; theirs: an employee of B made it (exchange, B).
KINDS = ("own", "every", "calendar", "both", "theirs")
EXCHANGE_KINDS = ("own", "every", "both", "theirs")


@dataclass
class World:
    headers: dict[str, dict[str, str]]  # by role
    ids: dict[str, int]  # client id by kind
    secrets: dict[str, str]  # client secret by kind
    logins: dict[str, str]
    company_a: int
    company_b: int


async def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
async def world(client: httpx.AsyncClient, factory: Factory) -> World:
    company_a, company_b = await factory.company(), await factory.company()
    await factory.product(company_a)
    await factory.product(company_b)
    admin = await factory.headers(await factory.admin())
    employee_a = await factory.headers(await factory.user(company_a))
    employee_b = await factory.headers(await factory.user(company_b))
    made = {
        "own": await _created(
            await client.post(EXCHANGE, json={"name": "1C", "login": "own"}, headers=employee_a)
        ),
        "every": await _created(
            await client.post(
                EXCHANGE,
                json={"name": "1C", "login": "every", "company_id": company_a.id, "all_companies": True},
                headers=admin,
            )
        ),
        "calendar": await _created(
            await client.post(
                AUTH,
                json={"company_id": company_a.id, "name": "bot", "login": "calendar", "scopes": ["calendar"]},
                headers=admin,
            )
        ),
        "both": await _created(
            await client.post(
                AUTH,
                json={
                    "company_id": company_a.id,
                    "name": "1C and bot",
                    "login": "both",
                    "scopes": ["exchange", "calendar"],
                },
                headers=admin,
            )
        ),
        "theirs": await _created(
            await client.post(EXCHANGE, json={"name": "1C", "login": "theirs"}, headers=employee_b)
        ),
    }
    # The caller of role "client": the most powerful client there is, with its own credentials.
    caller = await _created(
        await client.post(
            EXCHANGE,
            json={"name": "1C", "login": "caller", "company_id": company_a.id, "all_companies": True},
            headers=admin,
        )
    )
    return World(
        headers={
            "admin": admin,
            "employee_a": employee_a,
            "employee_b": employee_b,
            "client": basic("caller", caller["secret"]),
        },
        ids={k: v["id"] for k, v in made.items()},
        secrets={k: v["secret"] for k, v in made.items()},
        logins={k: v["login"] for k, v in made.items()},
        company_a=company_a.id,
        company_b=company_b.id,
    )


async def _state(factory: Factory, client_id: int) -> tuple[str, object]:
    async with factory.sessionmaker() as session:
        row = await session.scalar(select(IntegrationClient).where(IntegrationClient.id == client_id))
    assert row is not None
    return row.secret_hash, row.revoked_at


# --- the routes: every one that manages clients must be in this matrix --------------------------

ROUTES = {
    ("GET", "/api/v1/auth/clients"),
    ("POST", "/api/v1/auth/clients"),
    ("GET", "/api/v1/auth/clients/{client_id}"),
    ("POST", "/api/v1/auth/clients/{client_id}/rotate"),
    ("POST", "/api/v1/auth/clients/{client_id}/revoke"),
    ("GET", "/api/v1/exchange/clients"),
    ("POST", "/api/v1/exchange/clients"),
    ("POST", "/api/v1/exchange/clients/{client_id}/rotate"),
    ("POST", "/api/v1/exchange/clients/{client_id}/revoke"),
}


def test_the_matrix_covers_every_client_route(app: FastAPI) -> None:
    found = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if re.search(r"/clients(/|$)", path)
        for method in operations
    }
    assert found == ROUTES


# --- addressing one client: get, rotate, revoke -------------------------------------------------


def _by_id_expected(prefix: str, role: str, kind: str) -> int:
    if role == "client":
        return 401  # these routes take people's tokens; a client's credentials are none
    if prefix == AUTH:
        return 200 if role == "admin" else 403  # admins' routes
    if role == "admin":
        return 200 if kind in EXCHANGE_KINDS else 422  # "not an exchange client"
    mine = {"employee_a": "own", "employee_b": "theirs"}[role]
    return 200 if kind == mine else 404


BY_ID = [
    (prefix, action, role, kind)
    for prefix, actions in ((AUTH, ("get", "rotate", "revoke")), (EXCHANGE, ("rotate", "revoke")))
    for action in actions
    for role in ROLES
    for kind in KINDS
]


@pytest.mark.parametrize(
    ("prefix", "action", "role", "kind"),
    BY_ID,
    ids=[f"{p.split('/')[3]}-{a}-{r}-{k}" for p, a, r, k in BY_ID],
)
async def test_one_client(
    client: httpx.AsyncClient, factory: Factory, world: World, prefix: str, action: str, role: str, kind: str
) -> None:
    client_id = world.ids[kind]
    before = await _state(factory, client_id)
    url = f"{prefix}/{client_id}" + ("" if action == "get" else f"/{action}")
    method = "GET" if action == "get" else "POST"
    response = await client.request(method, url, headers=world.headers[role])

    expected = _by_id_expected(prefix, role, kind)
    assert response.status_code == expected, response.text
    after = await _state(factory, client_id)
    if expected != 200 or action == "get":
        assert after == before, "a refused call changed the client"
        assert "secret" not in response.json()
        return
    if action == "rotate":
        assert after[0] != before[0]
        assert after[1] is None
        assert response.json()["id"] == client_id
        assert response.json()["secret"]
    else:
        assert after[0] == before[0]
        assert after[1] is not None
        assert response.json()["is_active"] is False


# --- lists --------------------------------------------------------------------------------------

LISTED: dict[tuple[str, str], set[str] | int] = {
    (AUTH, "admin"): set(KINDS),
    (AUTH, "employee_a"): 403,
    (AUTH, "employee_b"): 403,
    (AUTH, "client"): 401,
    (EXCHANGE, "admin"): set(EXCHANGE_KINDS),
    (EXCHANGE, "employee_a"): {"own"},
    (EXCHANGE, "employee_b"): {"theirs"},
    (EXCHANGE, "client"): 401,
}


@pytest.mark.parametrize(("prefix", "role"), list(LISTED), ids=[f"{p.split('/')[3]}-{r}" for p, r in LISTED])
async def test_list(client: httpx.AsyncClient, world: World, prefix: str, role: str) -> None:
    expected = LISTED[(prefix, role)]
    response = await client.get(prefix, params={"limit": 100}, headers=world.headers[role])
    if isinstance(expected, int):
        assert response.status_code == expected, response.text
        return
    assert response.status_code == 200, response.text
    by_id = {v: k for k, v in world.ids.items()}
    listed = {by_id[c["id"]] for c in response.json()["items"] if c["id"] in by_id}
    assert listed == expected
    assert all("secret" not in c for c in response.json()["items"])
    if role != "admin":
        assert response.json()["total"] == len(expected)


# --- creating: nobody makes a client with powers beyond their own -------------------------------


def _create_body(prefix: str, kind: str, world: World) -> dict[str, Any] | None:
    """The request that would create a client of `kind`; None where the route cannot express it."""
    company = world.company_b if kind == "theirs" else world.company_a
    if prefix == AUTH:
        scopes = {"own": ["exchange"], "theirs": ["exchange"], "calendar": ["calendar"]}
        scopes["both"] = ["exchange", "calendar"]
        if kind not in scopes:
            return None  # all_companies is set through /exchange/clients only
        return {"company_id": company, "name": "new", "login": "new-client", "scopes": scopes[kind]}
    if kind in ("calendar", "both"):
        return None  # /exchange/clients makes exchange clients only
    return {"name": "new", "login": "new-client", "company_id": company, "all_companies": kind == "every"}


def _create_expected(prefix: str, role: str, kind: str) -> tuple[int, str | None]:
    """(status, the field a 403 names)."""
    if role == "client":
        return 401, None
    if role == "admin":
        return 201, None
    if prefix == AUTH:
        return 403, None
    if (role, kind) in (("employee_a", "own"), ("employee_b", "theirs")):
        return 201, None
    company_is_theirs = (role == "employee_a") == (kind != "theirs")
    if not company_is_theirs:
        return 404, None  # another company's: not found, as for any tenant-owned row
    return 403, "all_companies"


CREATE = [
    (prefix, role, kind)
    for prefix in (AUTH, EXCHANGE)
    for role in ROLES
    for kind in KINDS
    if not (prefix == AUTH and kind == "every") and not (prefix == EXCHANGE and kind in ("calendar", "both"))
]


@pytest.mark.parametrize(
    ("prefix", "role", "kind"), CREATE, ids=[f"{p.split('/')[3]}-create-{r}-{k}" for p, r, k in CREATE]
)
async def test_create(
    client: httpx.AsyncClient, factory: Factory, world: World, prefix: str, role: str, kind: str
) -> None:
    body = _create_body(prefix, kind, world)
    assert body is not None
    response = await client.post(prefix, json=body, headers=world.headers[role])
    status, field = _create_expected(prefix, role, kind)
    assert response.status_code == status, response.text
    async with factory.sessionmaker() as session:
        made = await session.scalar(select(IntegrationClient).where(IntegrationClient.login == "new-client"))
    if status != 201:
        assert made is None, "a refused create made a client"
        assert "secret" not in response.json()
        if field:
            assert [f["field"] for f in response.json()["fields"]] == [field]
        return
    assert made is not None
    assert made.company_id == body["company_id"]
    assert made.all_companies is body.get("all_companies", False)
    assert response.json()["all_companies"] is made.all_companies


async def test_employees_cannot_create_beyond_exchange_through_any_body(
    client: httpx.AsyncClient, world: World
) -> None:
    """/exchange/clients takes no `scopes`: asking for one is a 422 naming it, not a calendar client."""
    for headers in (world.headers["employee_a"], world.headers["admin"]):
        body = {"name": "x", "login": "sneaky", "company_id": world.company_a, "scopes": ["calendar"]}
        response = await client.post(EXCHANGE, json=body, headers=headers)
        assert response.status_code == 422
        assert response.json()["fields"][0]["field"] == "scopes"


# --- integration clients manage nothing, however they present their secret ---------------------


async def test_a_client_cannot_manage_clients_with_any_credentials(
    client: httpx.AsyncClient, factory: Factory, world: World
) -> None:
    secret = world.secrets["every"]
    before = await _state(factory, world.ids["own"])
    for headers in (
        basic(world.logins["every"], secret),
        api_key(secret),
        {"Authorization": f"Bearer {secret}"},
    ):
        for method, path in sorted(ROUTES):
            url = path.replace("{client_id}", str(world.ids["own"]))
            body = {
                "name": "x",
                "login": "by-a-client",
                "company_id": world.company_a,
                "scopes": ["exchange"],
            }
            if path.startswith(EXCHANGE):
                body.pop("scopes")
            response = await client.request(
                method, url, json=body if method == "POST" else None, headers=headers
            )
            assert response.status_code == 401, f"{method} {url} {headers}: {response.text}"
    assert await _state(factory, world.ids["own"]) == before


# --- what an employee-rotated secret can reach ------------------------------------------------


async def test_an_employee_rotated_secret_reads_only_their_company(
    client: httpx.AsyncClient, world: World
) -> None:
    rotated = await client.post(f"{EXCHANGE}/{world.ids['own']}/rotate", headers=world.headers["employee_a"])
    assert rotated.status_code == 200
    onec = basic(world.logins["own"], rotated.json()["secret"])
    products = await client.get("/api/v1/exchange/products", headers=onec)
    assert products.status_code == 200
    assert {p["company_id"] for p in products.json()["items"]} == {world.company_a}
    assert (await client.get("/api/v1/exchange/companies", headers=onec)).status_code == 404
    assert (await client.get("/api/v1/calendar/statistics", headers=onec)).status_code == 403


async def test_the_escalation_of_the_issue_is_closed(client: httpx.AsyncClient, world: World) -> None:
    """The report: an employee rotated an admin's all-companies (or calendar) client of their
    company and read every company's feed (or the calendar) with the new secret."""
    employee = world.headers["employee_a"]
    for kind in ("every", "both", "calendar"):
        for action in ("rotate", "revoke"):
            response = await client.post(f"{EXCHANGE}/{world.ids[kind]}/{action}", headers=employee)
            assert response.status_code == 404, (kind, action, response.text)
    # The admins' clients still work with their original secrets, and still see what they saw.
    every = basic(world.logins["every"], world.secrets["every"])
    products = await client.get("/api/v1/exchange/products", headers=every)
    assert {p["company_id"] for p in products.json()["items"]} == {world.company_a, world.company_b}
    both = basic(world.logins["both"], world.secrets["both"])
    assert (await client.get("/api/v1/calendar/statistics", headers=both)).status_code == 200
