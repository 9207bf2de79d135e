"""What each pytest-xdist worker gets of its own, so workers never see each other's rows, keys,
queue or rate limits."""

from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url


def worker_environment(*, database: str, redis: str, worker: str | None) -> dict[str, str]:
    """The settings of xdist worker `worker` (gw0, gw1, ...): the PostgreSQL database
    `<database>_gwN` and the Redis database number `<redis> - N`; without xdist the base ones."""
    if not worker:
        return {"SAUDA_DATABASE__URL": database, "SAUDA_REDIS__URL": redis}
    index = int(worker.removeprefix("gw"))
    parts = urlsplit(redis)
    number = int(parts.path.strip("/") or 0) - index
    if number < 1:  # database 0 is development's
        raise RuntimeError(
            f"worker {worker} has no Redis database of its own below {redis}: give "
            "SAUDA_TEST_REDIS_URL a higher database number, or run fewer workers (-n)"
        )
    url = make_url(database)
    return {
        "SAUDA_DATABASE__URL": url.set(database=f"{url.database}_{worker}").render_as_string(False),
        "SAUDA_REDIS__URL": urlunsplit(parts._replace(path=f"/{number}")),
    }
