import httpx
import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from sauda.app import create_app
from sauda.config import DEFAULT_SECRET_KEY, RedisSettings, Settings


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.json() == {"status": "ok"}


async def test_ready_reports_database_and_redis(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


async def test_openapi_lists_the_network_routes(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path in ("/api/v1/companies", "/api/v1/companies/{company_id}/qr", "/api/v1/jobs/{job_id}"):
        assert path in paths


async def test_ready_is_503_when_redis_is_unreachable(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis": RedisSettings(url="redis://127.0.0.1:1/0")})
    app = create_app(broken)
    app.state.redis = Redis.from_url(broken.redis.url, socket_connect_timeout=0.5)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/ready")
    await app.state.redis.aclose()
    await app.state.engine.dispose()
    assert response.status_code == 503
    assert response.json()["database"] == "ok"
    assert response.json()["redis"].startswith("error")


@pytest.mark.parametrize("env", ["production", "test"])
def test_default_secret_key_is_refused_outside_development(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    monkeypatch.delenv("SAUDA_AUTH__SECRET_KEY")
    monkeypatch.setenv("SAUDA_ENV", env)
    with pytest.raises(ValidationError, match="SAUDA_AUTH__SECRET_KEY"):
        Settings()


def test_default_secret_key_is_fine_in_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAUDA_AUTH__SECRET_KEY")
    monkeypatch.setenv("SAUDA_ENV", "development")
    assert Settings().auth.secret_key.get_secret_value() == DEFAULT_SECRET_KEY


def test_nested_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAUDA_SMTP__PORT", "2525")
    monkeypatch.setenv("SAUDA_NETWORK__CLEAR_DEBT_INLINE_LIMIT", "5")
    settings = Settings()
    assert (settings.smtp.port, settings.network.clear_debt_inline_limit) == (2525, 5)


async def test_unknown_route_uses_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not Found"}
