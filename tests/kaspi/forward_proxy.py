"""A tiny HTTP forward proxy (asyncio) for tests and the benchmark.

Plain-HTTP targets only (the sandbox): it reads an absolute-form request, checks
`Proxy-Authorization` when it has credentials, forwards the request over a kept-alive upstream
connection with `X-Forwarded-For: <its name>` (so the sandbox counts each proxy as its own IP)
and relays the answer. `broken = True` makes it drop every connection, as a dead proxy does.
"""

import asyncio
import base64
import contextlib
from urllib.parse import urlsplit


class ForwardProxy:
    def __init__(self, name: str, *, user: str | None = None, password: str | None = None) -> None:
        self.name = name
        self.user, self.password = user, password
        self.broken = False
        self.requests = 0
        self.refused_auth = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        auth = f"{self.user}:{self.password}@" if self.user else ""
        return f"http://{auth}127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> "ForwardProxy":
        self.server = await asyncio.start_server(self._client, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)

    def _authorized(self, headers: dict[str, str]) -> bool:
        if not self.user:
            return True
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return headers.get("proxy-authorization", "") == f"Basic {expected}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        target: tuple[str, int] | None = None
        try:
            while True:
                if self.broken:
                    return
                head = await _read_head(reader)
                if head is None:
                    return
                line, headers = head
                method, url, version = line.split(" ", 2)
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                if self.broken:
                    return
                if not self._authorized(headers):
                    self.refused_auth += 1
                    writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n")
                    await writer.drain()
                    continue
                self.requests += 1
                parts = urlsplit(url)
                host, port = parts.hostname or "127.0.0.1", parts.port or 80
                if upstream is None or target != (host, port):
                    if upstream is not None:
                        upstream[1].close()
                    upstream, target = await asyncio.open_connection(host, port), (host, port)
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                out = [f"{method} {path} {version}"]
                for key, value in headers.items():
                    if key not in ("proxy-authorization", "proxy-connection", "x-forwarded-for"):
                        out.append(f"{key}: {value}")
                out.append(f"x-forwarded-for: {self.name}")
                upstream[1].write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body)
                await upstream[1].drain()
                answer = await _read_head(upstream[0])
                if answer is None:
                    return
                status_line, answer_headers = answer
                length = int(answer_headers.get("content-length", "0") or 0)
                payload = await upstream[0].readexactly(length)
                raw = [status_line, *(f"{k}: {v}" for k, v in answer_headers.items())]
                writer.write(("\r\n".join(raw) + "\r\n\r\n").encode("latin-1") + payload)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        finally:
            if upstream is not None:
                upstream[1].close()
            writer.close()


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]] | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = raw.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    return lines[0], headers
