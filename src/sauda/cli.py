"""The `sauda` command."""

import asyncio
import getpass
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import asyncpg
import typer
import uvicorn
from sqlalchemy.engine import make_url

from sauda.config import Settings, get_settings

app = typer.Typer(help="Sauda: back office for merchants.", no_args_is_help=True)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEMO_ADMIN_EMAIL = "admin@sauda.demo"
DEMO_ADMIN_PASSWORD = "sauda-demo-2026"


def alembic_config(database_url: str | None = None) -> "object":
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["configure_logger"] = False
    if database_url:
        config.attributes["database_url"] = database_url
    return config


async def ensure_database(url: str) -> bool:
    """Create the database named in `url` if it does not exist. Returns True when created."""
    target = make_url(url)
    name = target.database or "sauda"
    server = target.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(server.render_as_string(hide_password=False))
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        await conn.execute(f'CREATE DATABASE "{name}"')
        return True
    finally:
        await conn.close()


def run_migrations(settings: Settings, revision: str = "head") -> None:
    from alembic import command

    if asyncio.run(ensure_database(settings.database.url)):
        typer.echo(f"created database {make_url(settings.database.url).database}")
    command.upgrade(alembic_config(settings.database.url), revision)  # type: ignore[arg-type]


@app.command()
def migrate(revision: str = "head") -> None:
    """Create the database if needed and apply migrations."""
    run_migrations(get_settings(), revision)
    typer.echo("migrations applied")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: int = 1,
) -> None:
    """Run the API (production: no reload, several processes)."""
    settings = get_settings()
    uvicorn.run(
        "sauda.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        proxy_headers=True,
        log_level=settings.log_level.lower(),
    )


@app.command()
def worker() -> None:
    """Run the background worker (debt schedules, clear-debt, emails)."""
    import logging

    from sauda.worker import create_worker

    logging.basicConfig(
        level=get_settings().log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    create_worker().run()


async def _create_admin(settings: Settings, email: str, password: str, full_name: str) -> None:
    from sauda.auth.service import create_admin as create_admin_user
    from sauda.db import create_engine, create_sessionmaker, transaction

    engine = create_engine(settings)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await create_admin_user(session, email=email, password=password, full_name=full_name)
    finally:
        await engine.dispose()


@app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(prompt=True)],
    password: Annotated[str | None, typer.Option(help="prompted for when omitted")] = None,
    full_name: str = "",
) -> None:
    """Create an administrator (admin panel and every company)."""
    from sauda.errors import SaudaError
    from sauda.security import password_problem

    settings = get_settings()
    password = password or getpass.getpass("Password: ")
    if problem := password_problem(password, min_length=settings.auth.min_password_length, email=email):
        raise typer.BadParameter(f"password {problem}", param_hint="--password")
    try:
        asyncio.run(_create_admin(settings, email, password, full_name))
    except SaudaError as exc:
        raise typer.BadParameter(exc.message, param_hint="--email") from exc
    typer.echo(f"admin {email} created")


async def _rebuild_rollups(settings: Settings, company_id: int | None) -> list[int]:
    from sqlalchemy import select

    from sauda.db import create_engine, create_sessionmaker, transaction
    from sauda.network.models import Company
    from sauda.sales.rollups import RollupRepository

    engine = create_engine(settings)
    try:
        maker = create_sessionmaker(engine)
        async with maker() as session:
            stmt = select(Company.id).order_by(Company.id)
            ids = [company_id] if company_id else list(await session.scalars(stmt))
        for one in ids:  # a transaction per company: each holds only its own company meanwhile
            async with transaction(maker) as session:
                await RollupRepository(session, settings.tz).rebuild(one)
        return ids
    finally:
        await engine.dispose()


@app.command("rebuild-rollups")
def rebuild_rollups(
    company: Annotated[int | None, typer.Option(min=1, help="one company; all when omitted")] = None,
) -> None:
    """Recompute the sales rollups from the receipts (after changing SAUDA_TIMEZONE, or to repair)."""
    ids = asyncio.run(_rebuild_rollups(get_settings(), company))
    typer.echo(f"rollups rebuilt for {len(ids)} companies")


@app.command("seed-demo")
def seed_demo(
    companies: Annotated[int, typer.Option(min=1, help="how many companies")] = 60,
    seed: Annotated[int | None, typer.Option(help="random seed for repeatable data")] = None,
) -> None:
    """Fill the database with a realistic supplier network (ru/kk data), employees and products."""
    from sauda.network.demo import seed_network

    summary = asyncio.run(seed_network(get_settings(), companies=companies, seed=seed))
    typer.echo(summary)


@app.command("kaspi-sandbox")
def kaspi_sandbox(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8300,
    offers: Annotated[int, typer.Option(min=0, help="offers of the demo merchant")] = 150,
    code: Annotated[str | None, typer.Option(help="answer every login code with this one")] = None,
) -> None:
    """A local Kaspi.kz (cabinet, login, storefront) to try Sauda without a Kaspi account."""
    from sauda.sandboxes.kaspi import SandboxState, create_sandbox, demo_seed

    state = SandboxState(demo_seed(offers=offers, archived=offers // 5))
    state.fixed_code = code
    base = f"http://{host}:{port}"
    typer.echo(
        f"Kaspi sandbox on {base} (control: {base}/docs)\n"
        f"  SAUDA_KASPI__AUTH_URL={base}/idmc\n"
        f"  SAUDA_KASPI__CABINET_URL={base}/mc\n"
        f"  SAUDA_KASPI__STOREFRONT_URL={base}/shop\n"
        f"  merchant: merchant@sandbox.kaspi / sandbox-pass-1, phone +7 701 234 56 78"
    )
    uvicorn.run(create_sandbox(state), host=host, port=port, log_level="info")


def _banner(settings: Settings, host: str, port: int, demo: bool) -> str:
    base = f"http://{host}:{port}"
    lines = [
        "",
        "Sauda is starting (API with reload + worker).",
        f"  API docs:     {base}/docs   (ReDoc: {base}/redoc)",
        f"  Admin panel:  {base}/admin",
        f"  Health:       {base}/health, {base}/ready",
    ]
    if demo:
        lines.append(f"  Demo admin:   {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD}")
    else:
        lines.append("  First admin:  uv run sauda create-admin --email you@example.com")
        lines.append("  Demo data:    uv run sauda dev --demo")
    return "\n".join(lines) + "\n"


@app.command()
def dev(
    demo: Annotated[bool, typer.Option(help="load demo data and a demo admin")] = False,
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Development: create the database, migrate, then run the API (reload) and the worker."""
    settings = get_settings()
    run_migrations(settings)
    if demo:
        from sauda.network.demo import ensure_demo

        typer.echo(asyncio.run(ensure_demo(settings, DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD)))
    host, port = host or settings.host, port or settings.port
    typer.echo(_banner(settings, host, port, demo))
    worker_process = subprocess.Popen([sys.executable, "-m", "sauda", "worker"])
    try:
        uvicorn.run(
            "sauda.app:create_app",
            factory=True,
            host=host,
            port=port,
            reload=True,
            reload_dirs=[str(PROJECT_ROOT / "src")],
        )
    finally:
        worker_process.terminate()
        worker_process.wait(timeout=15)


if __name__ == "__main__":
    app()
