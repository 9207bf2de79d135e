"""A test client that behaves like 1C:Enterprise 8.3's HTTPСоединение and ПрочитатьJSON.

It sends what the platform sends (User-Agent, `Accept: */*`, no Accept-Encoding), makes its
first request without credentials and adds Basic only after a 401 challenge, never follows
redirects, and reads the answer as 1C would: explicit `application/json; charset=utf-8`, no BOM,
every key a valid 1C identifier with no two keys equal but for case, numbers without exponent,
dates in `ИменаСвойствСоЗначениямиДата` as `YYYY-MM-DDThh:mm:ss`.
"""

import base64
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

import httpx

IDENTIFIER = re.compile(r"^[A-Za-z_\u0400-\u04ff][A-Za-z0-9_\u0400-\u04ff]*$")
ONEC_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
DATE_KEYS = {"created_at", "sold_at", "release_date", "delivered_at", "acknowledged_at"}


class OneCCannotRead(AssertionError):
    """What would be a runtime error in the 1C code reading the answer."""


def _check_keys(value: Any, path: str = "$") -> None:
    if isinstance(value, dict):
        seen: dict[str, str] = {}
        for key, item in value.items():
            if not IDENTIFIER.match(key):
                raise OneCCannotRead(f"{path}: key {key!r} is not a 1C identifier")
            if key.lower() in seen:
                raise OneCCannotRead(f"{path}: keys {seen[key.lower()]!r} and {key!r} differ only by case")
            seen[key.lower()] = key
            if key in DATE_KEYS and item is not None and not ONEC_DATE.match(str(item)):
                raise OneCCannotRead(f"{path}.{key}: {item!r} is not a 1C date")
            _check_keys(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_keys(item, f"{path}[{index}]")


def _decimal(literal: str) -> Decimal:
    if "e" in literal.lower():
        raise OneCCannotRead(f"the number {literal} has an exponent")
    return Decimal(literal)


def read_json(response: httpx.Response) -> Any:
    """ПрочитатьJSON with decimal numbers, after the checks the platform would fail on."""
    if response.headers.get("content-type") != "application/json; charset=utf-8":
        raise OneCCannotRead(f"content-type {response.headers.get('content-type')!r}")
    body = response.content
    if body.startswith(b"\xef\xbb\xbf"):
        raise OneCCannotRead("the body starts with a BOM")
    data = json.loads(body.decode("utf-8"), parse_float=_decimal)
    _check_keys(data)
    return data


@dataclass
class OneCClient:
    http: httpx.AsyncClient
    login: str
    secret: str
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    _authorized: bool = False

    HEADERS: ClassVar[dict[str, str]] = {
        "User-Agent": "1C+Enterprise/8.3",
        "Accept": "*/*",
        "Accept-Encoding": "",
    }

    def _basic(self) -> dict[str, str]:
        token = base64.b64encode(f"{self.login}:{self.secret}".encode("ascii")).decode()
        return {"Authorization": f"Basic {token}"}

    async def send(self, method: str, url: str, body: bytes | None = None) -> httpx.Response:
        headers = dict(self.HEADERS)
        if self._authorized:
            headers |= self._basic()
        response = await self.http.request(method, url, content=body, headers=headers, follow_redirects=False)
        if response.status_code == 401 and not self._authorized:
            self.requests.append((method, url, response.status_code))
            challenge = response.headers.get("www-authenticate", "")
            if not challenge.lower().startswith("basic"):
                raise OneCCannotRead(f"401 without a Basic challenge: {challenge!r}")
            self._authorized = True
            response = await self.http.request(
                method, url, content=body, headers=headers | self._basic(), follow_redirects=False
            )
        if 300 <= response.status_code < 400:
            raise OneCCannotRead(f"{method} {url} redirected to {response.headers.get('location')}")
        self.requests.append((method, url, response.status_code))
        return response

    async def get(self, url: str) -> Any:
        response = await self.send("GET", url)
        assert response.status_code == 200, response.text
        return read_json(response)

    async def post(self, url: str, data: Any, *, bom: bool = False) -> httpx.Response:
        body = json.dumps(data, ensure_ascii=False).encode()
        return await self.send("POST", url, (b"\xef\xbb\xbf" if bom else b"") + body)

    async def put(self, url: str, data: Any, *, bom: bool = False) -> httpx.Response:
        body = json.dumps(data, ensure_ascii=False, default=str).encode()
        return await self.send("PUT", url, (b"\xef\xbb\xbf" if bom else b"") + body)

    async def full_load(self, entity: str, limit: int = 1000) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        url = f"/api/v1/exchange/{entity}?limit={limit}"
        while True:
            page = await self.get(url)
            items.extend(page["items"])
            if not page["has_more"]:
                return items
            url = f"/api/v1/exchange/{entity}?limit={limit}&after={page['next_cursor']}"

    async def pull_changes(self, entity: str, limit: int = 1000) -> dict[str, Any]:
        batch: dict[str, Any] = await self.get(f"/api/v1/exchange/{entity}/changes?limit={limit}")
        return batch

    async def ack(self, entity: str, batch: dict[str, Any]) -> httpx.Response:
        return await self.post(f"/api/v1/exchange/{entity}/ack", {"ack_token": batch["ack_token"]})

    async def sync(self, entity: str, mirror: dict[int, dict[str, Any]], limit: int = 1000) -> int:
        """Pull and acknowledge until nothing is left, applying each batch to `mirror` the way
        the 1C module does (write in a transaction, then acknowledge). Returns batches taken."""
        taken = 0
        while True:
            batch = await self.pull_changes(entity, limit)
            if not batch["items"]:
                return taken
            apply(mirror, batch["items"])
            response = await self.ack(entity, batch)
            assert response.status_code == 200, response.text
            taken += 1


def apply(mirror: dict[int, dict[str, Any]], items: list[dict[str, Any]]) -> None:
    for item in items:
        if item["deleted"]:
            mirror.pop(item["id"], None)
        else:
            mirror[item["id"]] = item
